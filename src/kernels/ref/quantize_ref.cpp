// Reference quantizers: plain round-to-nearest encoders for every supported type.
// They aim for correctness, not llama.cpp's quality (no error-minimising search); tests and tools
// use them to build weights of every type. Scales are rounded to f16 first and the values are then
// quantized against the rounded scale, so the decoder sees the scale the encoder used.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/kernel_sets.h"
#include "kernels/quant_blocks.h"

namespace kvpress::kernels {
namespace {

using namespace blocks;

int round_clamp(float v, int lo, int hi) {
  if (!(v == v)) return lo;  // NaN
  return (int)std::clamp(std::nearbyint(v), (float)lo, (float)hi);
}

// The f16 value stored for `v`, and that value back as f32.
float stored_half(float v, uint16_t* out) {
  *out = f32_to_f16(v);
  return f16_to_f32(*out);
}

// The element of largest magnitude, sign kept.
float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

float quotient(float x, float d) { return d != 0.0f ? x / d : 0.0f; }

// Symmetric legacy types: value = (q - offset) * d with q in [0, 2 * offset).
template <class Block>
void quantize_symmetric(const float* x, Block& b, int offset, uint8_t* q) {
  const float d = stored_half(signed_absmax(x, kQK) / (float)-offset, &b.d);
  for (int l = 0; l < kQK; ++l) q[l] = (uint8_t)round_clamp(quotient(x[l], d) + (float)offset, 0, 2 * offset - 1);
}

// Asymmetric legacy types: value = q * d + m with q in [0, levels].
template <class Block>
void quantize_affine(const float* x, Block& b, int levels, uint8_t* q) {
  const float lo = *std::min_element(x, x + kQK);
  const float hi = *std::max_element(x, x + kQK);
  const float d = stored_half((hi - lo) / (float)levels, &b.d);
  const float m = stored_half(lo, &b.m);
  for (int l = 0; l < kQK; ++l) q[l] = (uint8_t)round_clamp(quotient(x[l] - m, d), 0, levels);
}

void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int l = 0; l < 16; ++l) qs[l] = (uint8_t)((q[l] & 0xF) | ((q[l + 16] & 0xF) << 4));
}

void pack_fifth_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int l = 0; l < kQK; ++l) bits |= (uint32_t)(q[l] >> 4) << l;
  for (int i = 0; i < 4; ++i) qh[i] = (uint8_t)(bits >> (8 * i));
}

void quantize_q4_0(const float* x, BlockQ4_0& b) {
  uint8_t q[kQK];
  quantize_symmetric(x, b, 8, q);
  pack_nibbles(q, b.qs);
}

void quantize_q4_1(const float* x, BlockQ4_1& b) {
  uint8_t q[kQK];
  quantize_affine(x, b, 15, q);
  pack_nibbles(q, b.qs);
}

void quantize_q5_0(const float* x, BlockQ5_0& b) {
  uint8_t q[kQK];
  quantize_symmetric(x, b, 16, q);
  pack_nibbles(q, b.qs);
  pack_fifth_bits(q, b.qh);
}

void quantize_q5_1(const float* x, BlockQ5_1& b) {
  uint8_t q[kQK];
  quantize_affine(x, b, 31, q);
  pack_nibbles(q, b.qs);
  pack_fifth_bits(q, b.qh);
}

void quantize_q8_0(const float* x, BlockQ8_0& b) {
  float amax = 0.0f;
  for (int l = 0; l < kQK; ++l) amax = std::max(amax, std::fabs(x[l]));
  const float d = stored_half(amax / 127.0f, &b.d);
  for (int l = 0; l < kQK; ++l) b.qs[l] = (int8_t)round_clamp(quotient(x[l], d), -128, 127);
}

// Sub-block statistics of the affine k-quants (Q2_K, Q4_K, Q5_K): value = dl * q - ml with
// dl = d * sc, ml = dmin * m. The sub-block minimum is clamped to <= 0 so that ml >= 0.
struct AffineScales {
  float d = 0, dmin = 0;
  int sc[16] = {}, mn[16] = {};
};

AffineScales affine_scales(const float* x, int n_sub, int sub_len, int levels, int scale_max, uint16_t* d_out,
                           uint16_t* dmin_out) {
  float scale[16], min[16], max_scale = 0, max_min = 0;
  for (int s = 0; s < n_sub; ++s) {
    const float* xs = x + s * sub_len;
    const float lo = std::min(0.0f, *std::min_element(xs, xs + sub_len));
    const float hi = *std::max_element(xs, xs + sub_len);
    scale[s] = (hi - lo) / (float)levels;
    min[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, min[s]);
  }
  AffineScales a;
  a.d = stored_half(max_scale / (float)scale_max, d_out);
  a.dmin = stored_half(max_min / (float)scale_max, dmin_out);
  for (int s = 0; s < n_sub; ++s) {
    a.sc[s] = round_clamp(quotient(scale[s], a.d), 0, scale_max);
    a.mn[s] = round_clamp(quotient(min[s], a.dmin), 0, scale_max);
  }
  return a;
}

// Quantizes one affine sub-block against its decoded scale and minimum.
void quantize_affine_sub(const float* x, int len, const AffineScales& a, int s, int levels, uint8_t* q) {
  const float dl = a.d * (float)a.sc[s];
  const float ml = a.dmin * (float)a.mn[s];
  for (int l = 0; l < len; ++l) q[l] = (uint8_t)round_clamp(quotient(x[l] + ml, dl), 0, levels);
}

void quantize_q2_k(const float* x, BlockQ2_K& b) {
  const AffineScales a = affine_scales(x, 16, 16, 3, 15, &b.d, &b.dmin);
  uint8_t q[kQKK];
  for (int s = 0; s < 16; ++s) {
    quantize_affine_sub(x + 16 * s, 16, a, s, 3, q + 16 * s);
    b.scales[s] = (uint8_t)(a.sc[s] | (a.mn[s] << 4));
  }
  std::memset(b.qs, 0, sizeof b.qs);
  for (int e = 0; e < kQKK; ++e) {
    const int n = e / 128, j = (e % 128) / 32, l = e % 32;
    b.qs[32 * n + l] |= (uint8_t)(q[e] << (2 * j));
  }
}

void quantize_q3_k(const float* x, BlockQ3_K& b) {
  float scale[16];
  float best = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scale[s] = signed_absmax(x + 16 * s, 16) / -4.0f;  // the extreme value maps to q = -4
    if (std::fabs(scale[s]) > std::fabs(best)) best = scale[s];
  }
  const float d = stored_half(best / -32.0f, &b.d);
  int sc[16];
  for (int s = 0; s < 16; ++s) sc[s] = round_clamp(quotient(scale[s], d), -32, 31);
  pack_q3_k_scales(sc, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int e = 0; e < kQKK; ++e) {
    const float dl = d * (float)sc[e / 16];
    const int u = round_clamp(quotient(x[e], dl), -4, 3) + 4;
    const int n = e / 128, j = (e % 128) / 32, l = e % 32;
    b.qs[32 * n + l] |= (uint8_t)((u & 3) << (2 * j));
    if (u >> 2) b.hmask[l] |= (uint8_t)(1 << (4 * n + j));
  }
}

template <class Block>
void quantize_k4_like(const float* x, Block& b, int levels, uint8_t* q) {
  const AffineScales a = affine_scales(x, 8, 32, levels, 63, &b.d, &b.dmin);
  for (int s = 0; s < 8; ++s) quantize_affine_sub(x + 32 * s, 32, a, s, levels, q + 32 * s);
  pack_k4_scale_min(a.sc, a.mn, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int e = 0; e < kQKK; ++e) {
    const int j = e / 64, h = (e % 64) / 32, l = e % 32;
    b.qs[32 * j + l] |= (uint8_t)((q[e] & 0xF) << (4 * h));
  }
}

void quantize_q4_k(const float* x, BlockQ4_K& b) {
  uint8_t q[kQKK];
  quantize_k4_like(x, b, 15, q);
}

void quantize_q5_k(const float* x, BlockQ5_K& b) {
  uint8_t q[kQKK];
  quantize_k4_like(x, b, 31, q);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int e = 0; e < kQKK; ++e) b.qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
}

void quantize_q6_k(const float* x, BlockQ6_K& b) {
  float scale[16];
  float max_abs = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scale[s] = signed_absmax(x + 16 * s, 16) / -32.0f;  // the extreme value maps to q = -32
    max_abs = std::max(max_abs, std::fabs(scale[s]));
  }
  const float d = stored_half(max_abs / 127.0f, &b.d);
  for (int s = 0; s < 16; ++s) b.scales[s] = (int8_t)round_clamp(quotient(scale[s], d), -128, 127);
  std::memset(b.ql, 0, sizeof b.ql);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int e = 0; e < kQKK; ++e) {
    const float dl = d * (float)b.scales[e / 16];
    const int u = round_clamp(quotient(x[e], dl), -32, 31) + 32;
    const int n = e / 128, k = (e % 128) / 32, l = e % 32;
    b.ql[64 * n + 32 * (k & 1) + l] |= (uint8_t)((u & 0xF) << (4 * (k / 2)));
    b.qh[32 * n + l] |= (uint8_t)((u >> 4) << (2 * k));
  }
}

template <class Block>
void quantize_blocks(const float* src, void* dst, int64_t n, int64_t block, void (*one)(const float*, Block&)) {
  auto* out = static_cast<Block*>(dst);
  for (int64_t i = 0; i < n / block; ++i) one(src + i * block, out[i]);
}

}  // namespace

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const auto& traits = traits_of(type);
  KV_CHECK(n % traits.block_size == 0);
  auto* bytes = static_cast<uint8_t*>(dst);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, (size_t)n * sizeof(float));
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(bytes + 2 * i, &h, 2);
      }
      return;
    case GgmlType::Q4_0: return quantize_blocks<BlockQ4_0>(src, dst, n, kQK, quantize_q4_0);
    case GgmlType::Q4_1: return quantize_blocks<BlockQ4_1>(src, dst, n, kQK, quantize_q4_1);
    case GgmlType::Q5_0: return quantize_blocks<BlockQ5_0>(src, dst, n, kQK, quantize_q5_0);
    case GgmlType::Q5_1: return quantize_blocks<BlockQ5_1>(src, dst, n, kQK, quantize_q5_1);
    case GgmlType::Q8_0: return quantize_blocks<BlockQ8_0>(src, dst, n, kQK, quantize_q8_0);
    case GgmlType::Q2_K: return quantize_blocks<BlockQ2_K>(src, dst, n, kQKK, quantize_q2_k);
    case GgmlType::Q3_K: return quantize_blocks<BlockQ3_K>(src, dst, n, kQKK, quantize_q3_k);
    case GgmlType::Q4_K: return quantize_blocks<BlockQ4_K>(src, dst, n, kQKK, quantize_q4_k);
    case GgmlType::Q5_K: return quantize_blocks<BlockQ5_K>(src, dst, n, kQKK, quantize_q5_k);
    case GgmlType::Q6_K: return quantize_blocks<BlockQ6_K>(src, dst, n, kQKK, quantize_q6_k);
    default: break;
  }
  KV_CHECK(false && "quantize_row: unsupported weight type");
}

}  // namespace kvpress::kernels
