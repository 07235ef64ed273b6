// Channel-pruned keys (ThinK, spec §2.10) for every storage type: what prune_key_channels stores and
// reads back, exact byte accounting at the stored width, compaction / truncation / later appends, and
// attention over the pruned cache against attention over a whole-width cache whose pruned channels are
// zero (kvpress's zeroed channels): the same up to summation order (f32, f16, bf16) or up to the
// re-quantization of the kept channels in their own blocks (q8_0, q4_0).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "cache/kv_cache.h"
#include "kv_rows_util.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

using testing::expected_row_bytes;

constexpr int64_t kD = 64, kHeadsKv = 2, kHeads = 4;

std::vector<float> random_rows(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Kept channels of head h: a fixed pseudo-random subset of n of the kD channels, ascending.
std::vector<int32_t> some_channels(int64_t n, uint64_t seed) {
  std::vector<int32_t> all(kD);
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize((size_t)n);
  std::sort(all.begin(), all.end());
  return all;
}

int64_t stored_width(KvType t, int64_t n_channels) {
  const int64_t block = t == KvType::Q8_0 || t == KvType::Q4_0 ? 32 : 1;
  return (n_channels + block - 1) / block * block;
}

// A one-layer cache of S entries per head (positions 0..S-1), keys and values from `seed`.
KvCache filled_cache(KvType t, int64_t S, uint64_t seed) {
  KvCache cache(1, kHeadsKv, kD, {t, t});
  const auto k = random_rows(S * kHeadsKv * kD, seed), v = random_rows(S * kHeadsKv * kD, seed + 1);
  std::vector<int32_t> pos((size_t)S);
  std::iota(pos.begin(), pos.end(), 0);
  cache.append(0, S, k.data(), v.data(), pos.data());
  return cache;
}

class ChannelPruning : public ::testing::TestWithParam<KvType> {};

TEST_P(ChannelPruning, StoresTheKeptChannelsAndZeroesTheOthers) {
  const KvType t = GetParam();
  const int64_t S = 40;
  KvCache cache = filled_cache(t, S, 3);
  const auto before = testing::decoded(cache.keys(0, 1));
  const auto channels = some_channels(24, 7);
  cache.prune_key_channels(0, 1, channels);
  EXPECT_TRUE(cache.has_pruned_keys());
  EXPECT_TRUE(cache.has_pruned_keys(0));
  const KvRows keys = cache.keys(0, 1);
  ASSERT_TRUE(keys.pruned());
  EXPECT_EQ(keys.n_narrow(), S);
  EXPECT_EQ(keys.n_rows, S);
  EXPECT_EQ(keys.head_dim(), kD);
  EXPECT_EQ(keys.narrow.n_cols, stored_width(t, 24));
  EXPECT_EQ(keys.data, nullptr);  // not addressable as one matrix
  EXPECT_FALSE(cache.keys(0, 0).pruned());
  const auto after = testing::decoded(keys);
  std::vector<bool> kept(kD, false);
  for (int32_t c : channels) kept[c] = true;
  const bool exact = t == KvType::F32 || t == KvType::F16 || t == KvType::BF16;
  for (int64_t j = 0; j < S; ++j) {
    float amax = 0;
    for (int64_t e = 0; e < kD; ++e) amax = std::max(amax, std::fabs(before[j * kD + e]));
    for (int64_t e = 0; e < kD; ++e) {
      const float a = after[j * kD + e], b = before[j * kD + e];
      if (!kept[e]) {
        ASSERT_EQ(a, 0.0f);
      } else if (exact) {
        ASSERT_EQ(a, b) << "entry " << j << " channel " << e;
      } else {
        ASSERT_NEAR(a, b, 2 * amax / (t == KvType::Q8_0 ? 127 : 7)) << "entry " << j << " channel " << e;
      }
    }
    // row_f32 reads the same as read().
    std::vector<float> scratch(kD);
    const float* r = keys.row_f32(j, scratch.data());
    for (int64_t e = 0; e < kD; ++e) ASSERT_EQ(r[e], after[j * kD + e]);
  }
}

TEST_P(ChannelPruning, BytesAreExactThroughKeepTruncateAndAppend) {
  const KvType t = GetParam();
  const int64_t S = 50, n_ch = 24;
  KvCache cache = filled_cache(t, S, 5);
  const int64_t full_k = expected_row_bytes(t, kD), v = expected_row_bytes(t, kD);
  const int64_t narrow_k = expected_row_bytes(t, stored_width(t, n_ch));
  EXPECT_EQ(cache.bytes(), kHeadsKv * S * (full_k + v));
  for (int64_t h = 0; h < kHeadsKv; ++h) cache.prune_key_channels(0, h, some_channels(n_ch, 11 + h));
  EXPECT_EQ(cache.bytes(), kHeadsKv * S * (narrow_k + v));
  if (t == KvType::F32) EXPECT_EQ(narrow_k, 24 * 4);
  if (t == KvType::Q8_0) EXPECT_EQ(narrow_k, 34);  // 24 channels in one block of 32
  if (t == KvType::Q4_0) EXPECT_EQ(narrow_k, 18);

  // Later entries (question, answer) are stored whole.
  const auto k2 = random_rows(3 * kHeadsKv * kD, 9), v2 = random_rows(3 * kHeadsKv * kD, 10);
  const std::vector<int32_t> pos2 = {S, S + 1, S + 2};
  const auto snap = cache.lengths();
  const auto narrow_before = testing::decoded(cache.keys(0, 0));
  cache.append(0, 3, k2.data(), v2.data(), pos2.data());
  EXPECT_EQ(cache.bytes(), kHeadsKv * (S * (narrow_k + v) + 3 * (full_k + v)));
  const KvRows keys = cache.keys(0, 0);
  EXPECT_EQ(keys.n_narrow(), S);
  EXPECT_EQ(keys.full_rows().n_rows, 3);
  const auto all = testing::decoded(keys);
  std::vector<float> enc((size_t)kD);
  for (int64_t j = 0; j < 3; ++j) {
    // The appended keys read back as a whole-width cache stores them.
    KvCache whole(1, 1, kD, {t, t});
    const int32_t p = 0;
    whole.append(0, 1, &k2[(j * kHeadsKv + 0) * kD], &v2[(j * kHeadsKv + 0) * kD], &p);
    whole.keys(0, 0).read(0, 1, enc.data());
    for (int64_t e = 0; e < kD; ++e) ASSERT_EQ(all[(S + j) * kD + e], enc[e]);
  }
  // Truncation back to the snapshot restores the pruned cache bit-exactly.
  cache.truncate(snap);
  EXPECT_EQ(cache.bytes(), kHeadsKv * S * (narrow_k + v));
  EXPECT_EQ(testing::decoded(cache.keys(0, 0)), narrow_before);

  // Compaction keeps pruned entries pruned and whole ones whole.
  cache.append(0, 3, k2.data(), v2.data(), pos2.data());
  const auto rows = testing::decoded(cache.keys(0, 0));
  const std::vector<int64_t> idx = {0, 7, 49, 50, 52};
  cache.keep(0, 0, idx);
  const KvRows kept = cache.keys(0, 0);
  EXPECT_EQ(kept.n_narrow(), 3);
  EXPECT_EQ(kept.n_rows, 5);
  const auto kept_rows = testing::decoded(kept);
  for (size_t i = 0; i < idx.size(); ++i)
    for (int64_t e = 0; e < kD; ++e) ASSERT_EQ(kept_rows[i * kD + e], rows[idx[i] * kD + e]);
  // Head 0: 3 pruned + 2 whole entries; head 1: S pruned + 3 whole.
  EXPECT_EQ(cache.bytes(), 3 * (narrow_k + v) + 2 * (full_k + v) + S * (narrow_k + v) + 3 * (full_k + v));
  // Truncating into the pruned part, then clearing, leaves no pruned keys.
  cache.truncate(std::vector<int64_t>{2, 0});
  EXPECT_EQ(cache.keys(0, 0).n_narrow(), 2);
  EXPECT_EQ(cache.bytes(), 2 * (narrow_k + v));
  cache.clear();
  EXPECT_FALSE(cache.has_pruned_keys());
  EXPECT_EQ(cache.bytes(), 0);
}

TEST_P(ChannelPruning, WriteKeysStoresTheKeptChannels) {
  const KvType t = GetParam();
  KvCache cache = filled_cache(t, 10, 21);
  const auto channels = some_channels(32, 4);
  cache.prune_key_channels(0, 0, channels);
  const auto rows = random_rows(2 * kD, 8);
  cache.write_keys(0, 0, 3, 2, rows.data());
  std::vector<float> out(2 * kD);
  cache.keys(0, 0).read(3, 2, out.data());
  std::vector<bool> kept(kD, false);
  for (int32_t c : channels) kept[c] = true;
  for (int64_t i = 0; i < 2 * kD; ++i) {
    if (!kept[i % kD]) {
      ASSERT_EQ(out[i], 0.0f);
    } else if (t == KvType::F32) {
      ASSERT_EQ(out[i], rows[i]);
    } else {
      ASSERT_NEAR(out[i], rows[i], 0.35f);  // the type's rounding of N(0, 1) values
    }
  }
}

// Attention of prefill-like (causal, many rows) and decoding (one token) queries over a cache with
// pruned channels in both heads plus whole entries appended after, against the same entries stored
// whole with the pruned channels set to 0 (the decoded pruned keys, encoded again at head_dim).
TEST_P(ChannelPruning, AttentionEqualsAttentionWithZeroedChannels) {
  const KvType t = GetParam();
  const int64_t S = 300, extra = 5;
  ThreadPool pool(2);
  KvCache pruned = filled_cache(t, S, 31);
  pruned.prune_key_channels(0, 0, some_channels(24, 1));
  pruned.prune_key_channels(0, 1, some_channels(40, 2));
  KvCache zeroed(1, kHeadsKv, kD, {t, t});
  {
    std::vector<float> k((size_t)(S * kHeadsKv * kD)), v((size_t)(S * kHeadsKv * kD)), row((size_t)kD);
    for (int64_t h = 0; h < kHeadsKv; ++h)
      for (int64_t j = 0; j < S; ++j) {
        pruned.keys(0, h).read(j, 1, &k[(j * kHeadsKv + h) * kD]);
        pruned.values(0, h).read(j, 1, &v[(j * kHeadsKv + h) * kD]);
      }
    std::vector<int32_t> pos((size_t)S);
    std::iota(pos.begin(), pos.end(), 0);
    zeroed.append(0, S, k.data(), v.data(), pos.data());
  }
  const auto k2 = random_rows(extra * kHeadsKv * kD, 41), v2 = random_rows(extra * kHeadsKv * kD, 42);
  std::vector<int32_t> pos2((size_t)extra);
  std::iota(pos2.begin(), pos2.end(), (int32_t)S);
  pruned.append(0, extra, k2.data(), v2.data(), pos2.data());
  zeroed.append(0, extra, k2.data(), v2.data(), pos2.data());

  // The zero channels read back as zeros in both; the kept ones are what the pruned cache stores
  // (exactly, except q8_0 / q4_0 whose blocks now also hold the zeros).
  const double tol = t == KvType::Q8_0 ? 2e-2 : t == KvType::Q4_0 ? 2e-1 : 2e-5;
  const AttentionShape shape{kHeads, kHeadsKv, kD};
  for (int64_t n_q : {int64_t{1}, int64_t{150}}) {
    SCOPED_TRACE("queries " + std::to_string(n_q));
    const auto q = random_rows(n_q * kHeads * kD, 50 + n_q);
    std::vector<int32_t> q_pos((size_t)n_q);
    // Decoding: after every entry; prefill-like: spread over the entries (causal masking inside both parts).
    for (int64_t i = 0; i < n_q; ++i) q_pos[i] = n_q == 1 ? (int32_t)(S + extra) : (int32_t)(i * 2 + 10);
    std::vector<float> a((size_t)(n_q * kHeads * kD)), b(a.size());
    attention(q.data(), q_pos.data(), n_q, pruned, 0, shape, a.data(), pool);
    attention(q.data(), q_pos.data(), n_q, zeroed, 0, shape, b.data(), pool);
    double max_diff = 0;
    for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, (double)std::fabs(a[i] - b[i]));
    EXPECT_LE(max_diff, tol);
    // The probabilities presses read (attention_probs) agree as well.
    std::vector<float> pa((size_t)(S + extra)), pb(pa.size());
    for (int64_t h = 0; h < kHeadsKv; ++h) {
      attention_probs(q.data() + h * 2 * kD, q_pos[0], pruned, 0, h, pa.data());
      attention_probs(q.data() + h * 2 * kD, q_pos[0], zeroed, 0, h, pb.data());
      for (size_t j = 0; j < pa.size(); ++j) ASSERT_NEAR(pa[j], pb[j], tol) << "head " << h << " entry " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ChannelPruning,
                         ::testing::Values(KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0),
                         [](const auto& info) { return std::string(kv_type_name(info.param)); });

}  // namespace
}  // namespace kvpress
