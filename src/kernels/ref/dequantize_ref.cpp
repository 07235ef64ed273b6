// Scalar reference dequantization of every supported GGUF type: the oracle for all other kernels.
// The float expressions here (which products, in which order) define the exact bits every SIMD
// variant must reproduce, e.g. Q4_K is (d * sc) * q - (dmin * m), never a fused multiply-add.
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/kernel_sets.h"
#include "kernels/quant_blocks.h"

namespace kvpress::kernels::ref {
namespace {

using namespace blocks;

void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < 16; ++l) {
      y[l] = (float)((b[i].qs[l] & 0xF) - 8) * d;
      y[l + 16] = (float)((b[i].qs[l] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    const float m = f16_to_f32(b[i].m);
    for (int l = 0; l < 16; ++l) {
      y[l] = (float)(b[i].qs[l] & 0xF) * d + m;
      y[l + 16] = (float)(b[i].qs[l] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    const uint32_t qh = load_u32_le(b[i].qh);
    for (int l = 0; l < 16; ++l) {
      const int h0 = (int)((qh >> l) & 1) << 4;
      const int h1 = (int)((qh >> (l + 16)) & 1) << 4;
      y[l] = (float)(((b[i].qs[l] & 0xF) | h0) - 16) * d;
      y[l + 16] = (float)(((b[i].qs[l] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    const float m = f16_to_f32(b[i].m);
    const uint32_t qh = load_u32_le(b[i].qh);
    for (int l = 0; l < 16; ++l) {
      const int h0 = (int)((qh >> l) & 1) << 4;
      const int h1 = (int)((qh >> (l + 16)) & 1) << 4;
      y[l] = (float)((b[i].qs[l] & 0xF) | h0) * d + m;
      y[l + 16] = (float)((b[i].qs[l] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = f16_to_f32(b[i].d);
    for (int l = 0; l < kQK; ++l) y[l] = (float)b[i].qs[l] * d;
  }
}

void dequantize_q2_k(const BlockQ2_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    for (int e = 0; e < kQKK; e += 16) {
      const int sub = e / 16;
      const float dl = d * (float)(b[i].scales[sub] & 0xF);
      const float ml = dmin * (float)(b[i].scales[sub] >> 4);
      const int n = e / 128, j = (e % 128) / 32, l0 = e % 32;
      for (int l = l0; l < l0 + 16; ++l) {
        const int q = (b[i].qs[32 * n + l] >> (2 * j)) & 3;
        y[e + l - l0] = dl * (float)q - ml;
      }
    }
  }
}

void dequantize_q3_k(const BlockQ3_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = f16_to_f32(b[i].d);
    int scales[16];
    q3_k_scales(b[i].scales, scales);
    for (int e = 0; e < kQKK; e += 16) {
      const float dl = d * (float)scales[e / 16];
      const int n = e / 128, j = (e % 128) / 32, l0 = e % 32;
      for (int l = l0; l < l0 + 16; ++l) {
        const int low = (b[i].qs[32 * n + l] >> (2 * j)) & 3;
        const int high = (b[i].hmask[l] >> (4 * n + j)) & 1;
        y[e + l - l0] = dl * (float)(low - (high ? 0 : 4));
      }
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    for (int sub = 0; sub < 8; ++sub) {
      int sc, mn;
      k4_scale_min(b[i].scales, sub, &sc, &mn);
      const float dl = d * (float)sc;
      const float ml = dmin * (float)mn;
      const uint8_t* q = b[i].qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      for (int l = 0; l < 32; ++l) y[32 * sub + l] = dl * (float)((q[l] >> shift) & 0xF) - ml;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    for (int sub = 0; sub < 8; ++sub) {
      int sc, mn;
      k4_scale_min(b[i].scales, sub, &sc, &mn);
      const float dl = d * (float)sc;
      const float ml = dmin * (float)mn;
      const uint8_t* q = b[i].qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xF) | (((b[i].qh[l] >> sub) & 1) << 4);
        y[32 * sub + l] = dl * (float)v - ml;
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < kQKK; e += 16) {
      const float dl = d * (float)b[i].scales[e / 16];
      const int n = e / 128, k = (e % 128) / 32, l0 = e % 32;
      const uint8_t* ql = b[i].ql + 64 * n + 32 * (k & 1);
      const uint8_t* qh = b[i].qh + 32 * n;
      const int low_shift = 4 * (k / 2);
      for (int l = l0; l < l0 + 16; ++l) {
        const int v = (((ql[l] >> low_shift) & 0xF) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
        y[e + l - l0] = dl * (float)v;
      }
    }
  }
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, (size_t)n * sizeof(float));
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    case GgmlType::Q4_0: return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK);
    case GgmlType::Q4_1: return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK);
    case GgmlType::Q5_0: return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK);
    case GgmlType::Q5_1: return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n / kQK);
    case GgmlType::Q8_0: return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK);
    case GgmlType::Q2_K: return dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n / kQKK);
    case GgmlType::Q3_K: return dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n / kQKK);
    case GgmlType::Q4_K: return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n / kQKK);
    case GgmlType::Q5_K: return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n / kQKK);
    case GgmlType::Q6_K: return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n / kQKK);
    default: break;
  }
  KV_CHECK(false && "dequantize_row: unsupported weight type");
}

}  // namespace kvpress::kernels::ref
