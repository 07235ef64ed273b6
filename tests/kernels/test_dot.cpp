// dot_row, dot_f32 and axpy_f32 of every kernel set against double-precision references.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace kvpress {
namespace {

using kernels::KernelSet;

TEST(Kernels, ReferenceIsListedFirstAndActiveIsAvailable) {
  const auto sets = kernels::available_kernel_sets();
  ASSERT_FALSE(sets.empty());
  EXPECT_EQ(sets.front(), &kernels::reference_kernels());
  bool found = false;
  for (const KernelSet* ks : sets) found |= ks == &kernels::active_kernels();
  EXPECT_TRUE(found);
  EXPECT_EQ(&kernels::active_kernels(), sets.back());
}

TEST(DotRow, EveryTypeEverySetMatchesDoubleReference) {
  std::mt19937 rng(42);
  for (GgmlType type : testing::all_weight_types()) {
    SCOPED_TRACE(ggml_type_name(type));
    const bool float_type = traits_of(type).block_size == 1;
    // Lengths: one block, several blocks (odd count, so the two-block loop has a remainder), and a
    // long row; float types add lengths with vector tails.
    std::vector<int64_t> lengths = {256, 256 * 3, 256 * 19};
    if (!testing::is_k_quant(type)) lengths.push_back(32 * 17);
    if (float_type) lengths.insert(lengths.end(), {1, 7, 100, 263});
    for (int64_t n : lengths) {
      SCOPED_TRACE(n);
      const auto row = testing::random_row(type, n, rng);
      const auto x = testing::random_floats(n, rng);
      const auto w = testing::dequantize_ref(type, row.data(), n);
      const auto want = testing::dot_reference(w.data(), x.data(), n);
      for (const KernelSet* ks : kernels::available_kernel_sets()) {
        const float got = ks->dot_row(type, row.data(), x.data(), n);
        EXPECT_NEAR(got, want.value, want.tolerance) << ks->name;
      }
    }
  }
}

TEST(DotRow, RawBitRowsWithExtremeScales) {
  // Random bits in every field (scales anywhere in the f16 range) still give exact-value sums.
  // Quantized types only: random float bit patterns would overflow any f32 sum.
  std::mt19937 rng(5);
  for (GgmlType type : testing::all_weight_types()) {
    if (traits_of(type).block_size == 1) continue;
    SCOPED_TRACE(ggml_type_name(type));
    const int64_t n = 256 * 4;
    const auto row = testing::random_bits_row(type, n, rng);
    const auto x = testing::random_floats(n, rng);
    const auto w = testing::dequantize_ref(type, row.data(), n);
    const auto want = testing::dot_reference(w.data(), x.data(), n);
    for (const KernelSet* ks : kernels::available_kernel_sets())
      EXPECT_NEAR(ks->dot_row(type, row.data(), x.data(), n), want.value, want.tolerance) << ks->name;
  }
}

TEST(DotF32, MatchesDoubleReference) {
  std::mt19937 rng(3);
  for (int64_t n : {0, 1, 7, 8, 16, 33, 64, 100, 1000, 4864}) {
    const auto a = testing::random_floats(n, rng);
    const auto b = testing::random_floats(n, rng);
    const auto want = testing::dot_reference(a.data(), b.data(), n);
    for (const KernelSet* ks : kernels::available_kernel_sets())
      EXPECT_NEAR(ks->dot_f32(a.data(), b.data(), n), want.value, want.tolerance) << ks->name << " n=" << n;
  }
}

TEST(AxpyF32, MatchesDoubleReference) {
  std::mt19937 rng(8);
  for (int64_t n : {0, 1, 7, 8, 16, 33, 100, 1000}) {
    const auto x = testing::random_floats(n, rng);
    const auto y0 = testing::random_floats(n, rng);
    const float a = -1.75f;
    for (const KernelSet* ks : kernels::available_kernel_sets()) {
      auto y = y0;
      ks->axpy_f32(a, x.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = (double)y0[i] + (double)a * x[i];
        // One or two roundings of the result (FMA or multiply-then-add).
        ASSERT_NEAR(y[i], want, 2.5e-7 * (std::fabs(y0[i]) + std::fabs(a * x[i])) + 1e-30)
            << ks->name << " n=" << n << " i=" << i;
      }
    }
  }
}

// Decode attention scores: every query count 1..17 (every lane packing, and rows beyond one vector),
// head sizes that divide every packing, only some (40, 24) or none (7), key counts with remainders
// of the four-key loop, and an output stride wider than the keys.
TEST(DotRowsF32, EveryShapeMatchesDoubleReference) {
  std::mt19937 rng(11);
  for (int64_t d : {64, 128, 256, 40, 24, 7, 300})
    for (int64_t m = 1; m <= 17; ++m)
      for (int64_t n : {1, 5, 128}) {
        const auto q = testing::random_floats(m * d, rng);
        const auto k = testing::random_floats(n * d, rng);
        const int64_t ldo = n + 3;
        for (const KernelSet* ks : kernels::available_kernel_sets()) {
          std::vector<float> out((size_t)(m * ldo), -7.0f);
          ks->dot_rows_f32(q.data(), m, k.data(), n, d, out.data(), ldo);
          for (int64_t r = 0; r < m; ++r) {
            for (int64_t j = 0; j < n; ++j) {
              const auto want = testing::dot_reference(&q[r * d], &k[j * d], d);
              ASSERT_NEAR(out[r * ldo + j], want.value, want.tolerance)
                  << ks->name << " d=" << d << " m=" << m << " n=" << n << " r=" << r << " j=" << j;
            }
            for (int64_t j = n; j < ldo; ++j) ASSERT_EQ(out[r * ldo + j], -7.0f) << "wrote past n";
          }
        }
      }
}

}  // namespace
}  // namespace kvpress
