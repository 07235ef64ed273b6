// Each seed press against an independent re-derivation of kvpress's formula (press_reference.cpp):
// scores per layer and head, and the kept positions after compaction, on tiny llama/qwen2/qwen3
// models at ratios 0.25, 0.5 and 0.9.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "press/press_registry.h"
#include "press_reference.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};

class PressScores : public ::testing::TestWithParam<std::string> {
 protected:
  static std::unique_ptr<Model> model_for(const std::string& arch) {
    TinyModelSpec spec;
    spec.arch = arch;
    spec.seed = 11;
    return make_tiny_model(spec);
  }

  // Runs `press_spec` at `ratio` over n_tokens and checks, per layer and head, the press's scores
  // against `reference` (relative tolerance) and its kept positions against the top-n_kept of them.
  void check(const std::string& press_spec, double ratio, int64_t n_tokens,
             const std::function<RefScores(const LayerSnapshot&, const ModelConfig&)>& reference) {
    auto model = model_for(GetParam());
    const auto& c = model->config();
    ThreadPool pool(2);
    auto press = make_press(press_spec, ratio);
    auto* scorer = dynamic_cast<ScorerPress*>(press.get());
    ASSERT_NE(scorer, nullptr) << press_spec;
    std::vector<HeadScores> scores;
    const auto run = prefill(*model, tiny_token_ids(n_tokens, 5), press.get(), pool, [&](const LayerPrefill& layer) {
      scores.emplace_back();
      scorer->score(layer, scores.back());
    });
    ASSERT_EQ((int64_t)run.snapshots.size(), c.n_layers);
    const int64_t n_kept = ref_kept_count(n_tokens, ratio);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const RefScores ref = reference(run.snapshots[l], c);
      ASSERT_EQ((int64_t)ref.size(), c.n_heads_kv);
      double scale = 0;
      for (const auto& row : ref)
        for (double v : row) scale = std::max(scale, std::fabs(v));
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const std::string where = press_spec + " ratio " + std::to_string(ratio) + " layer " + std::to_string(l) +
                                  " head " + std::to_string(h);
        ASSERT_EQ(scores[l].n_tokens, n_tokens) << where;
        for (int64_t j = 0; j < n_tokens; ++j)
          ASSERT_NEAR(scores[l].head(h)[j], ref[h][j], 1e-6 * scale + 2e-4 * std::fabs(ref[h][j]))
              << where << " position " << j;
        expect_top_selection(ref[h], kept_positions(run.cache, l, h), n_kept, 1e-5 * scale, where);
      }
    }
  }
};

TEST_P(PressScores, Knorm) {
  for (double r : kRatios) check("knorm", r, 100, [](const LayerSnapshot& s, const ModelConfig&) { return ref_knorm(s); });
  // S = 30 at 0.9: int(30 * 0.09999999999999998) = 2, not 3.
  check("knorm", 0.9, 30, [](const LayerSnapshot& s, const ModelConfig&) { return ref_knorm(s); });
}

TEST_P(PressScores, SnapKv) {
  for (double r : kRatios)
    check("snapkv", r, 100, [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 64, 5); });
  check("snapkv:window_size=8,kernel_size=3", 0.5, 30,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 8, 3); });
  check("snapkv:window_size=4,kernel_size=7", 0.9, 40,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 4, 7); });
}

TEST_P(PressScores, ExpectedAttention) {
  for (double r : kRatios)
    check("expected_attention_press", r, 100,
          [](const LayerSnapshot& s, const ModelConfig& c) { return ref_expected_attention(s, c, {}); });
  RefExpectedAttention o;
  o.n_future_positions = 16;
  o.n_sink = 2;
  o.use_covariance = false;
  o.epsilon = 0.01;
  check("expected_attention_press:n_future_positions=16,n_sink=2,use_covariance=false,epsilon=0.01", 0.5, 60,
        [&](const LayerSnapshot& s, const ModelConfig& c) { return ref_expected_attention(s, c, o); });
  RefExpectedAttention p;
  p.use_vnorm = false;
  p.n_sink = 0;
  check("expected_attention_press:use_vnorm=false,n_sink=0", 0.25, 50,
        [&](const LayerSnapshot& s, const ModelConfig& c) { return ref_expected_attention(s, c, p); });
}

TEST_P(PressScores, StreamingLlm) {
  for (double r : kRatios)
    check("streaming_llm", r, 100, [r](const LayerSnapshot& s, const ModelConfig& c) {
      return ref_streaming_llm(c.n_heads_kv, s.length(0), 4, r);
    });
  // Exact kept sets: the sinks and the most recent n_kept - n_sink tokens.
  auto model = model_for(GetParam());
  ThreadPool pool(1);
  auto press = make_press("streaming_llm:n_sink=3", 0.5);
  const auto run = prefill(*model, tiny_token_ids(20, 3), press.get(), pool);
  for (int64_t l = 0; l < model->config().n_layers; ++l)
    for (int64_t h = 0; h < model->config().n_heads_kv; ++h)
      EXPECT_EQ(kept_positions(run.cache, l, h), (std::vector<int32_t>{0, 1, 2, 13, 14, 15, 16, 17, 18, 19}));
}

TEST_P(PressScores, Tova) {
  for (double r : kRatios) check("tova", r, 100, [](const LayerSnapshot& s, const ModelConfig& c) { return ref_tova(s, c); });
}

TEST_P(PressScores, ObservedAttention) {
  for (double r : kRatios)
    check("observed_attention", r, 100,
          [](const LayerSnapshot& s, const ModelConfig& c) { return ref_observed_attention(s, c); });
}

TEST_P(PressScores, AdaKvOverExpectedAttention) {
  auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  RefExpectedAttention o;
  o.epsilon = 0.01;
  bool saw_unequal_heads = false;
  for (double r : kRatios) {
    auto press = make_press("expected_attention", r);  // = adakv(expected_attention_press:epsilon=0.01)
    const auto run = prefill(*model, tiny_token_ids(100, 5), press.get(), pool);
    const int64_t n_kept = ref_kept_count(100, r), n_safe = (int64_t)std::trunc((double)n_kept * 0.2);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const auto expected = ref_adakv_keep(ref_expected_attention(run.snapshots[l], c, o), r, 0.2);
      int64_t total = 0;
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(run.cache, l, h);
        EXPECT_EQ(kept, expected[h]) << "ratio " << r << " layer " << l << " head " << h;
        EXPECT_GE((int64_t)kept.size(), n_safe);
        for (int32_t sink = 0; sink < 4 && n_kept >= 4; ++sink)
          EXPECT_TRUE(std::find(kept.begin(), kept.end(), sink) != kept.end()) << "sink " << sink << " dropped";
        total += (int64_t)kept.size();
        if (run.cache.length(l, h) != run.cache.length(l, 0)) saw_unequal_heads = true;
      }
      EXPECT_EQ(total, c.n_heads_kv * n_kept) << "ratio " << r << " layer " << l;
      EXPECT_EQ(run.cache.bytes(), run.cache.total_entries() * 2 * c.head_dim * (int64_t)sizeof(float));
    }
  }
  EXPECT_TRUE(saw_unequal_heads) << "AdaKV never gave heads different budgets: compaction untested";
}

TEST_P(PressScores, RandomSeededDrawsRepeatEveryLayer) {
  auto model = model_for(GetParam());
  ThreadPool pool(1);
  const auto ids = tiny_token_ids(50, 9);
  auto seeded = make_press("random:seed=123", 0.5);
  const auto a = prefill(*model, ids, seeded.get(), pool);
  auto unseeded = make_press("random", 0.5);
  const auto b = prefill(*model, ids, unseeded.get(), pool);
  bool layers_differ = false;
  for (int64_t h = 0; h < model->config().n_heads_kv; ++h) {
    EXPECT_EQ(kept_positions(a.cache, 0, h), kept_positions(a.cache, 1, h));
    EXPECT_EQ(a.cache.length(0, h), 25);
    layers_differ |= kept_positions(b.cache, 0, h) != kept_positions(b.cache, 1, h);
  }
  EXPECT_TRUE(layers_differ) << "unseeded draws should continue across layers";
}

INSTANTIATE_TEST_SUITE_P(Archs, PressScores, ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace kvpress::testing
