// The int8 path (kernels.h): activations rounded to int8 blocks, and integer dot products of every
// block-quantized type with them, for every kernel set, against the formulas written out here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernel_test_util.h"
#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

using kernels::KernelSet;
using kernels::kQ8Block;
using kernels::Q8Activations;

struct Q8Buffer {
  std::vector<int8_t> qs;
  std::vector<float> d, ds16;
  explicit Q8Buffer(int64_t n) : qs((size_t)n), d((size_t)(n / kQ8Block)), ds16((size_t)(n / 16)) {}
  Q8Activations view() const { return {qs.data(), d.data(), ds16.data()}; }
};

Q8Buffer quantize(const KernelSet& ks, const std::vector<float>& x) {
  Q8Buffer q((int64_t)x.size());
  ks.quantize_activations(x.data(), (int64_t)x.size(), q.qs.data(), q.d.data(), q.ds16.data());
  return q;
}

// The activations d * q that the int8 path multiplies with.
std::vector<float> rounded_values(const Q8Buffer& q) {
  std::vector<float> v(q.qs.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = q.d[i / kQ8Block] * (float)q.qs[i];
  return v;
}

std::vector<GgmlType> int8_types() {
  std::vector<GgmlType> types;
  for (GgmlType t : testing::all_weight_types())
    if (kernels::has_int8_dot(t)) types.push_back(t);
  return types;
}

TEST(Int8Dot, TypesWithAnInt8Dot) {
  for (GgmlType t : testing::all_weight_types()) {
    const bool float_type = t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
    EXPECT_EQ(kernels::has_int8_dot(t), !float_type) << ggml_type_name(t);
  }
}

TEST(Int8Dot, QuantizeActivationsFollowsTheFormula) {
  std::mt19937 rng(3);
  for (int64_t n : {32, 32 * 7, 4864}) {
    auto x = testing::random_floats(n, rng, 3.0f);
    std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero block: d = 0, every q = 0
    x[40] = 1e30f;                               // a huge value next to ordinary ones
    const Q8Buffer want = quantize(kernels::reference_kernels(), x);
    for (int64_t b = 0; b < n / kQ8Block; ++b) {
      float amax = 0;
      for (int64_t i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(x[(size_t)(b * kQ8Block + i)]));
      ASSERT_EQ(want.d[(size_t)b], amax / 127.0f) << b;
      for (int64_t h = 0; h < 2; ++h) {
        int sum = 0;
        for (int64_t i = b * kQ8Block + 16 * h; i < b * kQ8Block + 16 * h + 16; ++i) {
          const int q = want.qs[(size_t)i];
          sum += q;
          ASSERT_LE(std::abs(q), 127);
          if (amax == 0) {
            ASSERT_EQ(q, 0);
          } else {
            // Nearest: within half a step of x (a tie may round either way after the 1/d product).
            const double step = want.d[(size_t)b];
            ASSERT_LE(std::fabs((double)x[(size_t)i] - step * q), 0.5 * step * (1 + 1e-5)) << i;
          }
        }
        ASSERT_FLOAT_EQ(want.ds16[(size_t)(2 * b + h)], want.d[(size_t)b] * (float)sum);
      }
    }
    for (const KernelSet* ks : kernels::available_kernel_sets()) {
      const Q8Buffer got = quantize(*ks, x);
      EXPECT_EQ(got.qs, want.qs) << ks->name << " n=" << n;
      EXPECT_EQ(got.d, want.d) << ks->name;
      EXPECT_EQ(got.ds16, want.ds16) << ks->name;
    }
  }
}

void check_dot(GgmlType type, const std::vector<uint8_t>& row, int64_t n, std::mt19937& rng) {
  const auto x = testing::random_floats(n, rng);
  const Q8Buffer q = quantize(kernels::reference_kernels(), x);
  const auto w = testing::dequantize_ref(type, row.data(), n);
  const auto xr = rounded_values(q);
  const auto want = testing::dot_reference(w.data(), xr.data(), n);
  // The offset and min terms are summed separately: allow for their rounding as well.
  double offsets = 0;
  for (int64_t i = 0; i < n; ++i) offsets += std::fabs((double)w[(size_t)i]) * std::fabs((double)xr[(size_t)i]);
  const double tolerance = want.tolerance + 1e-6 * offsets;
  for (const KernelSet* ks : kernels::available_kernel_sets()) {
    const float got = ks->dot_row_q8(type, row.data(), q.view(), n);
    EXPECT_NEAR(got, want.value, tolerance) << ks->name << " n=" << n;
  }
  // Against the exact f32 product: each activation moved by at most half its block's step.
  const auto exact = testing::dot_reference(w.data(), x.data(), n);
  double bound = exact.tolerance + tolerance;
  for (int64_t i = 0; i < n; ++i) bound += std::fabs((double)w[(size_t)i]) * 0.5 * q.d[(size_t)(i / kQ8Block)];
  EXPECT_NEAR(kernels::active_kernels().dot_row_q8(type, row.data(), q.view(), n), exact.value, bound);
}

TEST(Int8Dot, EveryTypeEverySetMatchesTheRoundedActivationsProduct) {
  std::mt19937 rng(11);
  for (GgmlType type : int8_types()) {
    SCOPED_TRACE(ggml_type_name(type));
    std::vector<int64_t> lengths = {256, 256 * 3, 256 * 19};
    if (!testing::is_k_quant(type)) lengths.insert(lengths.end(), {32, 32 * 17});
    for (int64_t n : lengths) check_dot(type, testing::random_row(type, n, rng), n, rng);
  }
}

TEST(Int8Dot, RawBitRowsEveryCodeAndScale) {
  // Random bits in every field: every code (Q8_0's -128 included), every scale and min.
  std::mt19937 rng(5);
  for (GgmlType type : int8_types()) {
    SCOPED_TRACE(ggml_type_name(type));
    for (int rep = 0; rep < 4; ++rep) check_dot(type, testing::random_bits_row(type, 256 * 4, rng), 256 * 4, rng);
  }
}

TEST(Int8Gemm, DecodeS8GivesTheCodesOfTheFormula) {
  std::mt19937 rng(2);
  for (GgmlType type : int8_types()) {
    if (!kernels::has_int8_gemm(type)) continue;
    SCOPED_TRACE(ggml_type_name(type));
    const int64_t n = 32 * 9;
    for (const auto& row : {testing::random_row(type, n, rng), testing::random_bits_row(type, n, rng)}) {
      const auto w = testing::dequantize_ref(type, row.data(), n);
      for (const KernelSet* ks : kernels::available_kernel_sets()) {
        std::vector<int8_t> codes((size_t)n);
        std::vector<float> d((size_t)(n / 32));
        std::vector<int32_t> sum((size_t)(n / 32));
        ks->decode_s8(type, row.data(), n, codes.data(), d.data(), sum.data());
        for (int64_t b = 0; b < n / 32; ++b) {
          int32_t s = 0;
          for (int64_t i = 32 * b; i < 32 * b + 32; ++i) {
            ASSERT_EQ(d[(size_t)b] * (float)codes[(size_t)i], w[(size_t)i]) << ks->name << " element " << i;
            s += codes[(size_t)i];
          }
          ASSERT_EQ(sum[(size_t)b], s) << ks->name;
        }
      }
    }
  }
}

// Packs int8 tokens as KernelSet::gemm_q8 documents: byte ((i / 4) * ldb + t) * 4 + i % 4 = x_t[i] + 128.
struct PackedTokens {
  std::vector<uint8_t> xp;
  std::vector<float> xd;
  int64_t ldb;
};

PackedTokens pack(const std::vector<Q8Buffer>& tokens, int64_t k) {
  PackedTokens p;
  p.ldb = ((int64_t)tokens.size() + 15) / 16 * 16;
  p.xp.assign((size_t)(k * p.ldb), 128);
  p.xd.assign((size_t)(k / 32 * p.ldb), 0.0f);
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int64_t i = 0; i < k; ++i) p.xp[(size_t)(((i / 4) * p.ldb + (int64_t)t) * 4 + i % 4)] = (uint8_t)(tokens[t].qs[(size_t)i] + 128);
    for (int64_t b = 0; b < k / 32; ++b) p.xd[(size_t)(b * p.ldb + (int64_t)t)] = tokens[t].d[(size_t)b];
  }
  return p;
}

TEST(Int8Gemm, TilesMatchTheFormulaForOddShapes) {
  std::mt19937 rng(4);
  for (int64_t m : {1, 3, 4, 9}) {
    for (int64_t n_tok : {1, 16, 17, 40}) {
      for (int64_t k : {32, 96}) {
        SCOPED_TRACE(::testing::Message() << "m=" << m << " n_tok=" << n_tok << " k=" << k);
        std::uniform_int_distribution<int> code(-128, 127);
        std::vector<int8_t> w((size_t)(m * k));
        for (auto& v : w) v = (int8_t)code(rng);
        std::vector<float> wd((size_t)(m * k / 32));
        std::vector<int32_t> wsum((size_t)(m * k / 32), 0);
        for (size_t b = 0; b < wd.size(); ++b) {
          wd[b] = std::uniform_real_distribution<float>(0.001f, 0.1f)(rng);
          for (int64_t i = 0; i < 32; ++i) wsum[b] += w[b * 32 + (size_t)i];
        }
        std::vector<Q8Buffer> tokens;
        for (int64_t t = 0; t < n_tok; ++t) tokens.push_back(quantize(kernels::reference_kernels(), testing::random_floats(k, rng)));
        const PackedTokens p = pack(tokens, k);
        const auto prior = testing::random_floats(m * p.ldb, rng);
        for (const bool accumulate : {false, true}) {
          for (const KernelSet* ks : kernels::available_kernel_sets()) {
            if (!ks->gemm_q8) continue;
            std::vector<float> c = prior;
            ks->gemm_q8(w.data(), k, wd.data(), wsum.data(), k / 32, m, p.xp.data(), p.xd.data(), p.ldb, n_tok, c.data(),
                        p.ldb, k, accumulate);
            for (int64_t r = 0; r < m; ++r)
              for (int64_t t = 0; t < n_tok; ++t) {
                double want = accumulate ? prior[(size_t)(r * p.ldb + t)] : 0.0, mag = std::fabs(want);
                for (int64_t i = 0; i < k; ++i) {
                  const double term = (double)wd[(size_t)(r * k / 32 + i / 32)] * w[(size_t)(r * k + i)] *
                                      tokens[(size_t)t].d[(size_t)(i / 32)] * tokens[(size_t)t].qs[(size_t)i];
                  want += term;
                  mag += std::fabs(term);
                }
                ASSERT_NEAR(c[(size_t)(r * p.ldb + t)], want, 1e-5 * mag + 1e-30) << ks->name << " r=" << r << " t=" << t;
              }
          }
        }
      }
    }
  }
}

TEST(Int8Dot, MatmulTakesTheInt8PathWhereItExists) {
  std::mt19937 rng(8);
  ThreadPool pool(2);
  const int64_t n_rows = 37, n_cols = 512;  // rows not a multiple of any grain
  for (GgmlType type : int8_types()) {
    SCOPED_TRACE(ggml_type_name(type));
    const int64_t rb = row_bytes(type, n_cols);
    std::vector<uint8_t> m((size_t)(rb * n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto row = testing::random_row(type, n_cols, rng);
      std::copy(row.begin(), row.end(), m.begin() + r * rb);
    }
    kernels::MatrixView view{type, m.data(), n_rows, n_cols, rb};
    view.int8_activations = true;
    for (int64_t n_tokens : {1, 2, 3, 5, 20}) {
      SCOPED_TRACE(n_tokens);
      const auto x = testing::random_floats(n_cols * n_tokens, rng);
      for (const KernelSet* ks : kernels::available_kernel_sets()) {
        std::vector<float> y((size_t)(n_rows * n_tokens));
        kernels::matmul_with(*ks, view, x.data(), n_tokens, n_cols, y.data(), n_rows, pool);
        for (int64_t t = 0; t < n_tokens; ++t) {
          const std::vector<float> xt(x.begin() + t * n_cols, x.begin() + (t + 1) * n_cols);
          const Q8Buffer q = quantize(kernels::reference_kernels(), xt);
          for (int64_t r = 0; r < n_rows; ++r) {
            const auto w = testing::dequantize_ref(type, view.row(r), n_cols);
            // Four or more tokens take the f32 tiles (the exact product) unless the type and the set
            // have int8 tiles.
            const bool int8 = n_tokens < 4 || (kernels::has_int8_gemm(type) && ks->gemm_q8);
            const auto xr = int8 ? rounded_values(q) : xt;
            const auto want = testing::dot_reference(w.data(), xr.data(), n_cols);
            double offsets = 0;
            for (int64_t i = 0; i < n_cols; ++i) offsets += std::fabs((double)w[(size_t)i] * xr[(size_t)i]);
            ASSERT_NEAR(y[(size_t)(t * n_rows + r)], want.value, want.tolerance + 1e-6 * offsets)
                << ks->name << " row " << r << " token " << t;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvpress
