// Scalar reference of the vector kernels: dot products, axpy and the prefill tile.
// Plain loops in a fixed order; SIMD variants are checked against these within summation tolerance.
#include "core/ggml_type.h"
#include "kernels/kernel_sets.h"
#include "kernels/quant_blocks.h"

namespace kvpress::kernels::ref {

float dot_row(GgmlType type, const void* row, const float* x, int64_t n) {
  // Decode one block (or a 256-element run of a float type) at a time into a small buffer.
  const auto& traits = traits_of(type);
  const int64_t chunk = traits.block_size == 1 ? blocks::kQKK : traits.block_size;
  const int64_t chunk_bytes = chunk / traits.block_size * traits.block_bytes;
  const auto* src = static_cast<const uint8_t*>(row);
  float buf[blocks::kQKK];
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t len = n - i < chunk ? n - i : chunk;
    dequantize_row(type, src + i / chunk * chunk_bytes, buf, len);
    for (int64_t l = 0; l < len; ++l) sum += buf[l] * x[i + l];
  }
  return sum;
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void gemm_f32(const float* a, int64_t lda, int64_t m, const float* bt, int64_t ldb, int64_t n_tok, float* c,
              int64_t ldc, int64_t k, bool accumulate) {
  for (int64_t r = 0; r < m; ++r) {
    float* c_row = c + r * ldc;
    if (!accumulate)
      for (int64_t t = 0; t < n_tok; ++t) c_row[t] = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      const float w = a[r * lda + i];
      const float* b_row = bt + i * ldb;
      for (int64_t t = 0; t < n_tok; ++t) c_row[t] += w * b_row[t];
    }
  }
}

void dot_rows_f32(const float* q, int64_t m, const float* k, int64_t n, int64_t d, float* out, int64_t ldo) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) out[r * ldo + j] = dot_f32(q + r * d, k + j * d, d);
}

}  // namespace kvpress::kernels::ref
