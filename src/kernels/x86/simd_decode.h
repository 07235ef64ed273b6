// Width-generic SIMD block decoders of every quantized type, written once against a vector-ops
// struct V and instantiated by the per-ISA files (AVX2: 8 lanes, AVX-512: 16 lanes) through
// x86/simd_kernels.h. Include only from those files, after defining V inside an anonymous
// namespace: every instantiation then has internal linkage, so no code built with AVX flags can
// leak into the portable parts of the program through the linker.
//
// V provides: kLanes, F (float vector), I (int32 vector), zero/set1/load/store/add/sub/mul/fmadd,
// hsum, h2f (exact f16 -> f32), u8/i8 (kLanes bytes widened to int32 lanes), and_/srl/sll/add_i
// (with a scalar operand), or_, bits(word, first) = (word >> (first + lane)) & 1, cvt (int -> float),
// load_f16/load_bf16 (kLanes halves widened exactly), halves(lo, hi, first) (lane i: first + i < 8 ? lo
// : hi), kGemmRows x kGemmVecs (prefill register tile), and kHasLut; when true (16 lanes) also iota
// (floats 0..15), lut16(idx, t) / lut32(idx, t_lo, t_hi) (table lookups on index bits 3:0 / 4:0),
// shr_lanes(word, first) = word >> (first + lane) and merge_low_nibble(a, b) = (a & 15) | (b & ~15).
//
// Each decoder calls sink(offset_in_block, values) with the exact dequantized values of kLanes
// consecutive elements, computed with the same float operations, in the same order, as the
// reference in ref/dequantize_ref.cpp, so dequantize_row is bit-exact and dot_row sums exact values.
#pragma once
#include <cstdint>

#include "kernels/quant_blocks.h"

namespace kvpress::kernels::simd {

using namespace blocks;

// Lookup-table path (V::kHasLut, 16 lanes): every 4-bit (5-bit) code of a scale group maps to one of
// 16 (32) floats, so a table built once per group with the reference's own expression replaces the
// per-element convert / multiply / add by one permute; values stay bit-identical.
// Lanes hold one byte each; the permutes read only index bits 3:0 (4:0), so the low nibble needs no
// mask and junk above the index bits is harmless.
template <class V>
inline auto shift_bit_to_4(typename V::I v, int from) {
  return from <= 4 ? V::sll(v, 4 - from) : V::srl(v, from - 4);
}

template <class V, class Sink>
inline void decode_q4_0(const BlockQ4_0& b, Sink&& sink) {
  const auto d = V::set1(V::h2f(b.d));
  if constexpr (V::kHasLut) {
    const auto table = V::mul(V::add(V::iota(), V::set1(-8.0f)), d);
    const auto q = V::u8(b.qs);
    sink(0, V::lut16(q, table));
    sink(16, V::lut16(V::srl(q, 4), table));
  } else {
#pragma GCC unroll 16
    for (int l = 0; l < 16; l += V::kLanes) {
      const auto q = V::u8(b.qs + l);
      sink(l, V::mul(V::cvt(V::add_i(V::and_(q, 0xF), -8)), d));
      sink(l + 16, V::mul(V::cvt(V::add_i(V::srl(q, 4), -8)), d));
    }
  }
}

template <class V, class Sink>
inline void decode_q4_1(const BlockQ4_1& b, Sink&& sink) {
  const auto d = V::set1(V::h2f(b.d));
  const auto m = V::set1(V::h2f(b.m));
  if constexpr (V::kHasLut) {
    const auto table = V::add(V::mul(V::iota(), d), m);
    const auto q = V::u8(b.qs);
    sink(0, V::lut16(q, table));
    sink(16, V::lut16(V::srl(q, 4), table));
  } else {
#pragma GCC unroll 16
    for (int l = 0; l < 16; l += V::kLanes) {
      const auto q = V::u8(b.qs + l);
      sink(l, V::add(V::mul(V::cvt(V::and_(q, 0xF)), d), m));
      sink(l + 16, V::add(V::mul(V::cvt(V::srl(q, 4)), d), m));
    }
  }
}

template <class V, class Sink>
inline void decode_q5_0(const BlockQ5_0& b, Sink&& sink) {
  const auto d = V::set1(V::h2f(b.d));
  const uint32_t qh = load_u32_le(b.qh);
  if constexpr (V::kHasLut) {
    const auto lo_table = V::mul(V::add(V::iota(), V::set1(-16.0f)), d);  // codes 0..15
    const auto hi_table = V::mul(V::iota(), d);                           // codes 16..31
    const auto q = V::u8(b.qs);
    // Bit e of qh lands on index bit 4 of lane e (lanes 0..15, then 16..31).
    const auto lo = V::merge_low_nibble(q, V::sll(V::shr_lanes(qh, 0), 4));
    const auto hi = V::merge_low_nibble(V::srl(q, 4), V::sll(V::shr_lanes(qh, 16), 4));
    sink(0, V::lut32(lo, lo_table, hi_table));
    sink(16, V::lut32(hi, lo_table, hi_table));
  } else {
#pragma GCC unroll 16
    for (int l = 0; l < 16; l += V::kLanes) {
      const auto q = V::u8(b.qs + l);
      const auto lo = V::or_(V::and_(q, 0xF), V::sll(V::bits(qh, l), 4));
      const auto hi = V::or_(V::srl(q, 4), V::sll(V::bits(qh, l + 16), 4));
      sink(l, V::mul(V::cvt(V::add_i(lo, -16)), d));
      sink(l + 16, V::mul(V::cvt(V::add_i(hi, -16)), d));
    }
  }
}

template <class V, class Sink>
inline void decode_q5_1(const BlockQ5_1& b, Sink&& sink) {
  const auto d = V::set1(V::h2f(b.d));
  const auto m = V::set1(V::h2f(b.m));
  const uint32_t qh = load_u32_le(b.qh);
  if constexpr (V::kHasLut) {
    const auto lo_table = V::add(V::mul(V::iota(), d), m);
    const auto hi_table = V::add(V::mul(V::add(V::iota(), V::set1(16.0f)), d), m);
    const auto q = V::u8(b.qs);
    const auto lo = V::merge_low_nibble(q, V::sll(V::shr_lanes(qh, 0), 4));
    const auto hi = V::merge_low_nibble(V::srl(q, 4), V::sll(V::shr_lanes(qh, 16), 4));
    sink(0, V::lut32(lo, lo_table, hi_table));
    sink(16, V::lut32(hi, lo_table, hi_table));
  } else {
#pragma GCC unroll 16
    for (int l = 0; l < 16; l += V::kLanes) {
      const auto q = V::u8(b.qs + l);
      const auto lo = V::or_(V::and_(q, 0xF), V::sll(V::bits(qh, l), 4));
      const auto hi = V::or_(V::srl(q, 4), V::sll(V::bits(qh, l + 16), 4));
      sink(l, V::add(V::mul(V::cvt(lo), d), m));
      sink(l + 16, V::add(V::mul(V::cvt(hi), d), m));
    }
  }
}

template <class V, class Sink>
inline void decode_q8_0(const BlockQ8_0& b, Sink&& sink) {
  const auto d = V::set1(V::h2f(b.d));
#pragma GCC unroll 16
  for (int l = 0; l < kQK; l += V::kLanes) sink(l, V::mul(V::cvt(V::i8(b.qs + l)), d));
}

// The sixteen bytes at p widened to floats and multiplied: elements 0..7 by lo, 8..15 by hi.
// Lane-wise products equal the reference's scalar `d * (float)sc` bit for bit.
template <class V, class Widen>
inline void scaled_16(Widen widen, float lo, float hi, float* out) {
#pragma GCC unroll 2
  for (int h = 0; h < 16; h += V::kLanes) V::store(out + h, V::mul(V::cvt(widen(h)), V::halves(lo, hi, h)));
}

template <class V, class Sink>
inline void decode_q2_k(const BlockQ2_K& b, Sink&& sink) {
  const float d = V::h2f(b.d);
  const float dmin = V::h2f(b.dmin);
  alignas(64) float dl[16], ml[16];
  scaled_16<V>([&](int h) { return V::and_(V::u8(b.scales + h), 0xF); }, d, d, dl);
  scaled_16<V>([&](int h) { return V::srl(V::u8(b.scales + h), 4); }, dmin, dmin, ml);
#pragma GCC unroll 16
  for (int e = 0; e < kQKK; e += 16) {
    const auto dv = V::set1(dl[e / 16]);
    const auto mv = V::set1(ml[e / 16]);
    const uint8_t* q = b.qs + 32 * (e / 128) + e % 32;
    const int shift = 2 * ((e % 128) / 32);
#pragma GCC unroll 16
    for (int h = 0; h < 16; h += V::kLanes)
      sink(e + h, V::sub(V::mul(dv, V::cvt(V::and_(V::srl(V::u8(q + h), shift), 3))), mv));
  }
}

// Q3_K's sixteen 6-bit scales (see q3_k_scales) unpacked four at a time with 32-bit word masks:
// out[j] = scale j + 32.
// (x86 is little-endian: byte k of word i is out[4 i + k].)
static inline void q3_k_scale_bytes(const uint8_t* s, uint32_t* out) {
  const uint32_t a0 = load_u32_le(s), a1 = load_u32_le(s + 4), hi = load_u32_le(s + 8);
  out[0] = (a0 & 0x0F0F0F0Fu) | (((hi >> 0) & 0x03030303u) << 4);
  out[1] = (a1 & 0x0F0F0F0Fu) | (((hi >> 2) & 0x03030303u) << 4);
  out[2] = ((a0 >> 4) & 0x0F0F0F0Fu) | (((hi >> 4) & 0x03030303u) << 4);
  out[3] = ((a1 >> 4) & 0x0F0F0F0Fu) | (((hi >> 6) & 0x03030303u) << 4);
}

template <class V, class Sink>
inline void decode_q3_k(const BlockQ3_K& b, Sink&& sink) {
  const float d = V::h2f(b.d);
  alignas(16) uint32_t sc[4];
  q3_k_scale_bytes(b.scales, sc);
  alignas(64) float dl[16];
  scaled_16<V>([&](int h) { return V::add_i(V::u8(reinterpret_cast<const uint8_t*>(sc) + h), -32); }, d, d, dl);
#pragma GCC unroll 16
  for (int e = 0; e < kQKK; e += 16) {
    const auto dv = V::set1(dl[e / 16]);
    const int n = e / 128, j = (e % 128) / 32, l0 = e % 32;
#pragma GCC unroll 16
    for (int h = 0; h < 16; h += V::kLanes) {
      const auto low = V::and_(V::srl(V::u8(b.qs + 32 * n + l0 + h), 2 * j), 3);
      const auto high = V::and_(V::srl(V::u8(b.hmask + l0 + h), 4 * n + j), 1);
      // low - (high ? 0 : 4) == (low | high << 2) - 4
      sink(e + h, V::mul(dv, V::cvt(V::add_i(V::or_(low, V::sll(high, 2)), -4))));
    }
  }
}

// Q4_K / Q5_K scale-min pairs (see k4_scale_min) unpacked with 32-bit word masks:
// out[0..7] = scales 0..7, out[8..15] = mins 0..7.
static inline void k4_scale_min_bytes(const uint8_t* s, uint32_t* out) {
  const uint32_t a0 = load_u32_le(s), a1 = load_u32_le(s + 4), a2 = load_u32_le(s + 8);
  out[0] = a0 & 0x3F3F3F3Fu;
  out[1] = (a2 & 0x0F0F0F0Fu) | (((a0 >> 6) & 0x03030303u) << 4);
  out[2] = a1 & 0x3F3F3F3Fu;
  out[3] = ((a2 >> 4) & 0x0F0F0F0Fu) | (((a1 >> 6) & 0x03030303u) << 4);
}

// Q4_K and Q5_K share their scale layout; Q5_K adds a fifth bit from qh.
template <class V, bool kFifthBit, class Block, class Sink>
inline void decode_k4_like(const Block& b, const uint8_t* qh, Sink&& sink) {
  alignas(16) uint32_t sm[4];
  k4_scale_min_bytes(b.scales, sm);
  alignas(64) float dm[16];  // d * scale j, then dmin * min j
  scaled_16<V>([&](int h) { return V::u8(reinterpret_cast<const uint8_t*>(sm) + h); }, V::h2f(b.d), V::h2f(b.dmin),
               dm);
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const auto dl0 = V::set1(dm[2 * j]), ml0 = V::set1(dm[8 + 2 * j]);
    const auto dl1 = V::set1(dm[2 * j + 1]), ml1 = V::set1(dm[8 + 2 * j + 1]);
    if constexpr (V::kHasLut) {
      const auto t0 = V::sub(V::mul(V::iota(), dl0), ml0);
      const auto t1 = V::sub(V::mul(V::iota(), dl1), ml1);
      if constexpr (kFifthBit) {
        const auto iota16 = V::add(V::iota(), V::set1(16.0f));
        const auto t0_hi = V::sub(V::mul(iota16, dl0), ml0);
        const auto t1_hi = V::sub(V::mul(iota16, dl1), ml1);
#pragma GCC unroll 2
        for (int h = 0; h < 32; h += 16) {
          const auto q = V::u8(b.qs + 32 * j + h);
          const auto bits = V::u8(qh + h);
          const auto lo = V::merge_low_nibble(q, shift_bit_to_4<V>(bits, 2 * j));
          const auto hi = V::merge_low_nibble(V::srl(q, 4), shift_bit_to_4<V>(bits, 2 * j + 1));
          sink(64 * j + h, V::lut32(lo, t0, t0_hi));
          sink(64 * j + 32 + h, V::lut32(hi, t1, t1_hi));
        }
      } else {
#pragma GCC unroll 2
        for (int h = 0; h < 32; h += 16) {
          const auto q = V::u8(b.qs + 32 * j + h);
          sink(64 * j + h, V::lut16(q, t0));
          sink(64 * j + 32 + h, V::lut16(V::srl(q, 4), t1));
        }
      }
    } else {
#pragma GCC unroll 16
      for (int h = 0; h < 32; h += V::kLanes) {
        const auto q = V::u8(b.qs + 32 * j + h);
        auto lo = V::and_(q, 0xF);
        auto hi = V::srl(q, 4);
        if constexpr (kFifthBit) {
          const auto bits = V::u8(qh + h);
          lo = V::or_(lo, V::sll(V::and_(V::srl(bits, 2 * j), 1), 4));
          hi = V::or_(hi, V::sll(V::and_(V::srl(bits, 2 * j + 1), 1), 4));
        }
        sink(64 * j + h, V::sub(V::mul(dl0, V::cvt(lo)), ml0));
        sink(64 * j + 32 + h, V::sub(V::mul(dl1, V::cvt(hi)), ml1));
      }
    }
  }
}

template <class V, class Sink>
inline void decode_q4_k(const BlockQ4_K& b, Sink&& sink) {
  decode_k4_like<V, false>(b, nullptr, sink);
}

template <class V, class Sink>
inline void decode_q5_k(const BlockQ5_K& b, Sink&& sink) {
  decode_k4_like<V, true>(b, b.qh, sink);
}

template <class V, class Sink>
inline void decode_q6_k(const BlockQ6_K& b, Sink&& sink) {
  const float d = V::h2f(b.d);
  alignas(64) float dl[16];
  scaled_16<V>([&](int h) { return V::i8(b.scales + h); }, d, d, dl);
#pragma GCC unroll 16
  for (int e = 0; e < kQKK; e += 16) {
    const auto dv = V::set1(dl[e / 16]);
    const int n = e / 128, k = (e % 128) / 32, l0 = e % 32;
    const uint8_t* ql = b.ql + 64 * n + 32 * (k & 1) + l0;
    const uint8_t* qh = b.qh + 32 * n + l0;
#pragma GCC unroll 16
    for (int h = 0; h < 16; h += V::kLanes) {
      const auto low = V::and_(V::srl(V::u8(ql + h), 4 * (k / 2)), 0xF);
      const auto high = V::and_(V::srl(V::u8(qh + h), 2 * k), 3);
      sink(e + h, V::mul(dv, V::cvt(V::add_i(V::or_(low, V::sll(high, 4)), -32))));
    }
  }
}

}  // namespace kvpress::kernels::simd
