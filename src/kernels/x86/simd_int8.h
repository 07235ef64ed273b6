// The int8 path of kernels.h for both per-ISA files, on 256-bit integer vectors: activations rounded
// to int8 blocks, and integer dot products of block-quantized weight rows with them.
// Each 32-element group of a weight block becomes 32 unsigned codes (Q8_0: |w|, the activations
// taking w's sign), multiplied with the activations' int8 values into eight int32 lanes (lane k sums
// elements 4k..4k+3), converted once and scaled by the weight scale times the activation block's d.
// The formats' mins (Q4_1's m, Q4_K's -dmin * m, ...) are added once per block from ds16, the
// activations' scaled sums per 16 elements.
// Formats with a fixed offset (Q4_0's -8, Q6_K's -32, ...) subtract it from the codes and multiply
// signed values instead (|w| against the activations with w's sign).
// kVnni: vpdpbusd (AVX-512 VNNI). Otherwise vpmaddubsw + vpmaddwd, exact because no pair of products
// leaves int16: codes <= 63 (|w| <= 128 for Q8_0) times |q| <= 127, twice, stays below 32767.
// Include only from the per-ISA files: everything here has internal linkage (anonymous namespace),
// so code compiled with AVX-512 flags cannot stand in for the AVX2 copy at link time.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86/simd_decode.h"

namespace kvpress::kernels::simd {
namespace {

using namespace blocks;

template <bool kVnni>
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  if constexpr (kVnni) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    static_assert(!kVnni, "VNNI kernels need -mavx512vnni -mavx512vl");
#endif
  } else {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
  }
}

// Signed weights w (|w| <= 128 read as unsigned): |w| against the activations with w's sign.
template <bool kVnni>
inline __m256i dot_s8s8(__m256i w, __m256i q) {
  return dot_u8s8<kVnni>(_mm256_sign_epi8(w, w), _mm256_sign_epi8(q, w));
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i mask8(__m256i v, int m) { return _mm256_and_si256(v, _mm256_set1_epi8((char)m)); }
inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum8_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// acc + lanes(p) * s; scaled2: lanes 0..3 (the group's first 16 elements) by lo, 4..7 by hi.
inline __m256 scaled(__m256i p, float s, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(s), acc);
}
inline __m256 scaled2(__m256i p, float lo, float hi, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set_m128(_mm_set1_ps(hi), _mm_set1_ps(lo)), acc);
}

// 16 bytes of packed nibbles -> 32 codes: the low nibbles (elements 0..15), then the high ones.
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return mask8(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), 0x0F);
}

// Byte i = 16 where bit i of `bits` is set, else 0 (Q5_0 / Q5_1's fifth bit).
inline __m256i fifth_bits(uint32_t bits) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  return _mm256_maskz_mov_epi8((__mmask32)bits, _mm256_set1_epi8(16));
#else
  // Byte i takes byte i / 8 of the word (the shuffle works per 128-bit half, each holding the word).
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32((int)bits), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
                                                     2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
  return mask8(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), 16);
#endif
}

void quantize_activations(const float* x, int64_t n, int8_t* qs, float* d, float* ds16) {
  KV_CHECK(n % kQ8Block == 0);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                             _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float db = _mm_cvtss_f32(h) / 127.0f;
    const __m256 inv = _mm256_set1_ps(db > 0.0f ? 1.0f / db : 0.0f);
    __m256i q[4];  // rounded half to even (the default MXCSR mode), as the reference's nearbyint
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], inv));
    d[b] = db;
    ds16[2 * b] = db * (float)hsum8_i32(_mm256_add_epi32(q[0], q[1]));
    ds16[2 * b + 1] = db * (float)hsum8_i32(_mm256_add_epi32(q[2], q[3]));
    // The packs interleave 32-bit groups across the 128-bit halves; the permute restores the order.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kQ8Block),
                        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

// The 32-element formats: unpack(block, &d, &m) returns the block's codes, signed (kSigned: offset
// subtracted) or unsigned with a min m times the block's activation sum (kMin). Two blocks per step
// into two accumulators, so that the FMA latency does not bound the loop.
template <bool kVnni, bool kSigned, class Block, class Unpack>
inline float dot_blocks_q8(const void* row, const Q8Activations& x, int64_t n, Unpack unpack) {
  const auto* b = static_cast<const Block*>(row);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  float mins[2] = {0.0f, 0.0f};
  const auto step = [&](int64_t i, int k) {
    const __m256i q = load32(x.qs + i * kQ8Block);
    float d, m;
    const __m256i codes = unpack(b[i], d, m);
    const __m256i p = kSigned ? dot_s8s8<kVnni>(codes, q) : dot_u8s8<kVnni>(codes, q);
    acc[k] = scaled(p, d * x.d[i], acc[k]);
    if constexpr (!kSigned) mins[k] += m * (x.ds16[2 * i] + x.ds16[2 * i + 1]);
  };
  const int64_t nb = n / kQ8Block;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    step(i, 0);
    step(i + 1, 1);
  }
  if (i < nb) step(i, 0);
  return hsum8(_mm256_add_ps(acc[0], acc[1])) + (mins[0] + mins[1]);
}

// Signed codes of the formats whose value is d * code: Q8_0 as stored, Q4_0 and Q5_0 less their offset.
inline __m256i codes_q8_0(const BlockQ8_0& b) { return load32(b.qs); }
inline __m256i codes_q4_0(const BlockQ4_0& b) { return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8)); }
inline __m256i codes_q5_0(const BlockQ5_0& b) {
  return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b.qs), fifth_bits(load_u32_le(b.qh))), _mm256_set1_epi8(16));
}

template <bool kVnni>
float dot_q8_0(const void* row, const Q8Activations& x, int64_t n) {
  return dot_blocks_q8<kVnni, true, BlockQ8_0>(row, x, n, [](const BlockQ8_0& b, float& d, float&) {
    d = half(b.d);
    return codes_q8_0(b);
  });
}

template <bool kVnni>
float dot_q4_0(const void* row, const Q8Activations& x, int64_t n) {
  return dot_blocks_q8<kVnni, true, BlockQ4_0>(row, x, n, [](const BlockQ4_0& b, float& d, float&) {
    d = half(b.d);
    return codes_q4_0(b);
  });
}

template <bool kVnni>
float dot_q4_1(const void* row, const Q8Activations& x, int64_t n) {
  return dot_blocks_q8<kVnni, false, BlockQ4_1>(row, x, n, [](const BlockQ4_1& b, float& d, float& m) {
    d = half(b.d);
    m = half(b.m);
    return nibbles32(b.qs);
  });
}

template <bool kVnni>
float dot_q5_0(const void* row, const Q8Activations& x, int64_t n) {
  return dot_blocks_q8<kVnni, true, BlockQ5_0>(row, x, n, [](const BlockQ5_0& b, float& d, float&) {
    d = half(b.d);
    return codes_q5_0(b);
  });
}

template <bool kVnni>
float dot_q5_1(const void* row, const Q8Activations& x, int64_t n) {
  return dot_blocks_q8<kVnni, false, BlockQ5_1>(row, x, n, [](const BlockQ5_1& b, float& d, float& m) {
    d = half(b.d);
    m = half(b.m);
    return _mm256_or_si256(nibbles32(b.qs), fifth_bits(load_u32_le(b.qh)));
  });
}

// The 256-element formats. Per super-block, body(block, xq, scales, mins) fills scales (float[16]:
// the weight scale of each 16-element sub-block, times d) and mins (float[16]: the coefficient of
// each sub-block's activation sum, 0 for formats without mins), and returns the int32 lanes of each
// group g (elements 32 g .. 32 g + 31) in p[g]. The lanes are scaled by scales[2 g] (lanes 0..3) and
// scales[2 g + 1] (lanes 4..7) times the group's activation d, with vector permutes, not scalars.
template <class Block, class Body>
inline float dot_super_blocks(const void* row, const Q8Activations& x, int64_t n, Body body) {
  const auto* b = static_cast<const Block*>(row);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), mins_acc = _mm256_setzero_ps();
  const __m256i spread_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i spread_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    alignas(32) float scales[16], mins[16];
    __m256i p[8];
    body(b[i], x.qs + kQKK * i, scales, mins, p);
    // Sub-block j's scale times the d of its group (j / 2).
    const __m256 xd = _mm256_loadu_ps(x.d + 8 * i);
    const __m256 sd[2] = {_mm256_mul_ps(_mm256_load_ps(scales), _mm256_permutevar8x32_ps(xd, spread_lo)),
                          _mm256_mul_ps(_mm256_load_ps(scales + 8), _mm256_permutevar8x32_ps(xd, spread_hi))};
    for (int g = 0; g < 8; g += 2) {
      const int k = 2 * (g % 4);
      const __m256 s0 = _mm256_permutevar8x32_ps(sd[g / 4], _mm256_setr_epi32(k, k, k, k, k + 1, k + 1, k + 1, k + 1));
      const __m256 s1 =
          _mm256_permutevar8x32_ps(sd[g / 4], _mm256_setr_epi32(k + 2, k + 2, k + 2, k + 2, k + 3, k + 3, k + 3, k + 3));
      acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[g]), s0, acc0);
      acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[g + 1]), s1, acc1);
    }
    const float* ds = x.ds16 + 16 * i;
    mins_acc = _mm256_fmadd_ps(_mm256_load_ps(mins), _mm256_loadu_ps(ds), mins_acc);
    mins_acc = _mm256_fmadd_ps(_mm256_load_ps(mins + 8), _mm256_loadu_ps(ds + 8), mins_acc);
  }
  return hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), mins_acc));
}

inline __m256i qgroup(const int8_t* xq, int g) { return load32(xq + 32 * g); }

// Q4_K and Q5_K: eight groups of 32 with a 6-bit scale and min each; value = d sc q - dmin m.
template <bool kVnni, bool kFifthBit, class Block>
inline float dot_k4_like(const void* row, const Q8Activations& x, int64_t n) {
  return dot_super_blocks<Block>(row, x, n, [](const Block& b, const int8_t* xq, float* scales, float* mins,
                                               __m256i* p) {
    alignas(16) uint32_t words[4];
    k4_scale_min_bytes(b.scales, words);
    const auto* sm = reinterpret_cast<const uint8_t*>(words);  // scales 0..7, mins 0..7
    const float d = half(b.d), dmin = half(b.dmin);
    for (int g = 0; g < 8; ++g) {
      scales[2 * g] = scales[2 * g + 1] = d * (float)sm[g];
      mins[2 * g] = mins[2 * g + 1] = -dmin * (float)sm[8 + g];
    }
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFifthBit) qh = load32(b.qh);
    for (int j = 0; j < 4; ++j) {
      const __m256i w = load32(b.qs + 32 * j);
      __m256i lo = mask8(w, 0x0F), hi = mask8(_mm256_srli_epi16(w, 4), 0x0F);
      if constexpr (kFifthBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(mask8(_mm256_srli_epi16(qh, 2 * j), 1), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(mask8(_mm256_srli_epi16(qh, 2 * j + 1), 1), 4));
      }
      p[2 * j] = dot_u8s8<kVnni>(lo, qgroup(xq, 2 * j));
      p[2 * j + 1] = dot_u8s8<kVnni>(hi, qgroup(xq, 2 * j + 1));
    }
  });
}

// Q6_K: sixteen sub-blocks of 16 with signed 8-bit scales; value = d sc (q - 32), q of 6 bits.
template <bool kVnni>
float dot_q6_k(const void* row, const Q8Activations& x, int64_t n) {
  return dot_super_blocks<BlockQ6_K>(row, x, n, [](const BlockQ6_K& b, const int8_t* xq, float* scales, float* mins,
                                                   __m256i* p) {
    const float d = half(b.d);
    for (int j = 0; j < 16; ++j) {
      scales[j] = d * (float)b.scales[j];
      mins[j] = 0.0f;
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i ql[2] = {load32(b.ql + 64 * h), load32(b.ql + 64 * h + 32)};
      const __m256i qh = load32(b.qh + 32 * h);
      for (int k = 0; k < 4; ++k) {
        const __m256i low = mask8(_mm256_srli_epi16(ql[k & 1], 4 * (k / 2)), 0x0F);
        const __m256i high = mask8(_mm256_srli_epi16(qh, 2 * k), 3);
        const __m256i w = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), _mm256_set1_epi8(32));
        p[4 * h + k] = dot_s8s8<kVnni>(w, qgroup(xq, 4 * h + k));
      }
    }
  });
}

// Q3_K: sixteen sub-blocks of 16 with signed 6-bit scales; value = d sc (q - 4), q = 2 low bits | high bit.
template <bool kVnni>
float dot_q3_k(const void* row, const Q8Activations& x, int64_t n) {
  return dot_super_blocks<BlockQ3_K>(row, x, n, [](const BlockQ3_K& b, const int8_t* xq, float* scales, float* mins,
                                                   __m256i* p) {
    alignas(16) uint32_t words[4];
    q3_k_scale_bytes(b.scales, words);
    const auto* biased = reinterpret_cast<const uint8_t*>(words);  // scale + 32
    const float d = half(b.d);
    for (int j = 0; j < 16; ++j) {
      scales[j] = d * (float)((int)biased[j] - 32);
      mins[j] = 0.0f;
    }
    const __m256i hm = load32(b.hmask);
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load32(b.qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const int g = 4 * h + j;
        const __m256i low = mask8(_mm256_srli_epi16(q, 2 * j), 3);
        const __m256i high = mask8(_mm256_srli_epi16(hm, g), 1);
        const __m256i w = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 2)), _mm256_set1_epi8(4));
        p[g] = dot_s8s8<kVnni>(w, qgroup(xq, g));
      }
    }
  });
}

// Q2_K: sixteen sub-blocks of 16, each a 4-bit scale and a 4-bit min; value = d sc q - dmin m, q of 2 bits.
template <bool kVnni>
float dot_q2_k(const void* row, const Q8Activations& x, int64_t n) {
  return dot_super_blocks<BlockQ2_K>(row, x, n, [](const BlockQ2_K& b, const int8_t* xq, float* scales, float* mins,
                                                   __m256i* p) {
    const float d = half(b.d), dmin = half(b.dmin);
    for (int j = 0; j < 16; ++j) {
      scales[j] = d * (float)(b.scales[j] & 0xF);
      mins[j] = -dmin * (float)(b.scales[j] >> 4);
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load32(b.qs + 32 * h);
      for (int j = 0; j < 4; ++j) p[4 * h + j] = dot_u8s8<kVnni>(mask8(_mm256_srli_epi16(q, 2 * j), 3), qgroup(xq, 4 * h + j));
    }
  });
}

template <bool kVnni>
float dot_row_q8(GgmlType type, const void* row, const Q8Activations& x, int64_t n) {
  switch (type) {
    case GgmlType::Q8_0: return dot_q8_0<kVnni>(row, x, n);
    case GgmlType::Q4_0: return dot_q4_0<kVnni>(row, x, n);
    case GgmlType::Q4_1: return dot_q4_1<kVnni>(row, x, n);
    case GgmlType::Q5_0: return dot_q5_0<kVnni>(row, x, n);
    case GgmlType::Q5_1: return dot_q5_1<kVnni>(row, x, n);
    case GgmlType::Q4_K: return dot_k4_like<kVnni, false, BlockQ4_K>(row, x, n);
    case GgmlType::Q5_K: return dot_k4_like<kVnni, true, BlockQ5_K>(row, x, n);
    case GgmlType::Q6_K: return dot_q6_k<kVnni>(row, x, n);
    case GgmlType::Q3_K: return dot_q3_k<kVnni>(row, x, n);
    case GgmlType::Q2_K: return dot_q2_k<kVnni>(row, x, n);
    default: fail("dot_row_q8: no int8 dot for ", ggml_type_name(type));
  }
}

// Rows for the int8 prefill tiles (KernelSet::decode_s8): signed codes, scale and code sum per block.
template <class Block, class Codes>
inline void decode_s8_blocks(const void* src, int64_t n, int8_t* out, float* d, int32_t* sum, Codes codes) {
  const auto* b = static_cast<const Block*>(src);
  for (int64_t i = 0; i < n / kQ8Block; ++i) {
    const __m256i c = codes(b[i]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * kQ8Block), c);
    d[i] = half(b[i].d);
    // Byte sums in 16-bit pairs, then 32-bit lanes.
    sum[i] = hsum8_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), c), _mm256_set1_epi16(1)));
  }
}

void decode_s8(GgmlType type, const void* src, int64_t n, int8_t* out, float* d, int32_t* sum) {
  switch (type) {
    case GgmlType::Q8_0: return decode_s8_blocks<BlockQ8_0>(src, n, out, d, sum, codes_q8_0);
    case GgmlType::Q4_0: return decode_s8_blocks<BlockQ4_0>(src, n, out, d, sum, codes_q4_0);
    case GgmlType::Q5_0: return decode_s8_blocks<BlockQ5_0>(src, n, out, d, sum, codes_q5_0);
    default: fail("decode_s8: no int8 tiles for ", ggml_type_name(type));
  }
}

}  // namespace
}  // namespace kvpress::kernels::simd
