// Dequantization: hand-built blocks against values worked out from the GGUF layout, every SIMD
// variant bit-exact against the reference, and quantize -> dequantize round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace kvpress {
namespace {

using kernels::KernelSet;
using testing::all_weight_types;

void put_half(std::vector<uint8_t>& block, int offset, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(block.data() + offset, &h, 2);
}

// Runs every available kernel set on `block` and compares with `expected` value by value.
void expect_all_sets_decode(GgmlType type, const std::vector<uint8_t>& block, const std::vector<float>& expected) {
  for (const KernelSet* ks : kernels::available_kernel_sets()) {
    SCOPED_TRACE(ks->name);
    std::vector<float> out(expected.size(), -999.0f);
    ks->dequantize_row(type, block.data(), out.data(), (int64_t)expected.size());
    for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(out[i], expected[i]) << "element " << i;
  }
}

TEST(Dequantize, HandBuiltQ4_0Block) {
  // Block: f16 d, then 16 bytes; element e < 16 is the low nibble of byte e, element e >= 16 the
  // high nibble of byte e - 16; value = (nibble - 8) * d.
  std::vector<uint8_t> block(18, 0x88);  // every nibble 8 -> 0
  put_half(block, 0, 0.5f);
  block[2 + 0] = 0x1F;  // e0: 15 -> 3.5, e16: 1 -> -3.5
  block[2 + 1] = 0x80;  // e1: 0 -> -4, e17: 8 -> 0
  block[2 + 15] = 0xC3; // e15: 3 -> -2.5, e31: 12 -> 2
  std::vector<float> expected(32, 0.0f);
  expected[0] = 3.5f;
  expected[16] = -3.5f;
  expected[1] = -4.0f;
  expected[15] = -2.5f;
  expected[31] = 2.0f;
  expect_all_sets_decode(GgmlType::Q4_0, block, expected);
}

TEST(Dequantize, HandBuiltQ8_0Block) {
  // Block: f16 d, then 32 int8; value = q * d.
  std::vector<uint8_t> block(34, 0);
  put_half(block, 0, 0.25f);
  block[2 + 0] = 0x80;  // -128 -> -32
  block[2 + 1] = 0x7F;  // 127 -> 31.75
  block[2 + 2] = 0x01;  // 1 -> 0.25
  block[2 + 31] = 0xFF; // -1 -> -0.25
  std::vector<float> expected(32, 0.0f);
  expected[0] = -32.0f;
  expected[1] = 31.75f;
  expected[2] = 0.25f;
  expected[31] = -0.25f;
  expect_all_sets_decode(GgmlType::Q8_0, block, expected);
}

TEST(Dequantize, HandBuiltQ4_KBlock) {
  // Block: f16 d, f16 dmin, 12 scale bytes, 128 quant bytes. Element 64 j + 32 h + l is nibble h of
  // qs[32 j + l] in sub-block 2 j + h, value = d * sc - ... = (d * sc) * q - dmin * m.
  // Sub-blocks 0..3 keep sc in bits 0-5 of bytes 0..3 and m in bytes 4..7; sub-blocks 4..7 keep the
  // low 4 bits of sc / m in the nibbles of bytes 8..11 and their top 2 bits in bits 6-7 of bytes
  // 0..3 (sc) / 4..7 (m).
  std::vector<uint8_t> block(144, 0);
  put_half(block, 0, 1.0f);   // d
  put_half(block, 2, 0.5f);   // dmin
  uint8_t* s = block.data() + 4;
  uint8_t* qs = block.data() + 16;
  s[0] = 1;                 // sub 0: sc = 1
  s[4] = 2;                 //        m = 2
  s[1] = 3 | (2 << 6);      // sub 1: sc = 3; top bits of sub 5's sc = 2
  s[5] = 0 | (1 << 6);      // sub 1: m = 0;  top bits of sub 5's m = 1
  s[9] = 0x3 | (0x1 << 4);  // sub 5: sc = 0x23 = 35, m = 0x11 = 17
  qs[0] = 0x2F;             // e0 (sub 0) = 15, e32 (sub 1) = 2
  qs[64] = 0x70;            // e128 (sub 4, all zero) = 0, e160 (sub 5) = 7
  std::vector<float> expected(256, 0.0f);
  expected[0] = 1.0f * 15 - 0.5f * 2;                           // 14
  for (int e = 1; e < 32; ++e) expected[e] = -1.0f;             // 0 - 0.5 * 2
  expected[32] = 3.0f * 2;                                      // 6
  expected[160] = 35.0f * 7 - 0.5f * 17;                        // 236.5
  for (int e = 161; e < 192; ++e) expected[e] = -8.5f;          // 0 - 0.5 * 17
  expect_all_sets_decode(GgmlType::Q4_K, block, expected);
}

TEST(Dequantize, EverySetBitExactWithReference) {
  std::mt19937 rng(1234);
  const auto sets = kernels::available_kernel_sets();
  for (GgmlType type : all_weight_types()) {
    SCOPED_TRACE(ggml_type_name(type));
    // Float types also get a length that is not a multiple of any vector width.
    const int64_t n = traits_of(type).block_size == 1 ? 256 * 4 + 13 : 256 * 8;
    const auto row = testing::random_bits_row(type, n, rng);
    const auto expected = testing::dequantize_ref(type, row.data(), n);
    for (const KernelSet* ks : sets) {
      SCOPED_TRACE(ks->name);
      std::vector<float> out((size_t)n, -1.0f);
      ks->dequantize_row(type, row.data(), out.data(), n);
      ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)));
    }
  }
}

TEST(Dequantize, ReferenceMatchesHalfConversionForFloatTypes) {
  // F16/BF16 rows decode element by element through core/half.h.
  std::mt19937 rng(7);
  for (GgmlType type : {GgmlType::F16, GgmlType::BF16}) {
    const auto row = testing::random_bits_row(type, 100, rng);
    const auto out = testing::dequantize_ref(type, row.data(), 100);
    for (int i = 0; i < 100; ++i) {
      uint16_t h;
      std::memcpy(&h, row.data() + 2 * i, 2);
      const float want = type == GgmlType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      ASSERT_EQ(bits_from_f32(out[i]), bits_from_f32(want));
    }
  }
}

// Relative RMS error of dequantize(quantize(x)) for x ~ N(0, 1): the bound per type follows from
// its step size (e.g. Q8_0: amax / 127 / sqrt(12) ~ 0.6 %) with some margin.
double round_trip_error_bound(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return 0.0;
    case GgmlType::F16: return 5e-4;
    case GgmlType::BF16: return 3e-3;
    case GgmlType::Q8_0: return 0.008;
    case GgmlType::Q6_K: return 0.025;
    case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q5_K: return 0.055;
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q4_K: return 0.11;
    case GgmlType::Q3_K: return 0.2;
    case GgmlType::Q2_K: return 0.4;
    default: return 0.0;
  }
}

TEST(Quantize, RoundTripErrorWithinTypeBound) {
  std::mt19937 rng(99);
  const int64_t n = 256 * 64;
  const auto x = testing::random_floats(n, rng);
  for (GgmlType type : all_weight_types()) {
    std::vector<uint8_t> row((size_t)row_bytes(type, n));
    kernels::quantize_row(type, x.data(), row.data(), n);
    const auto y = testing::dequantize_ref(type, row.data(), n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
      ref += (double)x[i] * x[i];
    }
    const double rel = std::sqrt(err / ref);
    EXPECT_LE(rel, round_trip_error_bound(type)) << ggml_type_name(type);
    // Quantization error of a sane encoder is well above zero for the lossy types; a bound hit at
    // exactly 0 would mean the test compared the input with itself.
    if (traits_of(type).block_size > 1) {
      EXPECT_GT(rel, 1e-4) << ggml_type_name(type);
    }
    RecordProperty(std::string("rel_rms_") + std::string(ggml_type_name(type)), std::to_string(rel));
  }
}

TEST(Quantize, GridValuesAreReproducedExactly) {
  // Values already on the grid of a symmetric type survive a round trip unchanged.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = 0.5f * (float)((i * 7) % 16 - 8);  // (q - 8) * 0.5, q in 0..15
  x[0] = -4.0f;  // the block extreme that defines d = 0.5
  x[32] = -4.0f;
  std::vector<uint8_t> q4(row_bytes(GgmlType::Q4_0, 64));
  kernels::quantize_row(GgmlType::Q4_0, x.data(), q4.data(), 64);
  EXPECT_EQ(testing::dequantize_ref(GgmlType::Q4_0, q4.data(), 64), x);

  for (int i = 0; i < 64; ++i) x[i] = 0.125f * (float)((i * 37) % 255 - 127);  // q * 0.125
  x[0] = x[32] = 127 * 0.125f;
  std::vector<uint8_t> q8(row_bytes(GgmlType::Q8_0, 64));
  kernels::quantize_row(GgmlType::Q8_0, x.data(), q8.data(), 64);
  EXPECT_EQ(testing::dequantize_ref(GgmlType::Q8_0, q8.data(), 64), x);
}

TEST(Quantize, ZeroRowStaysZero) {
  std::vector<float> x(512, 0.0f);
  for (GgmlType type : all_weight_types()) {
    std::vector<uint8_t> row((size_t)row_bytes(type, 512));
    kernels::quantize_row(type, x.data(), row.data(), 512);
    for (float v : testing::dequantize_ref(type, row.data(), 512)) ASSERT_EQ(v, 0.0f) << ggml_type_name(type);
  }
}

}  // namespace
}  // namespace kvpress
