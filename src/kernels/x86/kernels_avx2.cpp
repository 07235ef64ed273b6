// AVX2 (+ FMA + F16C) kernel set: 8-lane instantiation of x86/simd_kernels.h.
// Compiled with AVX2 flags (see src/kernels/CMakeLists.txt); only called after a CPU check.
#include "kernels/kernel_sets.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace kvpress::kernels {
namespace {

struct V256 {
  static constexpr int kLanes = 8;
  // 6 rows x 2 vectors (16 tokens) = 12 accumulators + 2 token vectors + 1 broadcast = 15 of the
  // 16 ymm registers.
  static constexpr int kGemmRows = 6;
  static constexpr int kGemmVecs = 2;
  static constexpr int kGemmTailVecs = 2;  // unused: kGemmTokenPad == kGemmVecs * kLanes
  using F = __m256;
  using I = __m256i;

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static constexpr int kRegs = 16;
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static I as_i(F a) { return _mm256_castps_si256(a); }
  static F as_f(I a) { return _mm256_castsi256_ps(a); }
  // y where x >= t, else 0.
  static F zero_below(F x, float t, F y) { return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(t), _CMP_GE_OQ), y); }
  // Lane l takes lane l ^ w (w = 1, 2, 4).
  static F xor_lanes(F v, int w) {
    return w == 1 ? _mm256_permute_ps(v, 0xB1) : w == 2 ? _mm256_permute_ps(v, 0x4E) : _mm256_permute2f128_ps(v, v, 1);
  }
  static float hsum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float h2f(uint16_t h) { return _cvtsh_ss(h); }

  static I u8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  static I i8(const int8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  static I and_(I a, int m) { return _mm256_and_si256(a, _mm256_set1_epi32(m)); }
  static I srl(I a, int n) { return _mm256_srl_epi32(a, _mm_cvtsi32_si128(n)); }
  static I sll(I a, int n) { return _mm256_sll_epi32(a, _mm_cvtsi32_si128(n)); }
  static I add_i(I a, int v) { return _mm256_add_epi32(a, _mm256_set1_epi32(v)); }
  static I or_(I a, I b) { return _mm256_or_si256(a, b); }
  static I bits(uint32_t word, int first) {
    const I lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const I shift = _mm256_add_epi32(lane, _mm256_set1_epi32(first));
    return and_(_mm256_srlv_epi32(_mm256_set1_epi32((int)word), shift), 1);
  }
  static F halves(float lo, float hi, int first) { return _mm256_set1_ps(first < 8 ? lo : hi); }
  static constexpr bool kHasLut = false;  // 8-lane permutes cannot hold a 16-entry table
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static F load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static F load_bf16(const uint16_t* p) {
    const I wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  // p[0..P) repeated across the lanes (P = 1, 2, 4, 8).
  template <int P>
  static F broadcast_group(const float* p) {
    if constexpr (P == 1) return _mm256_set1_ps(*p);
    if constexpr (P == 2) {
      double v;
      __builtin_memcpy(&v, p, 8);
      return _mm256_castpd_ps(_mm256_set1_pd(v));
    }
    if constexpr (P == 4) return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
    if constexpr (P == 8) return _mm256_loadu_ps(p);
  }
};

}  // namespace
}  // namespace kvpress::kernels

#include "kernels/x86/simd_attend.h"
#include "kernels/x86/simd_int8.h"

namespace kvpress::kernels {

const KernelSet* avx2_kernel_set() {
  static const KernelSet set = {"avx2", simd::dequantize_row<V256>, simd::dot_row<V256>, simd::dot_f32<V256>,
                                simd::axpy_f32<V256>, simd::gemm_f32<V256>, simd::dot_rows_f32<V256>, simd::attend_rows<V256>,
                                simd::quantize_activations, simd::dot_row_q8<false>, simd::decode_s8,
                                nullptr};  // no int8 tiles: prefill on gemm_f32
  return &set;
}

}  // namespace kvpress::kernels

#else

namespace kvpress::kernels {
const KernelSet* avx2_kernel_set() { return nullptr; }
}  // namespace kvpress::kernels

#endif
