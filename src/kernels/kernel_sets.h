// Internal declarations of src/kernels: the scalar reference functions and the per-ISA kernel sets.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace kvpress::kernels {

namespace ref {
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
float dot_row(GgmlType type, const void* row, const float* x, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float a, const float* x, float* y, int64_t n);
void gemm_f32(const float* a, int64_t lda, int64_t m, const float* bt, int64_t ldb, int64_t n_tok, float* c,
              int64_t ldc, int64_t k, bool accumulate);
void dot_rows_f32(const float* q, int64_t m, const float* k, int64_t n, int64_t d, float* out, int64_t ldo);
void attend_rows(const float* q, int64_t m, const MatrixView& keys, const MatrixView& values, int64_t begin,
                 int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum);
void quantize_activations(const float* x, int64_t n, int8_t* qs, float* d, float* ds16);
float dot_row_q8(GgmlType type, const void* row, const Q8Activations& x, int64_t n);
void decode_s8(GgmlType type, const void* src, int64_t n, int8_t* out, float* d, int32_t* sum);
void gemm_q8(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd, int64_t m,
             const uint8_t* xp, const float* xd, int64_t ldb, int64_t n_tok, float* c, int64_t ldc, int64_t k,
             bool accumulate);
}  // namespace ref

// The SIMD sets; nullptr when not compiled in (non-x86 builds). Callers check CPU support.
const KernelSet* avx2_kernel_set();
const KernelSet* avx512_kernel_set();

}  // namespace kvpress::kernels
