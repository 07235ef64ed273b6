// KvCache for every storage type: what append stores (checked by a scalar decoder of GGUF's layouts
// written here), the error bound of each encoding, compaction and truncation moving encoded rows
// bit-exactly, and exact byte accounting (f16 = 1/2 of f32, q8_0 = 34/128, q4_0 = 18/128).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "core/half.h"

namespace kvpress {
namespace {

const KvType kAllTypes[] = {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0};

uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Scalar decoder of one stored row (GGUF layouts: q8_0 = f16 d + 32 int8; q4_0 = f16 d + 16 bytes
// of nibbles, element e < 16 in the low nibble of byte e, e >= 16 in the high nibble of byte e - 16).
std::vector<float> decode_row(KvType type, const uint8_t* row, int64_t d) {
  std::vector<float> out((size_t)d);
  for (int64_t i = 0; i < d; ++i) {
    switch (type) {
      case KvType::F32: std::memcpy(&out[i], row + 4 * i, 4); break;
      case KvType::F16: out[i] = f16_to_f32(u16(row + 2 * i)); break;
      case KvType::BF16: out[i] = bf16_to_f32(u16(row + 2 * i)); break;
      case KvType::Q8_0: {
        const uint8_t* b = row + (i / 32) * 34;
        out[i] = f16_to_f32(u16(b)) * (float)(int8_t)b[2 + i % 32];
        break;
      }
      case KvType::Q4_0: {
        const uint8_t* b = row + (i / 32) * 18;
        const int e = (int)(i % 32);
        const int q = e < 16 ? (b[2 + e] & 0xF) : (b[2 + e - 16] >> 4);
        out[i] = f16_to_f32(u16(b)) * (float)(q - 8);
        break;
      }
    }
  }
  return out;
}

// Largest error the encoding may make on element i of x (a block's scale from its largest magnitude).
double error_bound(KvType type, const float* x, int64_t i, int64_t d) {
  if (type == KvType::F32) return 0.0;
  if (type == KvType::F16) return std::fabs(x[i]) * 0x1p-11 + 1e-7;
  if (type == KvType::BF16) return std::fabs(x[i]) * 0x1p-8;
  const int64_t b0 = i / 32 * 32;
  double amax = 0;
  for (int64_t j = b0; j < b0 + 32; ++j) amax = std::max(amax, (double)std::fabs(x[j]));
  // q8_0: scale amax/127, rounding error half a step; q4_0: scale amax/8, up to one step at the clamp.
  // Both plus the f16 rounding of the scale applied to the largest code.
  return type == KvType::Q8_0 ? amax / 127 * 0.5 + amax * 0x1p-10 : amax / 8 * 1.0 + amax * 0x1p-10;
}

class KvCacheTypes : public ::testing::TestWithParam<KvType> {};

// 2 layers, 3 heads, head_dim 64, random entries; keys in the tested type, values in f16 unless the
// type is f16 (then q8_0), so that keys and values of different types live side by side.
struct Filled {
  KvCache cache;
  std::vector<float> k, v;  // [layer][t][head][d]
};
Filled make_filled(KvType key_type, int64_t n_tokens, uint64_t seed = 5) {
  const int64_t L = 2, H = 3, d = 64;
  const KvType value_type = key_type == KvType::F16 ? KvType::Q8_0 : KvType::F16;
  Filled f{KvCache(L, H, d, {key_type, value_type}), {}, {}};
  std::mt19937 rng((unsigned)seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  f.k.resize((size_t)(L * n_tokens * H * d));
  f.v.resize(f.k.size());
  for (auto& x : f.k) x = dist(rng);
  for (auto& x : f.v) x = dist(rng);
  std::vector<int32_t> pos((size_t)n_tokens);
  std::iota(pos.begin(), pos.end(), 100);
  for (int64_t l = 0; l < L; ++l) {
    // Appended in two calls, as a chunked prefill does.
    const int64_t first = n_tokens / 3, off = l * n_tokens * H * d;
    f.cache.append(l, first, &f.k[off], &f.v[off], pos.data());
    f.cache.append(l, n_tokens - first, &f.k[off + first * H * d], &f.v[off + first * H * d], pos.data() + first);
  }
  return f;
}

TEST_P(KvCacheTypes, AppendEncodesWithinBoundAndReadDecodesExactly) {
  const KvType type = GetParam();
  const int64_t n = 37, H = 3, d = 64;
  Filled f = make_filled(type, n);
  const KvTypes types = f.cache.types();
  for (int64_t l = 0; l < 2; ++l)
    for (int64_t h = 0; h < H; ++h) {
      const KvRows keys = f.cache.keys(l, h), values = f.cache.values(l, h);
      ASSERT_EQ(keys.n_rows, n);
      std::vector<float> read_k((size_t)(n * d)), read_v((size_t)(n * d)), one((size_t)d);
      keys.read(0, n, read_k.data());
      values.read(0, n, read_v.data());
      for (int64_t j = 0; j < n; ++j) {
        const float* xk = &f.k[((l * n + j) * H + h) * d];
        const float* xv = &f.v[((l * n + j) * H + h) * d];
        const auto want_k = decode_row(types.k, keys.row(j), d);
        const auto want_v = decode_row(types.v, values.row(j), d);
        const float* row = keys.row_f32(j, one.data());
        for (int64_t i = 0; i < d; ++i) {
          ASSERT_EQ(read_k[j * d + i], want_k[i]) << "key " << j << "," << i;  // SIMD read == scalar decoder
          ASSERT_EQ(row[i], want_k[i]);
          ASSERT_EQ(read_v[j * d + i], want_v[i]) << "value " << j << "," << i;
          ASSERT_LE(std::fabs(want_k[i] - xk[i]), error_bound(types.k, xk, i, d)) << "key " << j << "," << i;
          ASSERT_LE(std::fabs(want_v[i] - xv[i]), error_bound(types.v, xv, i, d)) << "value " << j << "," << i;
        }
      }
      EXPECT_EQ(f.cache.positions(l, h)[n - 1], 100 + n - 1);
    }
}

TEST_P(KvCacheTypes, BytesAreExactPerType) {
  const KvType type = GetParam();
  KvCache cache(2, 3, 64, {type, type});
  const int64_t f32_entry = 2 * 64 * 4;
  const int64_t want_entry = type == KvType::F32 ? f32_entry
                             : type == KvType::Q8_0 ? f32_entry * 34 / 128
                             : type == KvType::Q4_0 ? f32_entry * 18 / 128
                                                    : f32_entry / 2;
  EXPECT_EQ(cache.entry_bytes(), want_entry);
  EXPECT_EQ(kv_entry_bytes({type, type}, 64), want_entry);
  Filled f = make_filled(type, 20);
  EXPECT_EQ(f.cache.bytes(), 2 * 3 * 20 * f.cache.entry_bytes());
  EXPECT_EQ(f.cache.entry_bytes(), kv_row_bytes(f.cache.types().k, 64) + kv_row_bytes(f.cache.types().v, 64));
  const std::vector<int64_t> keep = {1, 4, 19};
  f.cache.keep(1, 2, keep);
  EXPECT_EQ(f.cache.bytes(), (2 * 3 * 20 - 17) * f.cache.entry_bytes());
}

TEST_P(KvCacheTypes, KeepMovesEncodedRowsBitExactly) {
  Filled f = make_filled(GetParam(), 30);
  const KvCache before = f.cache;
  const std::vector<int64_t> keep0 = {0, 3, 5, 29};
  const std::vector<int64_t> keep1 = {2};
  f.cache.keep(0, 0, keep0);
  f.cache.keep(0, 1, keep1);
  EXPECT_EQ(f.cache.length(0, 0), 4);
  EXPECT_EQ(f.cache.length(0, 1), 1);
  EXPECT_EQ(f.cache.length(0, 2), 30);
  EXPECT_EQ(f.cache.length(1, 0), 30);
  for (size_t i = 0; i < keep0.size(); ++i) {
    const KvRows k = f.cache.keys(0, 0), k0 = before.keys(0, 0), v = f.cache.values(0, 0), v0 = before.values(0, 0);
    EXPECT_EQ(std::memcmp(k.row((int64_t)i), k0.row(keep0[i]), k.row_bytes), 0);
    EXPECT_EQ(std::memcmp(v.row((int64_t)i), v0.row(keep0[i]), v.row_bytes), 0);
    EXPECT_EQ(f.cache.positions(0, 0)[i], 100 + keep0[i]);
  }
  EXPECT_EQ(std::memcmp(f.cache.keys(0, 1).row(0), before.keys(0, 1).row(2), f.cache.keys(0, 1).row_bytes), 0);
}

TEST_P(KvCacheTypes, TruncateRestoresSnapshotBitExactly) {
  Filled f = make_filled(GetParam(), 12);
  const std::vector<int64_t> keep = {1, 2, 7};
  f.cache.keep(1, 0, keep);
  const auto snapshot = f.cache.lengths();
  const KvRows k = f.cache.keys(1, 0);
  const std::vector<uint8_t> bytes_before(k.data, k.data + 3 * k.row_bytes);
  std::vector<float> kv((size_t)(3 * 64), 1.5f);
  const int32_t pos[1] = {999};
  f.cache.append(1, 1, kv.data(), kv.data(), pos);
  EXPECT_EQ(f.cache.length(1, 0), 4);
  f.cache.truncate(snapshot);
  EXPECT_EQ(f.cache.lengths(), snapshot);
  const KvRows after = f.cache.keys(1, 0);
  EXPECT_EQ(std::vector<uint8_t>(after.data, after.data + 3 * after.row_bytes), bytes_before);
}

TEST_P(KvCacheTypes, WriteKeysReencodes) {
  Filled f = make_filled(GetParam(), 8);
  std::vector<float> rows((size_t)(2 * 64));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = (float)i / 16.0f - 3.0f;
  f.cache.write_keys(0, 1, 5, 2, rows.data());
  std::vector<float> got(rows.size());
  f.cache.keys(0, 1).read(5, 2, got.data());
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_LE(std::fabs(got[i] - rows[i]), error_bound(f.cache.types().k, rows.data(), (int64_t)i, 128)) << i;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KvCacheTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(kv_type_name(info.param)); });

TEST(KvType, NamesParseAndBlocksAreChecked) {
  for (KvType t : kAllTypes) EXPECT_EQ(parse_kv_type(kv_type_name(t)), t);
  EXPECT_EQ(parse_kv_type("Q8_0"), KvType::Q8_0);
  EXPECT_FALSE(kv_type_from_name("q5_1").has_value());
  try {
    parse_kv_type("int4");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32|f16|bf16|q8_0|q4_0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(KvCache(1, 1, 40, {KvType::Q8_0, KvType::F16}), Error);  // 40 is not a multiple of 32
  EXPECT_THROW(KvCache(1, 1, 48, {KvType::F16, KvType::Q4_0}), Error);
  EXPECT_NO_THROW(KvCache(1, 1, 40, {KvType::F16, KvType::BF16}));
  EXPECT_EQ(KvTypes{}.k, KvType::F16);  // the default storage
  EXPECT_EQ(KvTypes{}.v, KvType::F16);
}

}  // namespace
}  // namespace kvpress
