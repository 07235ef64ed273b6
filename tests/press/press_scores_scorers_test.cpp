// Scorer presses of spec §2.9, §2.18 and §2.22 against independent re-derivations of kvpress's
// formulas (press_reference_scorers.cpp): scores per layer and head, and the kept positions after
// compaction, on tiny llama/qwen2/qwen3 models at two ratios or more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "pipeline/generator.h"
#include "pipeline/prefill.h"
#include "press/press_prefill.h"
#include "press/press_registry.h"
#include "press_reference.h"
#include "press_reference_scorers.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

using Reference = std::function<RefScores(const LayerSnapshot&, const ModelConfig&)>;

class ScorerPressScores : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Model> model(int64_t n_layers = 2) const {
    TinyModelSpec spec;
    spec.arch = GetParam();
    spec.seed = 11;
    spec.n_layers = n_layers;
    return make_tiny_model(spec);
  }

  // Runs `press_spec` at `ratio` over n_tokens and checks every layer's scores against `reference`
  // (relative tolerance) and its kept positions against the top-n_kept(layer) of the reference.
  void check(const Model& m, const std::string& press_spec, double ratio, int64_t n_tokens,
                   const Reference& reference, const std::function<int64_t(int64_t layer)>& n_kept_of = {},
                   double rel_tol = 2e-4, double abs_tol = 1e-6, const KvTypes& kv_types = {}) {
    const auto& c = m.config();
    ThreadPool pool(2);
    auto press = make_press(press_spec, ratio);
    auto* scorer = dynamic_cast<ScorerPress*>(press.get());
    ASSERT_NE(scorer, nullptr) << press_spec;
    std::vector<HeadScores> scores;
    const auto run = prefill(m, tiny_token_ids(n_tokens, 5), press.get(), pool, [&](const LayerPrefill& layer) {
      scores.emplace_back();
      scorer->score(layer, scores.back());
    }, kv_types);
    EXPECT_EQ((int64_t)run.snapshots.size(), c.n_layers);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const RefScores ref = reference(run.snapshots[l], c);
      EXPECT_EQ((int64_t)ref.size(), c.n_heads_kv);
      double scale = 0;
      for (const auto& row : ref)
        for (double v : row)
          if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
      const int64_t n_kept = n_kept_of ? n_kept_of(l) : ref_kept_count(n_tokens, ratio);
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const std::string where = press_spec + " ratio " + std::to_string(ratio) + " layer " + std::to_string(l) +
                                  " head " + std::to_string(h);
        EXPECT_EQ(scores[l].n_tokens, n_tokens) << where;
        for (int64_t j = 0; j < n_tokens; ++j)
          EXPECT_NEAR(scores[l].head(h)[j], ref[h][j], abs_tol * scale + rel_tol * std::fabs(ref[h][j]))
              << where << " position " << j;
        expect_top_selection(ref[h], kept_positions(run.cache, l, h), n_kept, 1e-5 * scale, where);
      }
    }
  }

  void expect_error(const std::string& spec, int64_t n_tokens, const std::string& piece) const {
    auto m = model();
    ThreadPool pool(1);
    auto press = make_press(spec, 0.5);
    try {
      prefill(*m, tiny_token_ids(n_tokens, 1), press.get(), pool);
      ADD_FAILURE() << "no error for " << spec << " on " << n_tokens << " tokens";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(piece), std::string::npos) << e.what();
    }
  }
};

// ---------------------------------------------------------------------------------------------- PyramidKV

TEST_P(ScorerPressScores, PyramidKvBudgetsShrinkWithDepth) {
  // window 8, S 100: the pyramid applies (max = S - w = 92); 4 layers give 4 different budgets.
  for (int64_t n_layers : {2, 4}) {
    auto m = model(n_layers);
    for (double r : {0.25, 0.5}) {
      std::vector<int64_t> budgets;
      for (int64_t l = 0; l < n_layers; ++l) budgets.push_back(ref_pyramidkv_budget(100, r, l, n_layers, 8, 20));
      for (int64_t l = 1; l < n_layers; ++l) EXPECT_LT(budgets[l], budgets[l - 1]) << "ratio " << r;
      check(*m, "pyramidkv:window_size=8,kernel_size=5", r, 100,
            [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 8, 5); },
            [&](int64_t l) { return budgets[l]; });
    }
  }
  // Written out: window 8, S 100, 2 layers, ratio 0.25 -> max 92, min 2*75 - 92 = 58.
  EXPECT_EQ(ref_pyramidkv_budget(100, 0.25, 0, 2, 8, 20), 92);
  EXPECT_EQ(ref_pyramidkv_budget(100, 0.25, 1, 2, 8, 20), 58);
}

TEST_P(ScorerPressScores, PyramidKvRoundsHalfToEven) {
  // S 101, ratio 0.5, window 8, 3 layers: budgets 93, round(50.5) = 50 (not 51), 8.
  EXPECT_EQ(ref_pyramidkv_budget(101, 0.5, 1, 3, 8, 20), 50);
  auto m = model(3);
  const int64_t expected[] = {93, 50, 8};
  check(*m, "pyramidkv:window_size=8", 0.5, 101,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 8, 5); },
        [&](int64_t l) { return expected[l]; });
  // Fallback (default window 64, S 103): round(51.5) = 52 in every layer, where int() would keep 51;
  // at 0.9, round(100 * 0.09999999999999998) = 10 (int() gives 9).
  check(*m, "pyramidkv", 0.5, 103,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 64, 5); },
        [](int64_t) { return 52; });
  check(*m, "pyramidkv", 0.9, 100,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_snapkv(s, c, 64, 5); },
        [](int64_t) { return 10; });
}

TEST_P(ScorerPressScores, PyramidKvMeanBudgetIsTheRatio) {
  // kvpress's test: the mean budget over layers is S(1 - r) (within rounding), here asked of the
  // press itself (layer_budget) for models of 2, 8 and 32 layers, and equal to the re-derivation.
  ThreadPool pool(1);
  for (int64_t L : {2, 8, 32}) {
    auto m = model(L);
    KvCache cache = m->make_cache();
    for (int64_t S : {500, 1000, 4096})
      for (double r : {0.1, 0.25, 0.5, 0.75}) {
        auto press = make_press("pyramidkv", r);
        const auto* scorer = press->scorer();
        double sum = 0;
        for (int64_t l = 0; l < L; ++l) {
          const LayerPrefill layer{*m, l, S, 0, nullptr, nullptr, 0, nullptr, cache, pool};
          const int64_t budget = scorer->layer_budget(layer, S);
          EXPECT_EQ(budget, ref_pyramidkv_budget(S, r, l, L, 64, 20)) << "L " << L << " S " << S << " r " << r;
          if (l > 0) { EXPECT_LE(budget, scorer->layer_budget({*m, l - 1, S, 0, nullptr, nullptr, 0, nullptr, cache, pool}, S)); }
          sum += (double)budget;
        }
        EXPECT_NEAR(sum / (double)L, (double)S * (1 - r), 1e-3 * (double)S * (1 - r) + 0.5)
            << "L " << L << " S " << S << " r " << r;
      }
  }
}

// Chunked prefill: after each pass a layer keeps min(held + chunk, budget(tokens read so far)).
TEST_P(ScorerPressScores, PyramidKvChunkedPrefillBudgets) {
  auto m = model(3);
  ThreadPool pool(1);
  for (double r : {0.25, 0.5}) {
    auto press = make_press("pyramidkv:window_size=8", r);
    KvCache cache = m->make_cache();
    PressPrefill hooks(press.get());
    prefill_context(*m, cache, pool, tiny_token_ids(200, 2), hooks, {}, 30);
    for (int64_t l = 0; l < 3; ++l) {
      int64_t held = 0;
      for (int64_t begin = 0; begin < 200; begin += 30) {
        const int64_t end = std::min<int64_t>(begin + 30, 200);
        held = std::min(held + end - begin, ref_pyramidkv_budget(end, r, l, 3, 8, 20));
      }
      for (int64_t h = 0; h < m->config().n_heads_kv; ++h)
        EXPECT_EQ(cache.length(l, h), held) << "ratio " << r << " layer " << l;
    }
  }
}

TEST_P(ScorerPressScores, PyramidKvRequirements) {
  expect_error("pyramidkv", 64, "press 'pyramidkv' needs more than window_size=64 context tokens (got 64");
  EXPECT_THROW(make_press("pyramidkv:beta=0", 0.5), Error);
  EXPECT_THROW(make_press("pyramidkv:kernel_size=4", 0.5), Error);
}

// -------------------------------------------------------------------------------------------------- LagKV

TEST_P(ScorerPressScores, LagKv) {
  auto m = model();
  // S = 100, lag 16: 6 full partitions after 4 sinks (the last one and the 0 rest are kept), 5 scored.
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "lagkv:lag_size=16", r, 100,
          [](const LayerSnapshot& s, const ModelConfig&) { return ref_lagkv(s, 4, 16, false); });
  // A remainder after the last full partition (S = 90, lag 20: 4 partitions and a rest of 6).
  check(*m, "lagkv:n_sink=0,lag_size=20", 0.5, 90,
        [](const LayerSnapshot& s, const ModelConfig&) { return ref_lagkv(s, 0, 20, false); });
  // cross_scoring keeps the softmax values.
  for (double r : {0.25, 0.75})
    check(*m, "lagkv:lag_size=12,cross_scoring=true", r, 100,
          [](const LayerSnapshot& s, const ModelConfig&) { return ref_lagkv(s, 4, 12, true); });
  // Shorter than n_sink + 2 lag (the default 128): recency order, sinks first.
  for (double r : {0.5, 0.9})
    check(*m, "lagkv", r, 100, [](const LayerSnapshot& s, const ModelConfig&) { return ref_lagkv(s, 4, 128, false); });
}

// ---------------------------------------------------------------------------------------------------- CUR

TEST_P(ScorerPressScores, Cur) {
  auto m = model();
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "cur", r, 100, [](const LayerSnapshot& s, const ModelConfig&) { return ref_cur(s, 4, "kv_product", 16); });
  for (const char* type : {"key", "value", "kv_avg", "kv_product"}) {
    const std::string t = type;
    check(*m, "cur:leverage_type=" + t, 0.5, 90,
          [&](const LayerSnapshot& s, const ModelConfig&) { return ref_cur(s, 4, t, 16); });
    check(*m, "cur:leverage_type=" + t + ",use_local_approximation=false,num_sinks=2", 0.75, 90,
          [&](const LayerSnapshot& s, const ModelConfig&) { return ref_cur(s, 2, t, 0); });
  }
  // A window that does not divide S (last window of 6 of 7 padded with zeros).
  check(*m, "cur:local_window_size=7", 0.5, 90,
        [](const LayerSnapshot& s, const ModelConfig&) { return ref_cur(s, 4, "kv_product", 7); });
  EXPECT_THROW(make_press("cur:leverage_type=sum", 0.5), Error);
}

// With the random projection the draws are seeded: the same selection for a fresh press and after
// reset(), and a different one from the exact norms.
TEST_P(ScorerPressScores, CurRandomLeverageIsSeeded) {
  auto m = model();
  ThreadPool pool(1);
  const auto ids = tiny_token_ids(100, 3);
  auto a = make_press("cur:use_random_leverage=true", 0.5), b = make_press("cur:use_random_leverage=true", 0.5);
  auto exact = make_press("cur", 0.5);
  const auto ra = prefill(*m, ids, a.get(), pool), rb = prefill(*m, ids, b.get(), pool);
  const auto ra2 = prefill(*m, ids, a.get(), pool), re = prefill(*m, ids, exact.get(), pool);
  bool differs = false;
  for (int64_t l = 0; l < m->config().n_layers; ++l)
    for (int64_t h = 0; h < m->config().n_heads_kv; ++h) {
      EXPECT_EQ(kept_positions(ra.cache, l, h), kept_positions(rb.cache, l, h));
      EXPECT_EQ(kept_positions(ra.cache, l, h), kept_positions(ra2.cache, l, h));
      EXPECT_EQ(ra.cache.length(l, h), 50);
      differs |= kept_positions(ra.cache, l, h) != kept_positions(re.cache, l, h);
    }
  EXPECT_TRUE(differs);
}

// ---------------------------------------------------------------------------------------------------- Cap

TEST_P(ScorerPressScores, Cap) {
  auto m = model();
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "cap", r, 100,
          [](const LayerSnapshot& s, const ModelConfig& c) { return ref_cap(s, c, 5.0, 512, 4, 1e-6); });
  check(*m, "cap:tau=1.5,n_future_positions=16,n_sink=0,epsilon=0.01", 0.5, 60,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_cap(s, c, 1.5, 16, 0, 0.01); });
  expect_error("cap", 4, "press 'cap' needs more context tokens than n_sink=4");
}

// --------------------------------------------------- Leverage, NonCausalAttn, Compactor (prefill only)

// Keys stored in f32 so that rotating them back gives the pre-RoPE keys the press recomputes.
const KvTypes kF32 = {KvType::F32, KvType::F32};

TEST_P(ScorerPressScores, Leverage) {
  auto m = model();
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "leverage", r, 100,
          [](const LayerSnapshot& s, const ModelConfig& c) { return ref_leverage(s, c, 0, s.length(0), 48); }, {},
          1e-3, 1e-4, kF32);
  check(*m, "leverage:sketch_dimension=8", 0.5, 70,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_leverage(s, c, 0, s.length(0), 8); }, {}, 1e-3,
        1e-4, kF32);
}

TEST_P(ScorerPressScores, NonCausalAttention) {
  auto m = model();
  // chunk 256 > S: one chunk, mostly padding (the padded queries spread mass over every key).
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "non_causal_attention", r, 100,
          [](const LayerSnapshot& s, const ModelConfig& c) { return ref_non_causal(s, c, 0, s.length(0), 256); }, {},
          1e-3, 1e-4);
  // chunk 32: three full chunks and a padded last one; chunk 25 divides S exactly (no padding).
  check(*m, "non_causal_attention:chunk_size=32", 0.5, 100,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_non_causal(s, c, 0, s.length(0), 32); }, {},
        1e-3, 1e-4);
  check(*m, "non_causal_attention:chunk_size=25", 0.75, 100,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_non_causal(s, c, 0, s.length(0), 25); }, {},
        1e-3, 1e-4);
}

TEST_P(ScorerPressScores, Compactor) {
  auto m = model();
  // blending none: beta = the compression ratio.
  for (double r : {0.25, 0.5, 0.9})
    check(*m, "compactor", r, 100,
          [r](const LayerSnapshot& s, const ModelConfig& c) { return ref_compactor(s, c, 8, 4, 256, 48, r); }, {},
          1e-3, 1e-4, kF32);
  check(*m, "compactor:blending=2,chunk_size=16,sink_size_start=2,sink_size_end=0,sketch_dimension=12", 0.5, 80,
        [](const LayerSnapshot& s, const ModelConfig& c) { return ref_compactor(s, c, 2, 0, 16, 12, 2.0); }, {}, 1e-3,
        1e-4, kF32);
  expect_error("compactor", 13, "press 'compactor' needs at least 2 context tokens between");
}

// These scores read every token of a single pass: a chunked prefill is refused with a message.
TEST_P(ScorerPressScores, PrefillOnlyPressesRefuseChunkedPrefill) {
  auto m = model();
  ThreadPool pool(1);
  for (const char* spec : {"leverage", "non_causal_attention", "compactor", "adakv_compactor"}) {
    auto press = make_press(spec, 0.5);
    KvCache cache = m->make_cache();
    PressPrefill hooks(press.get());
    try {
      prefill_context(*m, cache, pool, tiny_token_ids(100, 2), hooks, {}, 40);
      ADD_FAILURE() << "no error for " << spec;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("scores a single-shot prefill only"), std::string::npos) << e.what();
    }
  }
}

// Short contexts, chunked prefills, small parameters and every KV type: each press either works
// (keeping at most the context, every head the same count) or throws Error; never a crash.
TEST_P(ScorerPressScores, ShortContextsWorkOrThrowError) {
  TinyModelSpec model_spec;
  model_spec.arch = GetParam();
  model_spec.head_dim = 32;  // one q4_0 block per row
  auto m = make_tiny_model(model_spec);
  ThreadPool pool(1);
  const char* specs[] = {"pyramidkv:window_size=2",
                         "lagkv:lag_size=1,n_sink=0",
                         "lagkv:lag_size=3",
                         "lagkv:lag_size=2,cross_scoring=true",
                         "cur:local_window_size=1",
                         "cur:use_random_leverage=true,num_sinks=0",
                         "cap:n_sink=0",
                         "cap",
                         "leverage:sketch_dimension=1",
                         "non_causal_attention:chunk_size=1",
                         "compactor:sink_size_start=0,sink_size_end=0,chunk_size=3,sketch_dimension=2",
                         "adakv_compactor"};
  const KvType types[] = {KvType::F32, KvType::Q4_0};
  int64_t worked = 0, refused = 0;
  for (const char* spec : specs)
    for (int64_t n : {1, 2, 3, 5, 9, 14, 33})
      for (int64_t chunk : {0, 7})
        for (KvType t : types) {
          auto press = make_press(spec, 0.6);
          KvCache cache = m->make_cache({t, t});
          PressPrefill hooks(press.get());
          try {
            prefill_context(*m, cache, pool, tiny_token_ids(n, 4), hooks, {}, chunk);
          } catch (const Error&) {
            ++refused;
            continue;
          }
          ++worked;
          const bool adakv = std::string(spec).rfind("adakv", 0) == 0;
          for (int64_t l = 0; l < m->config().n_layers; ++l)
            for (int64_t h = 0; h < m->config().n_heads_kv; ++h) {
              EXPECT_LE(cache.length(l, h), n) << spec;
              if (!adakv) EXPECT_EQ(cache.length(l, h), cache.length(l, 0)) << spec << " n " << n;
            }
        }
  EXPECT_GT(worked, 100);
  EXPECT_GT(refused, 10);
}

// As decoding bases (spec §4.1): the cache-only and query-statistics scorers keep each head within
// [target, target + interval - 1] while generating; presses reading every token's hidden states are
// refused when the wrapper is built, non-causal attention (queries of every token) when it compresses.
TEST_P(ScorerPressScores, AsDecodingBases) {
  auto m = model();
  ThreadPool pool(1);
  for (const char* base : {"lagkv:lag_size=8", "cur", "cap"}) {
    auto press = make_press(std::string("decoding(") + base + "):target_size=24,compression_interval=8", 0.0);
    KvCache cache = m->make_cache();
    GenerateOptions o;
    o.max_new_tokens = 40;
    o.stop_at_end_of_generation = false;
    o.press = press.get();
    int64_t steps = 0;
    o.on_token = [&](int32_t) {
      if (++steps < 10) return;  // after the first compression (the 30-token prompt is not compressed)
      for (int64_t l = 0; l < m->config().n_layers; ++l)
        for (int64_t h = 0; h < m->config().n_heads_kv; ++h) {
          EXPECT_LE(cache.length(l, h), 24 + 8) << base;
          EXPECT_GE(cache.length(l, h), 24) << base;
        }
    };
    generate(*m, cache, pool, tiny_token_ids(30, 9), 0, o);
  }
  // PyramidKV's budgets would not follow target_size (layer 0 would grow without bound).
  for (const char* base : {"leverage", "compactor", "pyramidkv", "adakv(pyramidkv)"})
    EXPECT_THROW(make_press(std::string("decoding(") + base + ")", 0.0), Error) << base;
  auto press = make_press("decoding(non_causal_attention):target_size=24,compression_interval=8", 0.0);
  KvCache cache = m->make_cache();
  GenerateOptions o;
  o.max_new_tokens = 20;
  o.stop_at_end_of_generation = false;
  o.press = press.get();
  try {
    generate(*m, cache, pool, tiny_token_ids(30, 9), 0, o);
    ADD_FAILURE() << "decoding(non_causal_attention) compressed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("single-shot prefill only"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ScorerPressScores, ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace kvpress::testing
