// Byte layouts of the GGUF quantized blocks and the scale unpacking shared by every kernel variant.
// Internal header of src/kernels. Every function here has internal linkage (static inline) on
// purpose: the per-ISA files are compiled with AVX flags, and an external-linkage inline copy
// built there could be picked by the linker for the portable code too.
#pragma once
#include <cstdint>

namespace kvpress::kernels::blocks {

constexpr int kQK = 32;    // elements per block of the legacy types (Q4_0 ... Q8_0)
constexpr int kQKK = 256;  // elements per super-block of the k-quants

// Halves (uint16_t) hold IEEE f16 scales. Blocks are 2-byte aligned in GGUF rows.
// Element e of a Q4_0 block: low nibble of qs[e] for e < 16, high nibble of qs[e - 16] otherwise.
struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK / 2]; };
struct BlockQ4_1 { uint16_t d; uint16_t m; uint8_t qs[kQK / 2]; };
// The fifth bit of element e is bit e of the little-endian word qh.
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[kQK]; };

// Q2_K: element e = 128 n + 32 j + l (l < 32) is bits 2j..2j+1 of qs[32 n + l]; scales[e / 16]
// holds the 4-bit scale (low nibble) and 4-bit min (high nibble) of its 16-element sub-block.
struct BlockQ2_K { uint8_t scales[kQKK / 16]; uint8_t qs[kQKK / 4]; uint16_t d; uint16_t dmin; };
// Q3_K: low 2 bits as in Q2_K; the third bit is bit (4 n + j) of hmask[l], and a clear bit means -4.
// Sixteen 6-bit scales (stored +32) are packed into 12 bytes (see q3_k_scales).
struct BlockQ3_K { uint8_t hmask[kQKK / 8]; uint8_t qs[kQKK / 4]; uint8_t scales[12]; uint16_t d; };
// Q4_K: element e = 64 j + 32 h + l is nibble h of qs[32 j + l]; eight 6-bit scale/min pairs packed
// into 12 bytes (see k4_scale_min), one pair per 32 elements.
struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[kQKK / 2]; };
// Q5_K: as Q4_K plus the fifth bit of element e in bit (e / 32) of qh[e % 32].
struct BlockQ5_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[kQKK / 8]; uint8_t qs[kQKK / 2]; };
// Q6_K: per 128-element half n, element 128 n + 32 k + l: low nibble from ql[64 n + l + 32 (k & 1)]
// (high nibble when k >= 2), bits 2k..2k+1 of qh[32 n + l] on top; value - 32; int8 scale per 16.
struct BlockQ6_K { uint8_t ql[kQKK / 2]; uint8_t qh[kQKK / 4]; int8_t scales[kQKK / 16]; uint16_t d; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

static inline uint32_t load_u32_le(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

// Scale j (0..7) and min j of a Q4_K / Q5_K block: 6 bits each. Pairs 0..3 sit in the low 6 bits of
// bytes 0..3 (scales) and 4..7 (mins); pairs 4..7 keep their low 4 bits in the nibbles of bytes
// 8..11 and their top 2 bits in the spare top bits of bytes 0..7.
static inline void k4_scale_min(const uint8_t* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Inverse of k4_scale_min for all eight pairs (values 0..63).
static inline void pack_k4_scale_min(const int* scale, const int* min, uint8_t* s) {
  for (int j = 0; j < 12; ++j) s[j] = 0;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] |= (uint8_t)scale[j];
      s[j + 4] |= (uint8_t)min[j];
    } else {
      s[j + 4] = (uint8_t)((scale[j] & 0xF) | ((min[j] & 0xF) << 4));
      s[j - 4] |= (uint8_t)((scale[j] >> 4) << 6);
      s[j] |= (uint8_t)((min[j] >> 4) << 6);
    }
  }
}

// The sixteen signed scales of a Q3_K block (stored value - 32): scale j keeps its low 4 bits in
// nibble (j / 8) of byte (j % 8) and its top 2 bits at bits 2 (j / 4) of byte 8 + j % 4.
static inline void q3_k_scales(const uint8_t* s, int* out) {
  for (int j = 0; j < 16; ++j) {
    const int low = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
}

// Inverse of q3_k_scales; `scale` values in -32..31.
static inline void pack_q3_k_scales(const int* scale, uint8_t* s) {
  for (int j = 0; j < 12; ++j) s[j] = 0;
  for (int j = 0; j < 16; ++j) {
    const int u = scale[j] + 32;
    s[j % 8] |= (uint8_t)((u & 0xF) << (4 * (j / 8)));
    s[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
  }
}

}  // namespace kvpress::kernels::blocks
