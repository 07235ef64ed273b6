// KvCache: per-head lengths, compaction, byte accounting and bit-exact truncation.
#include <gtest/gtest.h>

#include "cache/kv_cache.h"

namespace kvpress {
namespace {

// 2 layers, 2 heads, head_dim 2; entry t of head h has key (t, h) and value (10t, h).
KvCache make_filled(int64_t n_tokens) {
  KvCache cache(2, 2, 2);
  for (int64_t l = 0; l < 2; ++l) {
    std::vector<float> k, v;
    std::vector<int32_t> pos;
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t h = 0; h < 2; ++h) {
        k.insert(k.end(), {(float)t, (float)h});
        v.insert(v.end(), {10.0f * t, (float)h});
      }
      pos.push_back((int32_t)t);
    }
    cache.append(l, n_tokens, k.data(), v.data(), pos.data());
  }
  return cache;
}

TEST(KvCache, AppendStoresPerHead) {
  KvCache cache = make_filled(5);
  EXPECT_EQ(cache.length(1, 1), 5);
  EXPECT_EQ(cache.keys(1, 1)[2 * 3], 3.0f);
  EXPECT_EQ(cache.keys(1, 1)[2 * 3 + 1], 1.0f);
  EXPECT_EQ(cache.values(0, 0)[2 * 4], 40.0f);
  EXPECT_EQ(cache.positions(0, 1)[4], 4);
  EXPECT_EQ(cache.bytes(), 2 * 2 * 5 * (2 * 2 * 4));
}

TEST(KvCache, KeepCompactsHeadsIndependently) {
  KvCache cache = make_filled(6);
  const std::vector<int64_t> keep0 = {0, 3, 5};
  const std::vector<int64_t> keep1 = {2};
  cache.keep(0, 0, keep0);
  cache.keep(0, 1, keep1);
  EXPECT_EQ(cache.length(0, 0), 3);
  EXPECT_EQ(cache.length(0, 1), 1);
  EXPECT_EQ(cache.length(1, 0), 6);
  EXPECT_EQ(cache.positions(0, 0)[1], 3);
  EXPECT_EQ(cache.keys(0, 0)[2 * 2], 5.0f);
  EXPECT_EQ(cache.values(0, 1)[0], 20.0f);
  // 3 + 1 + 6 + 6 entries of 16 bytes.
  EXPECT_EQ(cache.bytes(), 16 * 16);
}

TEST(KvCache, TruncateRestoresSnapshotBitExactly) {
  KvCache cache = make_filled(4);
  const std::vector<int64_t> keep = {1, 2};
  cache.keep(1, 0, keep);
  const auto snapshot = cache.lengths();
  const std::vector<float> keys_before(cache.keys(1, 0), cache.keys(1, 0) + 2 * 2);
  const float k[4] = {7, 7, 8, 8}, v[4] = {1, 1, 2, 2};
  const int32_t pos[1] = {9};
  cache.append(1, 1, k, v, pos);
  EXPECT_EQ(cache.length(1, 0), 3);
  cache.truncate(snapshot);
  EXPECT_EQ(cache.lengths(), snapshot);
  EXPECT_EQ(std::vector<float>(cache.keys(1, 0), cache.keys(1, 0) + 4), keys_before);
}

}  // namespace
}  // namespace kvpress
