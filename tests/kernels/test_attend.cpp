// attend_rows (fused decode attention) of every kernel set against a double-precision softmax
// computed here from the decoded rows: every KV storage type, row counts 1..17 (every lane packing,
// keys in lanes for half-precision keys, and the fallback beyond one vector), head sizes the SIMD
// paths cover or not, key counts with remainders of the 8-key loop and of a block, and the state
// carried between two calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernel_test_util.h"

namespace kvpress {
namespace {

using kernels::KernelSet;
using kernels::MatrixView;

struct Rows {
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;  // [n, d] as stored (what attention must see)
  MatrixView view;
};

Rows random_rows(GgmlType type, int64_t n, int64_t d, std::mt19937& rng, float scale) {
  Rows rows;
  const int64_t rb = row_bytes(type, d);
  rows.bytes.resize((size_t)(n * rb));
  rows.decoded.resize((size_t)(n * d));
  for (int64_t j = 0; j < n; ++j) {
    const auto x = testing::random_floats(d, rng, scale);
    kernels::quantize_row(type, x.data(), rows.bytes.data() + j * rb, d);
    kernels::reference_kernels().dequantize_row(type, rows.bytes.data() + j * rb, &rows.decoded[j * d], d);
  }
  rows.view = MatrixView{type, rows.bytes.data(), n, d, rb};
  return rows;
}

// Every kernel set against the double softmax over n keys of key type tk and value type tv.
void expect_matches_double_softmax(GgmlType tk, GgmlType tv, int64_t d, int64_t m, int64_t n, std::mt19937& rng) {
  // Scores of a few units, as scaled attention logits are, so the softmax is not flat.
  const auto q = testing::random_floats(m * d, rng, 1.5f / std::sqrt((float)d));
  const Rows keys = random_rows(tk, n, d, rng, 1.0f);
  const Rows values = random_rows(tv, n, d, rng, 1.0f);
  // The double reference: softmax over all n keys.
  std::vector<double> want((size_t)(m * d), 0.0), want_max((size_t)m), want_sum((size_t)m, 0.0);
  for (int64_t r = 0; r < m; ++r) {
    std::vector<double> s((size_t)n);
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += (double)q[r * d + i] * keys.decoded[j * d + i];
      s[j] = dot;
    }
    want_max[r] = *std::max_element(s.begin(), s.end());
    for (int64_t j = 0; j < n; ++j) {
      const double p = std::exp(s[j] - want_max[r]);
      want_sum[r] += p;
      for (int64_t i = 0; i < d; ++i) want[r * d + i] += p * values.decoded[j * d + i];
    }
  }
  const int64_t ld = d + 5, split = n / 3;  // two calls: the state must carry over
  for (const KernelSet* ks : kernels::available_kernel_sets()) {
    std::vector<float> acc((size_t)(m * ld), 0.0f), mx((size_t)m, -std::numeric_limits<float>::infinity()),
        sum((size_t)m, 0.0f);
    for (int64_t r = 0; r < m; ++r) std::fill(&acc[r * ld + d], &acc[r * ld + ld], -3.0f);
    if (split > 0) ks->attend_rows(q.data(), m, keys.view, values.view, 0, split, acc.data(), ld, mx.data(), sum.data());
    ks->attend_rows(q.data(), m, keys.view, values.view, split, n - split, acc.data(), ld, mx.data(), sum.data());
    for (int64_t r = 0; r < m; ++r) {
      const auto where = [&] {
        return ::testing::Message() << ks->name << " keys=" << ggml_type_name(tk) << " values=" << ggml_type_name(tv)
                                    << " d=" << d << " m=" << m << " n=" << n << " r=" << r;
      };
      ASSERT_NEAR(mx[r], want_max[r], 1e-5 * (1 + std::abs(want_max[r]))) << where();
      ASSERT_NEAR(sum[r], want_sum[r], 1e-5 * want_sum[r]) << where();
      for (int64_t i = 0; i < d; ++i)
        ASSERT_NEAR(acc[r * ld + i] / sum[r], want[r * d + i] / want_sum[r], 2e-5) << where() << " i=" << i;
      for (int64_t i = d; i < ld; ++i) ASSERT_EQ(acc[r * ld + i], -3.0f) << where() << " wrote past d";
    }
  }
}

TEST(AttendRows, EveryTypeAndShapeMatchesDoubleSoftmax) {
  std::mt19937 rng(17);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0})
    for (int64_t d : {64, 128, 32, 96, 256})
      for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17})
        for (int64_t n : {1, 9, 40, 100}) {
          expect_matches_double_softmax(type, type, d, m, n, rng);
          if (HasFatalFailure()) return;
        }
}

// Half-precision keys (read with keys in lanes by the AVX-512 set, in blocks of 16) next to values of
// every type, as --kv-type-k / --kv-type-v combine them; key counts around the block of 16.
TEST(AttendRows, HalfKeysWithEveryValueType) {
  std::mt19937 rng(23);
  for (GgmlType tk : {GgmlType::F16, GgmlType::BF16})
    for (GgmlType tv : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0})
      for (int64_t m : {1, 4, 7, 8})
        for (int64_t n : {15, 16, 17, 48, 50}) {
          expect_matches_double_softmax(tk, tv, 64, m, n, rng);
          if (HasFatalFailure()) return;
        }
}

// A first key far below the later maxima: its weight must vanish through the rescaling, not NaN.
TEST(AttendRows, RescalesWhenTheMaximumJumps) {
  const int64_t d = 64, n = 50, m = 7;
  std::mt19937 rng(5);
  const Rows values = random_rows(GgmlType::F16, n, d, rng, 1.0f);
  std::vector<float> k((size_t)(n * d), 0.0f), q((size_t)(m * d), 0.0f);
  for (int64_t j = 0; j < n; ++j) k[j * d] = j < 40 ? -100.0f : 100.0f;  // scores jump by 2e4 at key 40
  for (int64_t r = 0; r < m; ++r) q[r * d] = 1.0f;
  std::vector<uint8_t> k16((size_t)(n * d * 2));  // the same keys in f16 (exact: +-100 and 0)
  for (int64_t j = 0; j < n; ++j) kernels::quantize_row(GgmlType::F16, &k[j * d], k16.data() + j * d * 2, d);
  for (const MatrixView keys : {MatrixView{GgmlType::F32, reinterpret_cast<const uint8_t*>(k.data()), n, d, d * 4},
                                MatrixView{GgmlType::F16, k16.data(), n, d, d * 2}}) {
    for (const KernelSet* ks : kernels::available_kernel_sets()) {
      std::vector<float> acc((size_t)(m * d), 0.0f), mx((size_t)m, -std::numeric_limits<float>::infinity()),
          sum((size_t)m, 0.0f);
      ks->attend_rows(q.data(), m, keys, values.view, 0, n, acc.data(), d, mx.data(), sum.data());
      for (int64_t r = 0; r < m; ++r) {
        ASSERT_FLOAT_EQ(mx[r], 100.0f) << ks->name << " " << ggml_type_name(keys.type);
        ASSERT_NEAR(sum[r], 10.0f, 1e-5) << ks->name;  // the ten keys at the max, the rest exp(-2e4) = 0
        for (int64_t i = 0; i < d; ++i) {
          double want = 0;
          for (int64_t j = 40; j < n; ++j) want += values.decoded[j * d + i] / 10.0;
          ASSERT_NEAR(acc[r * d + i] / sum[r], want, 1e-5) << ks->name << " i=" << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kvpress
