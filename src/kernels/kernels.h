// Compute kernels on weights of any supported GGUF type.
// The exact path dequantizes weights bit-for-bit as the scalar reference and multiplies them with f32
// activations. The int8 path (matrices with int8_activations set, block-quantized types only) rounds
// the activations to int8 blocks once per matmul, as llama.cpp does, and takes integer dot products
// per weight block: fewer instructions per weight byte, so decode gets closer to memory bandwidth.
// Every kernel has a scalar reference in ref::; SIMD variants (AVX2, AVX-512 with VNNI) are picked
// once at start-up by CPU features.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ggml_type.h"

namespace kvpress {
class ThreadPool;
}

namespace kvpress::kernels {

// A weight matrix of n_rows rows, each n_cols elements encoded in `type`, rows row_bytes apart.
struct MatrixView {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  int64_t row_bytes = 0;
  // Multiply with int8-rounded activations where the type has an int8 dot (has_int8_dot); the
  // model's weights set it unless the engine asks for exact matmuls.
  bool int8_activations = false;
  const uint8_t* row(int64_t r) const { return data + r * row_bytes; }
};

// Activations rounded to int8 per block of kQ8Block elements (round half to even):
//   d[b] = max_i |x_i| / 127 over block b,  qs[i] = round(x[i] / d[i / 32])  (0 where d = 0),
//   ds16[j] = d[j / 2] * (qs[16 j] + ... + qs[16 j + 15]),
// so that x[i] ~ d[i / 32] * qs[i]; ds16 carries the weight formats' offset and min terms.
inline constexpr int64_t kQ8Block = 32;
struct Q8Activations {
  const int8_t* qs = nullptr;  // [n]
  const float* d = nullptr;    // [n / 32]
  const float* ds16 = nullptr;  // [n / 16]
};
// Types with an int8 dot: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K.
bool has_int8_dot(GgmlType type);
// Types with int8 prefill tiles (value = d * signed code, one scale per 32): Q4_0, Q5_0, Q8_0.
bool has_int8_gemm(GgmlType type);
// Activation bytes of the int8 tiles: 4 consecutive elements of each token side by side, tokens padded
// to a multiple of kQ8TokenPad (see KernelSet::gemm_q8).
inline constexpr int64_t kQ8TokenPad = 16;

// One implementation of the per-row kernels (reference, AVX2, AVX-512).
struct KernelSet {
  const char* name;
  // dst[0..n) = dequantized src; n is a multiple of the type's block size.
  void (*dequantize_row)(GgmlType type, const void* src, float* dst, int64_t n);
  // sum_i row[i] * x[i] with row in `type` encoding.
  float (*dot_row)(GgmlType type, const void* row, const float* x, int64_t n);
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  // y[i] += a * x[i]
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n);
  // Prefill tile on already decoded rows:
  //   c[r * ldc + t] = (accumulate ? c[r * ldc + t] : 0) + sum_{i<k} a[r * lda + i] * bt[i * ldb + t]
  // for r < m, t < n_tok. bt holds the activations transposed ([k][ldb], token-contiguous); SIMD
  // variants work on whole groups of kGemmTokenPad tokens, so ldb and ldc must be at least n_tok
  // rounded up to kGemmTokenPad and the padding columns of bt must be finite (zero).
  void (*gemm_f32)(const float* a, int64_t lda, int64_t m, const float* bt, int64_t ldb, int64_t n_tok,
                   float* c, int64_t ldc, int64_t k, bool accumulate);
  // Decode attention scores, few queries against many keys, both row-major:
  //   out[r * ldo + j] = sum_{i<d} q[r * d + i] * k[j * d + i]   for r < m, j < n.
  // SIMD variants pack several dimensions of the m <= lanes queries into one vector, so that a GQA
  // group of 4-8 heads fills the lanes; any m and d are accepted.
  void (*dot_rows_f32)(const float* q, int64_t m, const float* k, int64_t n, int64_t d, float* out, int64_t ldo);
  // Decode attention, fused: folds key/value rows [begin, begin + n) (every one visible) into the
  // online softmax of m query rows q [m, keys.n_cols], already scaled by 1/sqrt(head_dim):
  //   row_max[r] = max(row_max[r], s_rj),  s_rj = q_r . k_j
  //   row_sum[r] = row_sum[r] * c_r + sum_j exp(s_rj - row_max[r])
  //   acc[r * ld_acc + i] = acc[...] * c_r + sum_j exp(s_rj - row_max[r]) * v_j[i]
  // with c_r = exp(old max - new max) (0 while the old max is -inf: start with -inf, 0, 0).
  // Keys and values are read in their stored type and decoded a few rows at a time in L1.
  void (*attend_rows)(const float* q, int64_t m, const MatrixView& keys, const MatrixView& values, int64_t begin,
                      int64_t n, float* acc, int64_t ld_acc, float* row_max, float* row_sum);
  // Rounds x[0..n) (n a multiple of kQ8Block) to int8 blocks, as Q8Activations says.
  void (*quantize_activations)(const float* x, int64_t n, int8_t* qs, float* d, float* ds16);
  // sum_i w[i] * d[i / 32] * qs[i], w the exactly dequantized row, for a type with has_int8_dot:
  // integer dot products of the stored codes per block, scaled once per block.
  float (*dot_row_q8)(GgmlType type, const void* row, const Q8Activations& x, int64_t n);
  // A row of a type with has_int8_gemm as signed codes: value i = d[i / 32] * out[i]; sum[b] = the
  // sum of block b's codes.
  void (*decode_s8)(GgmlType type, const void* src, int64_t n, int8_t* out, float* d, int32_t* sum);
  // Int8 prefill tile, nullptr where the set has none (prefill then stays on gemm_f32):
  //   c[r * ldc + t] = (accumulate ? c[r * ldc + t] : 0)
  //                    + sum_{b < k/32} wd[r * ldd + b] * xd[b * ldb + t] * sum_{i<32} w[r * lda + 32 b + i] * x_t[32 b + i]
  // for r < m, t < n_tok; w, wd, wsum as decode_s8 writes them (ldd scales per row). The activations
  // x_t (int8, Q8Activations' rounding) are packed for u8 x s8 dot products: byte
  // xp[((i / 4) * ldb + t) * 4 + i % 4] = x_t[i] + 128, with ldb a multiple of kQ8TokenPad >= n_tok
  // and padding tokens 128 (zero) with scale 0; xd[b * ldb + t] = token t's d of block b. ldc >= ldb.
  void (*gemm_q8)(const int8_t* w, int64_t lda, const float* wd, const int32_t* wsum, int64_t ldd, int64_t m,
                  const uint8_t* xp, const float* xd, int64_t ldb, int64_t n_tok, float* c, int64_t ldc, int64_t k,
                  bool accumulate);
};
inline constexpr int64_t kGemmTokenPad = 16;

const KernelSet& reference_kernels();
// Every variant compiled in and supported by this CPU, reference first.
std::vector<const KernelSet*> available_kernel_sets();
// The fastest available variant (chosen once).
const KernelSet& active_kernels();

inline void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  active_kernels().dequantize_row(type, src, dst, n);
}
inline float dot_row(GgmlType type, const void* row, const float* x, int64_t n) {
  return active_kernels().dot_row(type, row, x, n);
}
inline float dot_f32(const float* a, const float* b, int64_t n) { return active_kernels().dot_f32(a, b, n); }
inline void axpy_f32(float a, const float* x, float* y, int64_t n) { active_kernels().axpy_f32(a, x, y, n); }

// y[t * y_stride + r] = dot(w.row(r), x + t * x_stride) for t < n_tokens, r < w.n_rows.
// Multi-threaded over rows; for n_tokens > 1 each weight row is decoded once and reused.
// Thread-safety: reentrant (scratch is per thread); one call at a time per pool, as for the pool.
void matmul(const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y, int64_t y_stride,
            ThreadPool& pool);
// Same with an explicit kernel set (tests compare variants).
void matmul_with(const KernelSet& ks, const MatrixView& w, const float* x, int64_t n_tokens, int64_t x_stride,
                 float* y, int64_t y_stride, ThreadPool& pool);

// Reference quantizers (round-to-nearest, not optimised for quality): encode n floats into `type`.
// Used by tests and tools to build models of every type.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace kvpress::kernels
