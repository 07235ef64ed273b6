// Shared helpers of the kernel tests: random rows of every type and double-precision references.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/kernels.h"

namespace kvpress::testing {

// Every weight type the kernels support.
inline std::vector<GgmlType> all_weight_types() {
  return {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
          GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K,
          GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
}

inline bool is_k_quant(GgmlType t) { return traits_of(t).block_size == 256; }

inline std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// n random floats encoded in `type` by the reference quantizer.
inline std::vector<uint8_t> random_row(GgmlType type, int64_t n, std::mt19937& rng) {
  const auto x = random_floats(n, rng);
  std::vector<uint8_t> row((size_t)row_bytes(type, n));
  kernels::quantize_row(type, x.data(), row.data(), n);
  return row;
}

// A random finite f16 (any exponent but the inf/NaN one; subnormals included).
inline uint16_t random_finite_half(std::mt19937& rng) {
  uint16_t h = (uint16_t)(rng() & 0xFFFF);
  if (((h >> 10) & 0x1F) == 0x1F) h &= (uint16_t)~0x4000;
  return h;
}

// Byte offsets of the f16 scale fields in one block of `type` (the rest of a block is free bits).
inline std::vector<int> half_field_offsets(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

// Raw random bits for every field, with finite scales (so NaN payload rules never matter):
// exercises every quant value, scale and sign combination, unlike quantizer output.
inline std::vector<uint8_t> random_bits_row(GgmlType type, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row((size_t)row_bytes(type, n));
  if (type == GgmlType::F32) {
    std::vector<float> x = random_floats(n, rng, 100.0f);
    std::memcpy(row.data(), x.data(), row.size());
    return row;
  }
  if (type == GgmlType::F16 || type == GgmlType::BF16) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h = (uint16_t)(rng() & 0xFFFF);
      if (type == GgmlType::F16 && ((h >> 10) & 0x1F) == 0x1F) h &= (uint16_t)~0x4000;
      if (type == GgmlType::BF16 && ((h >> 7) & 0xFF) == 0xFF) h &= (uint16_t)~0x4000;
      std::memcpy(row.data() + 2 * i, &h, 2);
    }
    return row;
  }
  for (auto& b : row) b = (uint8_t)(rng() & 0xFF);
  const auto& traits = traits_of(type);
  for (int64_t blk = 0; blk < n / traits.block_size; ++blk)
    for (int off : half_field_offsets(type)) {
      const uint16_t h = random_finite_half(rng);
      std::memcpy(row.data() + blk * traits.block_bytes + off, &h, 2);
    }
  return row;
}

inline std::vector<float> dequantize_ref(GgmlType type, const uint8_t* row, int64_t n) {
  std::vector<float> out((size_t)n);
  kernels::reference_kernels().dequantize_row(type, row, out.data(), n);
  return out;
}

// Exact-ish dot product in double and the tolerance a float summation of it may need:
// 1e-5 * sqrt(n) * ||w .* x||_2 (about 170 ulp of growth per sqrt(n) terms).
struct DotReference {
  double value = 0;
  double tolerance = 0;
};

inline DotReference dot_reference(const float* w, const float* x, int64_t n) {
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = (double)w[i] * (double)x[i];
    sum += p;
    sq += p * p;
  }
  return {sum, 1e-5 * std::sqrt((double)n) * std::sqrt(sq) + 1e-30};
}

}  // namespace kvpress::testing
