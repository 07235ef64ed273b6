// AVX-512 (F + BW + VL + VNNI, with FMA and F16C) kernel set: 16-lane instantiation of x86/simd_kernels.h.
// Compiled with AVX-512 flags (see src/kernels/CMakeLists.txt); only called after a CPU check.
#include "kernels/kernel_sets.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 headers initialise "undefined" vectors from themselves, which its own
// -Wuninitialized then reports at every inlined use; silence that inside the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

namespace kvpress::kernels {
namespace {

struct V512 {
  static constexpr int kLanes = 16;
  // 8 rows x 2 vectors = 16 accumulators + 2 token vectors; leaves registers for the broadcasts
  // and keeps the eight row pointers within the general-purpose register file.
  static constexpr int kGemmRows = 8;
  static constexpr int kGemmVecs = 2;
  static constexpr int kGemmTailVecs = 1;
  using F = __m512;
  using I = __m512i;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static constexpr int kRegs = 32;
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static I as_i(F a) { return _mm512_castps_si512(a); }
  static F as_f(I a) { return _mm512_castsi512_ps(a); }
  // y where x >= t, else 0.
  static F zero_below(F x, float t, F y) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(t), _CMP_GE_OQ), y); }
  // Lane l takes lane l ^ w (w = 1, 2, 4, 8): within 128-bit blocks, then whole blocks swapped.
  static F xor_lanes(F v, int w) {
    return w == 1 ? _mm512_permute_ps(v, 0xB1)
           : w == 2 ? _mm512_permute_ps(v, 0x4E)
           : w == 4 ? _mm512_shuffle_f32x4(v, v, 0xB1)
                    : _mm512_shuffle_f32x4(v, v, 0x4E);
  }
  static float hsum(F v) {
    // Shuffles instead of _mm512_reduce_add_ps, which trips GCC 12's -Wmaybe-uninitialized.
    F s = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));  // add the 256-bit halves
    s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0xB1));    // add neighbouring 128-bit lanes
    __m128 q = _mm512_castps512_ps128(s);
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
  static float hmax(F v) { return _mm512_reduce_max_ps(v); }
  // v in lanes < n, `other` in the rest.
  static F keep_first(F v, int n, float other) {
    return _mm512_mask_mov_ps(_mm512_set1_ps(other), (__mmask16)((1u << n) - 1), v);
  }
  static float h2f(uint16_t h) { return _cvtsh_ss(h); }

  static I u8(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I i8(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I and_(I a, int m) { return _mm512_and_si512(a, _mm512_set1_epi32(m)); }
  static I srl(I a, int n) { return _mm512_srl_epi32(a, _mm_cvtsi32_si128(n)); }
  static I sll(I a, int n) { return _mm512_sll_epi32(a, _mm_cvtsi32_si128(n)); }
  static I add_i(I a, int v) { return _mm512_add_epi32(a, _mm512_set1_epi32(v)); }
  static I or_(I a, I b) { return _mm512_or_si512(a, b); }
  static I bits(uint32_t word, int first) {
    const I lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const I shift = _mm512_add_epi32(lane, _mm512_set1_epi32(first));
    return and_(_mm512_srlv_epi32(_mm512_set1_epi32((int)word), shift), 1);
  }
  static F halves(float lo, float hi, int first) {
    return first == 0 ? _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(lo), _mm512_set1_ps(hi))
                      : _mm512_set1_ps(hi);
  }
  // Table decoding (see simd_decode.h): permutes on the low index bits.
  static constexpr bool kHasLut = true;
  static F iota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static F lut16(I idx, F table) { return _mm512_permutexvar_ps(idx, table); }
  static F lut32(I idx, F lo, F hi) { return _mm512_permutex2var_ps(lo, idx, hi); }
  static I shr_lanes(uint32_t word, int first) {
    const I lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm512_srlv_epi32(_mm512_set1_epi32((int)word), _mm512_add_epi32(lane, _mm512_set1_epi32(first)));
  }
  // 0xE4: bitwise "c ? a : b" with c = 0x0F.
  static I merge_low_nibble(I a, I b) { return _mm512_ternarylogic_epi32(a, b, _mm512_set1_epi32(0x0F), 0xE4); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static F load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F load_bf16(const uint16_t* p) {
    const I wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  // p[0..P) repeated across the lanes (P = 1, 2, 4, 8, 16).
  template <int P>
  static F broadcast_group(const float* p) {
    if constexpr (P == 1) return _mm512_set1_ps(*p);
    if constexpr (P == 2) {
      double v;
      __builtin_memcpy(&v, p, 8);
      return _mm512_castpd_ps(_mm512_set1_pd(v));
    }
    if constexpr (P == 4) return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
    if constexpr (P == 8) return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(reinterpret_cast<const double*>(p))));
    if constexpr (P == 16) return _mm512_loadu_ps(p);
  }
};

}  // namespace
}  // namespace kvpress::kernels

#include "kernels/x86/simd_attend.h"
#include "kernels/x86/simd_int8.h"
#include "kernels/x86/simd_int8_gemm.h"

namespace kvpress::kernels {

const KernelSet* avx512_kernel_set() {
  static const KernelSet set = {"avx512", simd::dequantize_row<V512>, simd::dot_row<V512>, simd::dot_f32<V512>,
                                simd::axpy_f32<V512>, simd::gemm_f32<V512>, simd::dot_rows_f32<V512>, simd::attend_rows<V512>,
                                simd::quantize_activations, simd::dot_row_q8<true>, simd::decode_s8,
                                simd::gemm_q8};
  return &set;
}

}  // namespace kvpress::kernels

#else

namespace kvpress::kernels {
const KernelSet* avx512_kernel_set() { return nullptr; }
}  // namespace kvpress::kernels

#endif
