// matmul_with of every kernel set against a naive double loop, over token counts that take the
// decode, few-token and tiled prefill paths, column counts with partial K chunks, row counts that
// are not multiples of any row blocking, strided inputs and outputs, and 1 or 2 threads.
#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "kernels/kernels.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

using kernels::KernelSet;
using kernels::MatrixView;

struct Case {
  int64_t n_rows, n_cols, n_tokens;
};

void check_matmul(GgmlType type, const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(::testing::Message() << ggml_type_name(type) << " rows=" << c.n_rows << " cols=" << c.n_cols
                                    << " tokens=" << c.n_tokens);
  const int64_t rb = row_bytes(type, c.n_cols);
  std::vector<uint8_t> weights((size_t)(rb * c.n_rows));
  std::vector<float> w_deq((size_t)(c.n_cols * c.n_rows));
  for (int64_t r = 0; r < c.n_rows; ++r) {
    const auto row = testing::random_row(type, c.n_cols, rng);
    std::copy(row.begin(), row.end(), weights.begin() + r * rb);
    const auto deq = testing::dequantize_ref(type, row.data(), c.n_cols);
    std::copy(deq.begin(), deq.end(), w_deq.begin() + r * c.n_cols);
  }
  // Strides wider than the data, so that a kernel mixing up stride and length fails.
  const int64_t x_stride = c.n_cols + 5;
  const int64_t y_stride = c.n_rows + 3;
  const auto x = testing::random_floats(x_stride * c.n_tokens, rng);
  std::vector<testing::DotReference> want((size_t)(c.n_rows * c.n_tokens));
  for (int64_t t = 0; t < c.n_tokens; ++t)
    for (int64_t r = 0; r < c.n_rows; ++r)
      want[t * c.n_rows + r] = testing::dot_reference(&w_deq[r * c.n_cols], &x[t * x_stride], c.n_cols);

  const MatrixView view{type, weights.data(), c.n_rows, c.n_cols, rb};
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (const KernelSet* ks : kernels::available_kernel_sets()) {
      const float kSentinel = 12345.0f;
      std::vector<float> y((size_t)(y_stride * c.n_tokens), kSentinel);
      kernels::matmul_with(*ks, view, x.data(), c.n_tokens, x_stride, y.data(), y_stride, pool);
      for (int64_t t = 0; t < c.n_tokens; ++t) {
        for (int64_t r = 0; r < c.n_rows; ++r) {
          const auto& w = want[t * c.n_rows + r];
          ASSERT_NEAR(y[t * y_stride + r], w.value, w.tolerance)
              << ks->name << " threads=" << threads << " t=" << t << " r=" << r;
        }
        for (int64_t r = c.n_rows; r < y_stride; ++r)
          ASSERT_EQ(y[t * y_stride + r], kSentinel) << "write past the row count, " << ks->name;
      }
    }
  }
}

TEST(Matmul, EveryTypeEverySetMatchesNaiveLoop) {
  std::mt19937 rng(2024);
  for (GgmlType type : testing::all_weight_types()) {
    const std::vector<int64_t> cols = testing::is_k_quant(type) ? std::vector<int64_t>{256, 512 + 256}
                                                                : std::vector<int64_t>{256, 512 + 32};
    for (int64_t n_cols : cols)
      for (int64_t n_tokens : {1, 3, 5, 17, 40, 64}) check_matmul(type, {37, n_cols, n_tokens}, rng);
  }
}

TEST(Matmul, SmallAndOddRowCounts) {
  std::mt19937 rng(11);
  for (GgmlType type : {GgmlType::F32, GgmlType::Q4_K, GgmlType::Q8_0})
    for (int64_t rows : {1, 5, 24, 25, 49})
      for (int64_t tokens : {1, 2, 16, 33}) check_matmul(type, {rows, 256, tokens}, rng);
}

TEST(Matmul, ActiveEntryPointUsesActiveSet) {
  std::mt19937 rng(1);
  const int64_t rows = 20, cols = 256, tokens = 9;
  std::vector<uint8_t> w((size_t)(row_bytes(GgmlType::Q6_K, cols) * rows));
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = testing::random_row(GgmlType::Q6_K, cols, rng);
    std::copy(row.begin(), row.end(), w.begin() + r * row.size());
  }
  const MatrixView view{GgmlType::Q6_K, w.data(), rows, cols, row_bytes(GgmlType::Q6_K, cols)};
  const auto x = testing::random_floats(cols * tokens, rng);
  std::vector<float> a((size_t)(rows * tokens)), b((size_t)(rows * tokens));
  ThreadPool pool(2);
  kernels::matmul(view, x.data(), tokens, cols, a.data(), rows, pool);
  kernels::matmul_with(kernels::active_kernels(), view, x.data(), tokens, cols, b.data(), rows, pool);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace kvpress
