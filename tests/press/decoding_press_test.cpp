// Decoding-time compression (spec §4): the bounded cache while generating (through the cache's own
// counters), no change when the target is never reached, and which entries each press keeps at its
// first compression, recomputed here from the spec's rules on the uncompressed run's cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/error.h"
#include "pipeline/generator.h"
#include "press/decoding_press.h"
#include "press/press_registry.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

class DecodingPressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TinyModelSpec spec;
    spec.seed = 5;
    spec.head_dim = 32;
    spec.context_length = 1 << 16;
    model_ = make_tiny_model(spec);
  }
  // Greedy generation after `prompt_len` prompt tokens (a prefill on an empty cache); on_step sees the
  // cache before each generated token is fed back.
  GenerateResult run(Press* press, KvCache& cache, int64_t prompt_len, int64_t new_tokens,
                     const std::function<void()>& on_step = {}) {
    GenerateOptions o;
    o.max_new_tokens = new_tokens;
    o.stop_at_end_of_generation = false;
    o.press = press;
    if (on_step) o.on_token = [&](int32_t) { on_step(); };
    const auto ids = tiny_token_ids(prompt_len, 9);
    return generate(*model_, cache, pool_, ids, 0, o);
  }
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST(FindDecodingRatio, LeavesExactlyTheTarget) {
  for (int64_t S : {2, 3, 17, 100, 1000, 1087, 2048, 4097, 100000})
    for (int64_t target : {1, 2, 16, 64, 1024, 2048}) {
      const double r = find_decoding_ratio(S, target);
      if (S <= target) {
        EXPECT_EQ(r, 0.0);
        continue;
      }
      EXPECT_GT(r, 0.0);
      EXPECT_LT(r, 1.0);
      EXPECT_EQ((int64_t)((double)S * (1.0 - r)), target) << "S " << S << " target " << target;
    }
}

// The bound: a 20k-token generation after a short prompt never holds more than
// target_size + compression_interval entries in any head, measured by the cache's high-water mark.
TEST_F(DecodingPressTest, TwentyThousandTokensStayBounded) {
  constexpr int64_t kTarget = 1024, kInterval = 64;
  // CAM's running attention costs an attention pass per token: a shorter run shows the same bound.
  for (const auto& [spec, kTokens] : std::vector<std::pair<std::string, int64_t>>{{"decoding(knorm)", 20000},
                                                                                   {"cam(streaming_llm)", 3000}}) {
    SCOPED_TRACE(spec);
    auto press = make_press(spec + ":target_size=1024,compression_interval=64", 0.0);
    KvCache cache = model_->make_cache();
    int64_t steps = 0, low = INT64_MAX, high = 0;
    run(press.get(), cache, 50, kTokens, [&] {
      const int64_t n = cache.length(1, 0);
      if (++steps > 2 * kTarget) low = std::min(low, n);  // long past the first compression
      high = std::max(high, n);
    });
    EXPECT_LE(cache.peak_entries_per_head(), kTarget + kInterval);
    EXPECT_GE(cache.peak_entries_per_head(), kTarget + kInterval - 1);
    // Between hooks the cache oscillates in [target, target + interval - 1] (kvpress's tested bound).
    EXPECT_EQ(low, kTarget);
    EXPECT_EQ(high, kTarget + kInterval - 1);
    EXPECT_LE(cache.peak_bytes(), cache.peak_entries_per_head() * cache.entry_bytes() * model_->config().n_layers *
                                      model_->config().n_heads_kv);
  }
}

// A target the sequence never reaches: the same tokens and the same cache as no press at all.
TEST_F(DecodingPressTest, TargetNeverReachedChangesNothing) {
  KvCache plain = model_->make_cache(), pressed = model_->make_cache();
  const auto a = run(nullptr, plain, 30, 60);
  auto press = make_press("decoding_knorm:target_size=90,compression_interval=4", 0.0);
  const auto b = run(press.get(), pressed, 30, 60);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(plain.lengths(), pressed.lengths());
  for (int64_t l = 0; l < plain.n_layers(); ++l)
    for (int64_t h = 0; h < plain.n_heads_kv(); ++h)
      EXPECT_EQ(kept_positions(plain, l, h), kept_positions(pressed, l, h));
}

// The first compression happens after `interval` decoding passes: up to then the run is the
// uncompressed one, so the kept set is recomputed from the plain run's cache at that point.
class FirstCompression : public DecodingPressTest {
 protected:
  static constexpr int64_t kPrompt = 20, kInterval = 8, kTarget = 24;
  // The plain cache right before the compression: prompt + kInterval decoded tokens.
  KvCache plain_cache() {
    KvCache cache = model_->make_cache();
    run(nullptr, cache, kPrompt, kInterval + 1);  // the last generated token is not fed back
    EXPECT_EQ(cache.length(0, 0), kPrompt + kInterval);
    return cache;
  }
  KvCache pressed_cache(const std::string& spec, const std::string& more = "") {
    auto press = make_press(spec + ":target_size=24,compression_interval=8" + more, 0.0);
    KvCache cache = model_->make_cache();
    run(press.get(), cache, kPrompt, kInterval + 1);
    return cache;
  }
  // The kTarget best of `score` (higher kept, ties to the lower position), ascending.
  static std::vector<int32_t> top(const std::vector<double>& score) {
    std::vector<int32_t> idx(score.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return score[a] > score[b]; });
    idx.resize(kTarget);
    std::sort(idx.begin(), idx.end());
    return idx;
  }
  static std::vector<std::vector<float>> rows(const KvRows& r) {
    std::vector<std::vector<float>> out((size_t)r.n_rows, std::vector<float>((size_t)r.n_cols));
    for (int64_t j = 0; j < r.n_rows; ++j) r.read(j, 1, out[j].data());
    return out;
  }
};

TEST_F(FirstCompression, KnormKeepsTheSmallestKeyNorms) {
  const KvCache plain = plain_cache(), pressed = pressed_cache("decoding(knorm)");
  for (int64_t l = 0; l < plain.n_layers(); ++l)
    for (int64_t h = 0; h < plain.n_heads_kv(); ++h) {
      std::vector<double> score;
      for (const auto& k : rows(plain.keys(l, h))) {
        double sq = 0;
        for (float x : k) sq += (double)x * x;
        score.push_back(-std::sqrt(sq));
      }
      EXPECT_EQ(kept_positions(pressed, l, h), top(score)) << "layer " << l << " head " << h;
    }
}

TEST_F(FirstCompression, StreamingLlmKeepsSinksAndTheMostRecent) {
  const KvCache pressed = pressed_cache("decoding(streaming_llm)");
  std::vector<int32_t> expected = {0, 1, 2, 3};
  for (int32_t p = kPrompt + kInterval - (kTarget - 4); p < kPrompt + kInterval; ++p) expected.push_back(p);
  for (int64_t l = 0; l < pressed.n_layers(); ++l)
    for (int64_t h = 0; h < pressed.n_heads_kv(); ++h) EXPECT_EQ(kept_positions(pressed, l, h), expected);
}

TEST_F(FirstCompression, KeyDiffDropsKeysAlignedWithTheMeanDirection) {
  const KvCache plain = plain_cache(), pressed = pressed_cache("decoding_keydiff");
  for (int64_t l = 0; l < plain.n_layers(); ++l)
    for (int64_t h = 0; h < plain.n_heads_kv(); ++h) {
      const auto keys = rows(plain.keys(l, h));
      std::vector<double> anchor(keys[0].size(), 0.0), norm;
      for (const auto& k : keys) {
        double sq = 0;
        for (float x : k) sq += (double)x * x;
        norm.push_back(std::sqrt(sq));
        for (size_t i = 0; i < k.size(); ++i) anchor[i] += k[i] / norm.back() / (double)keys.size();
      }
      double an = 0;
      for (double a : anchor) an += a * a;
      std::vector<double> score;
      for (size_t j = 0; j < keys.size(); ++j) {
        double dot = 0;
        for (size_t i = 0; i < anchor.size(); ++i) dot += keys[j][i] * anchor[i];
        score.push_back(-dot / (norm[j] * std::sqrt(an)));
      }
      EXPECT_EQ(kept_positions(pressed, l, h), top(score)) << "layer " << l << " head " << h;
    }
}

// CAM: every head keeps the positions best by the base scores averaged over heads; a kept value
// changes only by merges (V[e] / n_window) of merge candidates whose window covers it.
TEST_F(FirstCompression, CamKeepsHeadMeanTopAndOnlyMergesIntoWindows) {
  const KvCache plain = plain_cache(), pressed = pressed_cache("cam(knorm)", ",merge_budget=3");
  const int64_t S = kPrompt + kInterval, Hkv = plain.n_heads_kv();
  int64_t merged_rows = 0;
  for (int64_t l = 0; l < plain.n_layers(); ++l) {
    std::vector<double> mean((size_t)S, 0.0);
    for (int64_t h = 0; h < Hkv; ++h) {
      const auto keys = rows(plain.keys(l, h));
      for (int64_t j = 0; j < S; ++j) {
        double sq = 0;
        for (float x : keys[j]) sq += (double)x * x;
        mean[j] += -std::sqrt(sq) / (double)Hkv;
      }
    }
    const std::vector<int32_t> kept = top(mean);
    std::vector<int32_t> evicted;
    for (int32_t j = 0; j < S; ++j)
      if (!std::binary_search(kept.begin(), kept.end(), j)) evicted.push_back(j);
    // Candidates: the kInterval (= steps) best evicted, ties to later positions; here all 4 evicted.
    ASSERT_LE(evicted.size(), (size_t)kInterval);
    for (int64_t h = 0; h < Hkv; ++h) {
      EXPECT_EQ(kept_positions(pressed, l, h), kept);
      const auto before = rows(plain.values(l, h)), after = rows(pressed.values(l, h));
      for (size_t k = 0; k < kept.size(); ++k) {
        // Candidates whose window (next 3 kept after e) holds kept[k].
        std::vector<int32_t> covering;
        for (int32_t e : evicted) {
          const auto first = std::upper_bound(kept.begin(), kept.end(), e) - kept.begin();
          if ((int64_t)k >= first && (int64_t)k < first + 3) covering.push_back(e);
        }
        bool explained = false;
        for (uint32_t mask = 0; mask < (1u << covering.size()) && !explained; ++mask) {
          double worst = 0;
          for (size_t i = 0; i < before[kept[k]].size(); ++i) {
            double v = before[kept[k]][i];
            for (size_t c = 0; c < covering.size(); ++c) {
              if (!(mask >> c & 1)) continue;
              const int32_t e = covering[c];
              const auto first = std::upper_bound(kept.begin(), kept.end(), e) - kept.begin();
              const int64_t n_window = std::min<int64_t>(3, (int64_t)kept.size() - first);
              v += before[e][i] / (double)n_window;
            }
            // Merged rows are stored again in f16: half a unit in the last place of 11 bits.
            worst = std::max(worst, std::abs(v - after[k][i]) / std::max(1.0, std::abs(v)));
          }
          explained = worst < 1e-3;
        }
        EXPECT_TRUE(explained) << "layer " << l << " head " << h << " kept position " << kept[k];
        if (before[kept[k]] != after[k]) ++merged_rows;
      }
    }
  }
  EXPECT_GT(merged_rows, 0) << "no merge was drawn: the test would not see a wrong merge";
}

// compression_ratio_decoding: the target follows the tokens seen, max(1, int(seen * (1 - r))).
TEST_F(DecodingPressTest, CompressionRatioDecodingFollowsTheTokensSeen) {
  auto press = make_press("compression_ratio_decoding(knorm):compression_interval=10", 0.5);
  KvCache cache = model_->make_cache();
  run(press.get(), cache, 40, 101);  // 100 decoding passes: compressions at passes 10, 20, ..., 100
  // Last compression at the pass of position 139: seen 140, target 70.
  EXPECT_EQ(cache.length(0, 0), 70);
  EXPECT_EQ(press->compression_ratio(), 0.5);
}

// prefill_decoding: its prefill press compresses the prompt, its decoding press the generation.
TEST_F(DecodingPressTest, PrefillDecodingRunsBothPhases) {
  auto press = make_press("prefill_decoding(knorm,decoding(knorm):target_size=30,compression_interval=5)", 0.5);
  KvCache cache = model_->make_cache();
  int64_t first = -1;
  run(press.get(), cache, 40, 30, [&] {
    if (first < 0) first = cache.length(0, 0);
  });
  EXPECT_EQ(first, 20);  // int(40 * 0.5) after the prompt's prefill
  EXPECT_LE(cache.peak_entries_per_head(), 40);  // the prompt's own prefill held 40
  EXPECT_LE(cache.length(0, 0), 30 + 5 - 1);
}

// AdaKV bases: heads end with different lengths, and the next compressions score each head alone and
// keep the layer's budget (n_heads_kv * target_size entries, the mean head at the target).
TEST_F(DecodingPressTest, AdaKvBasesKeepTheLayerBudgetAcrossCompressions) {
  for (const std::string spec : {"decoding_adakv_snapkv:window_size=4,target_size=40,compression_interval=8",
                                 "decoding_adakv_expected_attention_e2:target_size=40,compression_interval=8"}) {
    SCOPED_TRACE(spec);
    auto press = make_press(spec, 0.0);
    KvCache cache = model_->make_cache();
    const int64_t Hkv = cache.n_heads_kv();
    bool ragged = false;
    int64_t steps = 0;
    run(press.get(), cache, 30, 101, [&] {
      ++steps;
      for (int64_t l = 0; l < cache.n_layers(); ++l) {
        int64_t total = 0;
        for (int64_t h = 0; h < Hkv; ++h) {
          total += cache.length(l, h);
          ragged |= cache.length(l, h) != cache.length(l, 0);
        }
        // Before the first compression (pass 16: 46 entries) the layer only grows; after it, the
        // budget plus at most interval - 1 passes.
        if (steps > 17) {
          EXPECT_GE(total, Hkv * 40) << "layer " << l << " step " << steps;
          EXPECT_LE(total, Hkv * (40 + 7)) << "layer " << l << " step " << steps;
        }
      }
    });
    EXPECT_TRUE(ragged) << "the heads never differed: the test would not see the ragged path";
    // 100 decoding passes: the last compression at pass 96, then 4 more entries per head.
    for (int64_t l = 0; l < cache.n_layers(); ++l) {
      int64_t total = 0;
      for (int64_t h = 0; h < Hkv; ++h) total += cache.length(l, h);
      EXPECT_EQ(total, Hkv * (40 + 4)) << "layer " << l;
    }
  }
}

TEST(DecodingPressSpec, ParametersAndErrors) {
  auto p = make_press("decoding_knorm:target_size=100,compression_interval=7", 0.0);
  EXPECT_EQ(p->name(), "decoding(knorm):compression_interval=7,target_size=100,hidden_states_buffer_size=256");
  EXPECT_FALSE(p->acts_on_prefill());
  EXPECT_TRUE(p->acts_on_decoding());
  EXPECT_EQ(make_press(p->name(), 0.0)->name(), p->name());  // the name reads back
  EXPECT_EQ(make_press("cam_knorm", 0.0)->name(),
            "cam(knorm):compression_interval=512,target_size=2048,hidden_states_buffer_size=256,merge_budget=32");
  const auto message = [](const std::string& spec, double ratio) {
    try {
      make_press(spec, ratio);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("decoding(knorm)", 0.5).find("target_size"), std::string::npos);
  EXPECT_NE(message("decoding(observed_attention)", 0.0).find("hidden states"), std::string::npos);
  EXPECT_NE(message("decoding(decoding(knorm))", 0.0).find("prefill press inside"), std::string::npos);
  EXPECT_NE(message("composed(knorm,decoding(knorm))", 0.0).find("prefill_decoding"), std::string::npos);
  EXPECT_NE(message("prefill_decoding(knorm,knorm)", 0.0).find("second press"), std::string::npos);
  EXPECT_NE(message("decoding(knorm):compression_interval=0", 0.0).find("compression_interval"), std::string::npos);
}

}  // namespace
}  // namespace kvpress::testing
