// Each seed press against an independent re-derivation of kvpress's formula (press_reference.cpp):
// scores per layer and head, and the kept positions after compaction, on tiny llama/qwen2/qwen3
// models at ratios 0.25, 0.5 and 0.9.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <map>
#include <numeric>

#include "core/error.h"
#include "press/press_registry.h"
#include "kv_rows_util.h"
#include "press_reference.h"
#include "kv_rows_util.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};

// Expects an AdaKV result equal to the reference selection, except for entries whose reference
// score sits within tol of a cut-off (float scores can tie or swap where doubles differ by an ulp).
void expect_adakv_selection(const KvCache& cache, int64_t layer, const RefScores& ref, const AdaKvSelection& sel,
                            double tol, const std::string& where) {
  for (size_t h = 0; h < ref.size(); ++h) {
    const auto kept = kept_positions(cache, layer, (int64_t)h);
    if (kept == sel.kept[h]) continue;
    std::vector<int32_t> diff;
    std::set_symmetric_difference(kept.begin(), kept.end(), sel.kept[h].begin(), sel.kept[h].end(),
                                  std::back_inserter(diff));
    for (int32_t j : diff) {
      const double v = ref[h][j];
      EXPECT_TRUE(std::fabs(v - sel.global_cutoff) <= tol || std::fabs(v - sel.safe_cutoff[h]) <= tol)
          << where << " head " << h << ": position " << j << " (score " << v << ") differs from the reference "
          << "selection away from its cut-offs " << sel.global_cutoff << " / " << sel.safe_cutoff[h];
    }
  }
}

double max_abs(const RefScores& r) {
  double m = 0;
  for (const auto& row : r)
    for (double v : row) m = std::max(m, std::fabs(v));
  return m;
}

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

TEST_P(PressScores, KeyDiff) {
  for (double r : kRatios)
    check("keydiff", r, 100, [](const LayerSnapshot& s, const ModelConfig&) { return ref_keydiff(s); });
}

TEST_P(PressScores, SnapKv) {
  for (double r : kRatios)
    check("snapkv", r, 100, [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 64, 5); });
  // n_kept = 50 < window_size = 64: the window ties at max+1 and the lower positions win.
  {
    auto model = model_for(GetParam());
    ThreadPool pool(1);
    auto press = make_press("snapkv", 0.5);
    const auto run = prefill(*model, tiny_token_ids(100, 5), press.get(), pool);
    std::vector<int32_t> expected(50);
    std::iota(expected.begin(), expected.end(), 36);
    for (int64_t h = 0; h < model->config().n_heads_kv; ++h) EXPECT_EQ(kept_positions(run.cache, 1, h), expected);
  }
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
      const RefScores ref = ref_expected_attention(run.snapshots[l], c, o);
      const auto expected = ref_adakv_keep(ref, r, 0.2);
      expect_adakv_selection(run.cache, l, ref, expected, 1e-5 * max_abs(ref), "ratio " + std::to_string(r) +
                             " layer " + std::to_string(l));
      int64_t total = 0;
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(run.cache, l, h);
        EXPECT_GE((int64_t)kept.size(), n_safe);
        for (int32_t sink = 0; sink < 4 && n_kept >= 4; ++sink)
          EXPECT_TRUE(std::find(kept.begin(), kept.end(), sink) != kept.end()) << "sink " << sink << " dropped";
        total += (int64_t)kept.size();
        if (run.cache.length(l, h) != run.cache.length(l, 0)) saw_unequal_heads = true;
      }
      EXPECT_EQ(total, c.n_heads_kv * n_kept) << "ratio " << r << " layer " << l;
      const KvTypes t = run.cache.types();
      EXPECT_EQ(run.cache.bytes(), run.cache.total_entries() * (expected_row_bytes(t.k, c.head_dim) +
                                                               expected_row_bytes(t.v, c.head_dim)));
    }
  }
  EXPECT_TRUE(saw_unequal_heads) << "AdaKV never gave heads different budgets: compaction untested";
}

// AdaKV over other scorers: the safeguard must matter (knorm budgets differ a lot between heads) and
// the tie order must matter (snapkv's window entries tie at max+1 in every head when the budget is
// smaller than the window).
TEST_P(PressScores, AdaKvSafeguardAndTies) {
  auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  struct Case { std::string inner; double alpha; double ratio; };
  const Case cases[] = {{"knorm", 0.0, 0.5},   {"knorm", 0.9, 0.5},   {"knorm", 0.5, 0.9},
                        {"expected_attention_press", 0.0, 0.5},   {"expected_attention_press", 0.9, 0.5},
                        {"snapkv", 0.2, 0.5},  {"snapkv", 0.2, 0.9}};
  std::map<std::string, std::vector<std::vector<int32_t>>> without_safeguard;  // inner -> kept per (layer, head)
  bool safeguard_mattered = false;
  for (const auto& k : cases) {
    const std::string spec = "adakv(" + k.inner + "):alpha_safeguard=" + std::to_string(k.alpha);
    auto press = make_press(spec, k.ratio);
    const auto run = prefill(*model, tiny_token_ids(100, 5), press.get(), pool);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const auto& snap = run.snapshots[l];
      const RefScores ref = k.inner == "knorm"    ? ref_knorm(snap)
                            : k.inner == "snapkv" ? ref_snapkv(snap, c, 64, 5)
                                                  : ref_expected_attention(snap, c, {});
      const auto expected = ref_adakv_keep(ref, k.ratio, k.alpha);
      const std::string where = spec + " ratio " + std::to_string(k.ratio) + " layer " + std::to_string(l);
      if (k.inner == "snapkv") {
        // n_kept < window_size: every kept entry is a window entry at max+1 (or a safeguard), so the
        // selection is decided by the documented tie order alone and must match exactly.
        for (int64_t h = 0; h < c.n_heads_kv; ++h) EXPECT_EQ(kept_positions(run.cache, l, h), expected.kept[h]) << where;
      }
      expect_adakv_selection(run.cache, l, ref, expected, 1e-5 * max_abs(ref), where);
      int64_t total = 0;
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        total += run.cache.length(l, h);
        if (k.alpha == 0.0) without_safeguard[k.inner].push_back(expected.kept[h]);
        if (k.alpha == 0.9 && expected.kept[h] != without_safeguard[k.inner][l * c.n_heads_kv + h])
          safeguard_mattered = true;
      }
      EXPECT_EQ(total, c.n_heads_kv * ref_kept_count(100, k.ratio));
    }
  }
  EXPECT_TRUE(safeguard_mattered) << "alpha_safeguard=0.9 selected the same as 0: the safeguard is untested";
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

// kvpress asserts these requirements; we throw Error naming the press and the numbers.
TEST_P(PressScores, RequirementsAreErrors) {
  auto model = model_for(GetParam());
  ThreadPool pool(1);
  struct Case { std::string spec; int64_t n_tokens; std::string piece; };
  const Case cases[] = {{"snapkv", 64, "needs more than window_size=64 context tokens (got 64"},
                        {"adakv_snapkv", 20, "needs more than window_size=64"},
                        {"streaming_llm:n_sink=8", 8, "more context entries than n_sink=8"},
                        {"expected_attention", 4, "more context tokens than n_sink=4"},
                        {"tova", 1, "needs at least 2 context tokens"}};
  for (const auto& c : cases) {
    auto press = make_press(c.spec, 0.5);
    try {
      prefill(*model, tiny_token_ids(c.n_tokens, 1), press.get(), pool);
      ADD_FAILURE() << "no error for " << c.spec << " on " << c.n_tokens << " tokens";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.piece), std::string::npos) << e.what();
    }
  }
  // Just above the requirement it works.
  auto press = make_press("snapkv", 0.5);
  const auto run = prefill(*model, tiny_token_ids(65, 1), press.get(), pool);
  EXPECT_EQ(run.cache.length(0, 0), 32);
}

INSTANTIATE_TEST_SUITE_P(Archs, PressScores, ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace kvpress::testing
