// ThinK (spec §2.10) against an independent re-derivation (press_reference_channels.cpp): the kept key
// channels of every layer and KV head on tiny llama/qwen2/qwen3 models at key channel ratios 0.25, 0.5
// and 0.75, alone and after SnapKV in snap_think; the ratio mapping (compression_ratio = key ratio / 2)
// and the parameter's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kv_rows_util.h"
#include "press/press_registry.h"
#include "press_reference_channels.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kKeyRatios[] = {0.25, 0.5, 0.75};
constexpr int64_t kContext = 60;

std::unique_ptr<Model> model_for(const std::string& arch) {
  TinyModelSpec spec;
  spec.arch = arch;
  spec.seed = 13;
  spec.head_dim = 32;
  return make_tiny_model(spec);
}

std::vector<int32_t> channels_of(const KvRows& keys) {
  return keys.pruned() ? std::vector<int32_t>(keys.channels, keys.channels + keys.n_channels) : std::vector<int32_t>{};
}

// Every entry of the head holds its snapshot key on the kept channels and 0 on the others.
void expect_keys_pruned_to(const KvCache& cache, int64_t l, int64_t h, const std::vector<float>& original_rows,
                           const std::vector<int32_t>& original_index, const std::vector<int32_t>& channels,
                           int64_t d) {
  const auto stored = decoded(cache.keys(l, h));
  std::vector<bool> kept((size_t)d, false);
  for (int32_t c : channels) kept[c] = true;
  for (size_t i = 0; i < original_index.size(); ++i)
    for (int64_t e = 0; e < d; ++e)
      ASSERT_EQ(stored[i * d + e], kept[e] ? original_rows[original_index[i] * d + e] : 0.0f)
          << "layer " << l << " head " << h << " entry " << i << " channel " << e;
}

class ThinkScores : public ::testing::TestWithParam<std::string> {};

TEST_P(ThinkScores, KeepsTheReferenceChannels) {
  const auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext, 5);
  for (int64_t window : {int64_t{32}, int64_t{8}, int64_t{100}}) {  // 100 > T: kvpress's slice takes the whole pass
    for (double ratio : kKeyRatios) {
      SCOPED_TRACE("window " + std::to_string(window) + " key ratio " + std::to_string(ratio));
      auto press = make_press("think:window_size=" + std::to_string(window), ratio);
      const auto run = prefill(*model, ids, press.get(), pool);
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto ref = ref_think_kept_channels(run.snapshots[l], c, ratio, window);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          ASSERT_EQ(run.cache.length(l, h), kContext) << "ThinK keeps every token";
          EXPECT_EQ((int64_t)ref[h].size(), c.head_dim - (int64_t)((double)c.head_dim * ratio));
          EXPECT_EQ(channels_of(run.cache.keys(l, h)), ref[h]) << "layer " << l << " head " << h;
          std::vector<int32_t> all(kContext);
          for (int64_t j = 0; j < kContext; ++j) all[j] = (int32_t)j;
          expect_keys_pruned_to(run.cache, l, h, run.snapshots[l].keys[h], all, ref[h], c.head_dim);
        }
      }
    }
  }
}

// snap_think = composed(snapkv, think): SnapKV's tokens, then ThinK on the keys SnapKV kept.
TEST_P(ThinkScores, SnapThinkPrunesChannelsOfTheSnapKvSelection) {
  const auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext + 40, 8);  // SnapKV's window is 64
  for (double ratio : {0.25, 0.5}) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto snap = make_press("snapkv", ratio);
    auto snap_think = make_press("snap_think", ratio);
    const auto a = prefill(*model, ids, snap.get(), pool);
    const auto b = prefill(*model, ids, snap_think.get(), pool);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      LayerSnapshot after_snapkv = b.snapshots[l];  // what ThinK saw: SnapKV's kept keys
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(b.cache, l, h);
        ASSERT_EQ(kept, kept_positions(a.cache, l, h)) << "layer " << l << " head " << h;
        std::vector<float> rows;
        for (int32_t p : kept)
          rows.insert(rows.end(), &b.snapshots[l].keys[h][p * c.head_dim], &b.snapshots[l].keys[h][(p + 1) * c.head_dim]);
        after_snapkv.keys[h] = rows;
        after_snapkv.key_positions[h] = kept;
      }
      const auto ref = ref_think_kept_channels(after_snapkv, c, ratio, 32);
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        EXPECT_EQ(channels_of(b.cache.keys(l, h)), ref[h]) << "layer " << l << " head " << h;
        expect_keys_pruned_to(b.cache, l, h, b.snapshots[l].keys[h], kept_positions(b.cache, l, h), ref[h], c.head_dim);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ThinkScores, ::testing::Values("llama", "qwen2", "qwen3"));

TEST(ThinkPress, RatioMapping) {
  // The ratio given to the press is its key channel ratio; compression_ratio reports half of it (kvpress).
  auto p = make_press("think", 0.5);
  EXPECT_EQ(p->name(), "think:window_size=32");
  EXPECT_DOUBLE_EQ(p->compression_ratio(), 0.25);
  // A fixed key_channel_compression_ratio ignores the given ratio (composed(snapkv,think:...) members differ).
  auto fixed = make_press("think:key_channel_compression_ratio=0.25", 0.6);
  EXPECT_EQ(fixed->name(), "think:key_channel_compression_ratio=0.25,window_size=32");
  EXPECT_DOUBLE_EQ(fixed->compression_ratio(), 0.125);
  EXPECT_EQ(make_press(fixed->name(), 0.0)->name(), fixed->name());
  auto st = make_press("snap_think", 0.5);
  EXPECT_EQ(st->name(), "composed(snapkv:window_size=64,kernel_size=5,think:window_size=32)");
  EXPECT_DOUBLE_EQ(st->compression_ratio(), 0.5 * 0.25);  // kvpress's ComposedPress: the product

  const auto model = model_for("llama");
  ThreadPool pool(2);
  const auto run = prefill(*model, tiny_token_ids(kContext, 3), fixed.get(), pool);
  EXPECT_EQ(run.cache.keys(0, 0).n_channels, 32 - 8);
}

TEST(ThinkPress, ReRotationAndPiecesAfterItAreRefused) {
  const auto model = model_for("llama");
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext, 3);
  for (const char* spec : {"composed(think,key_rerotation(knorm))", "composed(think,chunk(knorm):chunk_length=20)"}) {
    auto press = make_press(spec, 0.5);
    try {
      prefill(*model, ids, press.get(), pool);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("think"), std::string::npos) << e.what();
    }
  }
  // The other order works: the re-rotated keys are then pruned.
  auto ok = make_press("composed(key_rerotation(knorm),think)", 0.5);
  const auto run = prefill(*model, ids, ok.get(), pool);
  EXPECT_TRUE(run.cache.keys(0, 0).pruned());
  EXPECT_EQ(run.cache.length(0, 0), kept_count(kContext, 0.5));
}

TEST(ThinkPress, RejectsBadParameters) {
  for (const char* spec : {"think:key_channel_compression_ratio=1", "think:key_channel_compression_ratio=-0.1",
                           "think:window_size=0"}) {
    try {
      make_press(spec, 0.0);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("think"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kvpress::testing
