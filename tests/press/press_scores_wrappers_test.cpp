// The wrapper presses of spec §2.14, 2.15, 2.19, 2.20, 2.22 against independent re-derivations
// (press_reference_wrappers.cpp): scores and kept positions of criticalkv, critical_adakv, chunkkv,
// key_rerotation (re-rotated keys and positions), chunk and block, on tiny llama/qwen2/qwen3 models at
// ratios 0.25, 0.5 and 0.9.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <numeric>

#include "core/error.h"
#include "kv_rows_util.h"
#include "pipeline/generator.h"
#include "pipeline/prefill.h"
#include "press/press_prefill.h"
#include "press/press_registry.h"
#include "press/press_spec.h"
#include "press_reference.h"
#include "press_reference_wrappers.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};
constexpr int64_t kTokens = 100;

// Reference scorers by spec name (the inner presses the tests wrap).
RefScorer ref_scorer(const std::string& inner, const ModelConfig& c) {
  if (inner == "knorm") return [](const LayerSnapshot& s) { return ref_knorm(s); };
  if (inner == "keydiff") return [](const LayerSnapshot& s) { return ref_keydiff(s); };
  if (inner == "snapkv") return [&c](const LayerSnapshot& s) { return ref_snapkv(s, c, 64, 5); };
  if (inner == "snapkv:window_size=4") return [&c](const LayerSnapshot& s) { return ref_snapkv(s, c, 4, 5); };
  if (inner == "expected_attention_press:use_vnorm=false") {
    return [&c](const LayerSnapshot& s) {
      RefExpectedAttention o;
      o.use_vnorm = false;
      return ref_expected_attention(s, c, o);
    };
  }
  ADD_FAILURE() << "no reference scorer for " << inner;
  return {};
}

class WrapperScores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    TinyModelSpec spec;
    spec.arch = GetParam();
    spec.seed = 11;
    model_ = make_tiny_model(spec);
  }
  const ModelConfig& config() const { return model_->config(); }
  PrefillRun run(Press* press, int64_t n_tokens = kTokens, const std::function<void(const LayerPrefill&)>& f = {}) {
    return prefill(*model_, tiny_token_ids(n_tokens, 5), press, pool_, f);
  }
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

// Expects kept == expected except for entries whose reference score is within tol of the score of the
// last kept entry (float scores can swap where doubles differ by an ulp).
void expect_same_selection(const std::vector<int32_t>& kept, const std::vector<int32_t>& expected,
                           const std::vector<double>& ref, double tol, const std::string& where) {
  ASSERT_EQ(kept.size(), expected.size()) << where;
  if (kept == expected) return;
  double cutoff = INFINITY;
  for (int32_t j : expected) cutoff = std::min(cutoff, ref[j]);
  std::vector<int32_t> diff;
  std::set_symmetric_difference(kept.begin(), kept.end(), expected.begin(), expected.end(), std::back_inserter(diff));
  for (int32_t j : diff) EXPECT_NEAR(ref[j], cutoff, tol) << where << ": position " << j << " differs";
}

TEST_P(WrapperScores, CriticalKv) {
  const auto& c = config();
  struct Case { std::string inner; std::string params; double epsilon, first_stage_ratio; };
  const Case cases[] = {{"knorm", "", 1e-4, 0.5},
                        {"snapkv", "", 1e-4, 0.5},
                        {"knorm", ":epsilon=0.5,first_stage_ratio=0.2", 0.5, 0.2},
                        {"expected_attention_press:use_vnorm=false", ":first_stage_ratio=0.8", 1e-4, 0.8}};
  for (const auto& k : cases)
    for (double r : kRatios) {
      const std::string spec = "criticalkv(" + k.inner + ")" + k.params;
      auto press = make_press(spec, r);
      auto* scorer = dynamic_cast<ScorerPress*>(press.get());
      ASSERT_NE(scorer, nullptr);
      std::vector<HeadScores> scores;
      const auto out = run(press.get(), kTokens, [&](const LayerPrefill& layer) {
        scores.emplace_back();
        scorer->score(layer, scores.back());
      });
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto& snap = out.snapshots[l];
        const RefScores inner = ref_scorer(k.inner, c)(snap);
        const RefScores norms = ref_value_output_norm(snap, c, ref_output_weights(*model_, l));
        const RefScores ref = ref_criticalkv(inner, norms, r, k.epsilon, k.first_stage_ratio);
        const int64_t b1 = (int64_t)std::trunc((1.0 - r) * kTokens * k.first_stage_ratio);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          const std::string where = spec + " ratio " + std::to_string(r) + " layer " + std::to_string(l) + " head " +
                                    std::to_string(h);
          // Stage 1: the b1 entries forced to finfo.max are the inner scorer's top b1.
          std::vector<int32_t> forced;
          for (int64_t j = 0; j < kTokens; ++j)
            if (scores[l].head(h)[j] == std::numeric_limits<float>::max()) forced.push_back((int32_t)j);
          double scale = 0;
          for (double v : inner[h]) scale = std::max(scale, std::fabs(v));
          expect_same_selection(forced, ref_top(inner[h], b1), inner[h], 1e-5 * scale, where + " stage 1");
          // Stage 2: (s + eps) * ||v Wo||_1 everywhere else.
          for (int64_t j = 0; j < kTokens; ++j) {
            if (std::isinf(ref[h][j]) || scores[l].head(h)[j] == std::numeric_limits<float>::max()) continue;
            ASSERT_NEAR(scores[l].head(h)[j], ref[h][j], 1e-4 * std::fabs(ref[h][j]) + 1e-7) << where << " at " << j;
          }
          std::vector<double> finite = ref[h];
          for (auto& v : finite) v = std::isinf(v) ? 1e300 : v;
          expect_top_selection(finite, kept_positions(out.cache, l, h), ref_kept_count(kTokens, r), 1e-4 * scale,
                               where);
        }
      }
    }
  // The evaluation-registry names.
  EXPECT_EQ(make_press("critical_snapkv", 0.5)->name(), "criticalkv(snapkv:window_size=64,kernel_size=5):epsilon=1e-04,first_stage_ratio=0.5");
  EXPECT_NE(make_press("critical_expected_attention", 0.5)->name().find("use_vnorm=false"), std::string::npos);
}

TEST_P(WrapperScores, CriticalAdaKv) {
  const auto& c = config();
  bool saw_unequal_heads = false;
  struct Case { std::string inner; double alpha; };
  for (const Case& k : {Case{"knorm", 0.2}, Case{"knorm", 0.0}, Case{"snapkv", 0.2}, Case{"keydiff", 0.5}})
    for (double r : kRatios) {
      const std::string spec = "critical_adakv(" + k.inner + "):alpha_safeguard=" + std::to_string(k.alpha);
      auto press = make_press(spec, r);
      const auto out = run(press.get());
      const int64_t n_kept = ref_kept_count(kTokens, r);
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto& snap = out.snapshots[l];
        const RefScores norms = ref_value_output_norm(snap, c, ref_output_weights(*model_, l));
        const KeptSets expected = ref_critical_adakv_keep(ref_scorer(k.inner, c)(snap), norms, r, k.alpha, 1e-4, 0.5);
        int64_t total = 0;
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          EXPECT_EQ(kept_positions(out.cache, l, h), expected[h]) << spec << " ratio " << r << " layer " << l << " head " << h;
          total += out.cache.length(l, h);
          saw_unequal_heads |= out.cache.length(l, h) != out.cache.length(l, 0);
        }
        EXPECT_EQ(total, c.n_heads_kv * n_kept);  // AdaKV's layer budget, compacted for real
      }
      const KvTypes t = out.cache.types();
      EXPECT_EQ(out.cache.bytes(), out.cache.total_entries() * (expected_row_bytes(t.k, c.head_dim) +
                                                               expected_row_bytes(t.v, c.head_dim)));
    }
  EXPECT_TRUE(saw_unequal_heads) << "critical_adakv never gave heads different budgets";
  EXPECT_NE(make_press("critical_adakv_expected_attention", 0.5)->name().find("use_vnorm=false"), std::string::npos);
  EXPECT_EQ(make_press("critical_adakv_snapkv", 0.5)->name().rfind("critical_adakv(snapkv", 0), 0u);
}

TEST_P(WrapperScores, ChunkKv) {
  const auto& c = config();
  struct Case { std::string spec, inner; int64_t chunk; };
  const Case cases[] = {{"chunkkv(knorm)", "knorm", 20},
                        {"chunkkv(knorm):chunk_length=7", "knorm", 7},  // 14 chunks and a rest of 2
                        {"chunkkv(keydiff):chunk_length=30", "keydiff", 30},
                        {"chunkkv", "snapkv", 20}};  // kvpress's registry: ChunkKVPress(SnapKVPress())
  for (const auto& k : cases)
    for (double r : kRatios) {
      auto press = make_press(k.spec, r);
      const auto out = run(press.get());
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto expected = ref_chunkkv_keep(ref_scorer(k.inner, c)(out.snapshots[l]), k.chunk, r);
        for (int64_t h = 0; h < c.n_heads_kv; ++h)
          EXPECT_EQ(kept_positions(out.cache, l, h), expected) << k.spec << " ratio " << r << " layer " << l;
      }
    }
  // Shorter than one chunk: the inner press compresses as it would alone.
  auto press = make_press("chunkkv(knorm):chunk_length=64", 0.5);
  const auto out = run(press.get(), 40);
  for (int64_t h = 0; h < c.n_heads_kv; ++h)
    EXPECT_EQ(kept_positions(out.cache, 0, h), ref_top(ref_knorm(out.snapshots[0])[h], 20));
}

TEST_P(WrapperScores, KeyRerotation) {
  const auto& c = config();
  for (const std::string inner : {"knorm", "snapkv"})
    for (double r : kRatios) {
      auto press = make_press("key_rerotation(" + inner + ")", r);
      EXPECT_TRUE(press->rerotates_keys());
      const auto out = run(press.get());
      const int64_t n_kept = ref_kept_count(kTokens, r);
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto& snap = out.snapshots[l];
        const RefScores ref = ref_scorer(inner, c)(snap);
        const auto keys_now = decoded(out.cache.keys(l, 0));
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          const std::string where = inner + " ratio " + std::to_string(r) + " layer " + std::to_string(l);
          const auto expected = ref_top(ref[h], n_kept);
          // Positions 0..n_kept-1; values gathered as they were; keys rotated from p_i to i.
          std::vector<int32_t> contiguous((size_t)n_kept);
          std::iota(contiguous.begin(), contiguous.end(), 0);
          ASSERT_EQ(kept_positions(out.cache, l, h), contiguous) << where;
          const auto keys = decoded(out.cache.keys(l, h)), values = decoded(out.cache.values(l, h));
          for (int64_t i = 0; i < n_kept; ++i) {
            const auto k = ref_rerotated_key(snap, c, h, expected[i], i);
            for (int64_t e = 0; e < c.head_dim; ++e) {
              ASSERT_EQ(values[i * c.head_dim + e], snap.values[h][expected[i] * c.head_dim + e]) << where;
              ASSERT_NEAR(keys[i * c.head_dim + e], k[e], 1e-3 * (1 + std::fabs(k[e])))  // f16 cache
                  << where << " entry " << i;
            }
          }
        }
      }
    }
}

// Through the pipeline's prefill: the tokens after the context start at the compressed length, and
// a question there sees every kept entry (causal by the stored positions).
TEST_P(WrapperScores, KeyRerotationStartsQuestionsAtTheCompressedLength) {
  auto press = make_press("key_rerotation(knorm)", 0.5);
  KvCache cache = model_->make_cache();
  PressPrefill hooks(press.get());
  const auto ids = tiny_token_ids(kTokens, 5);
  const PrefillOutcome outcome = prefill_context(*model_, cache, pool_, ids, hooks);
  EXPECT_EQ(outcome.next_position, 50);
  // The same question on a cache whose kept keys were re-encoded at 0..49 from scratch: prefilling the
  // kept tokens alone is not equivalent (their hidden states saw the whole context), so compare with
  // the re-rotation of the uncompressed cache done by the reference.
  const auto full = prefill(*model_, ids, nullptr, pool_);
  KvCache manual = model_->make_cache();
  const auto& c = config();
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const RefScores ref = ref_knorm(full.snapshots[l]);
    for (int64_t h = 0; h < c.n_heads_kv; ++h) {
      const auto kept = ref_top(ref[h], 50);
      std::vector<float> k, v;
      std::vector<int32_t> pos;
      for (size_t i = 0; i < kept.size(); ++i) {
        for (double x : ref_rerotated_key(full.snapshots[l], c, h, kept[i], (int64_t)i)) k.push_back((float)x);
        const auto& vs = full.snapshots[l].values[h];
        v.insert(v.end(), vs.begin() + kept[i] * c.head_dim, vs.begin() + (kept[i] + 1) * c.head_dim);
        pos.push_back((int32_t)i);
      }
      KvCache one(1, 1, c.head_dim, manual.types());
      one.append(0, 50, k.data(), v.data(), pos.data());
      manual.assign_encoded(l, h, 50, one.keys(0, 0).data, one.values(0, 0).data,
                            reinterpret_cast<const uint8_t*>(pos.data()));
    }
  }
  const std::vector<int32_t> question = {kTinyFirstWord + 3, kTinyFirstWord + 40};
  const auto a = decode_logits(*model_, cache, question, outcome.next_position, pool_);
  const auto b = decode_logits(*model_, manual, question, 50, pool_);
  EXPECT_LE(max_abs_diff(a, b), 1e-3);
  const auto at_original = decode_logits(*model_, cache, question, kTokens, pool_);
  EXPECT_GT(max_abs_diff(a, at_original), 1e-4) << "the start position should matter";
}

TEST_P(WrapperScores, Chunk) {
  const auto& c = config();
  struct Case { std::string spec, inner; int64_t chunk; };
  const Case cases[] = {{"chunk(knorm):chunk_length=30", "knorm", 30},
                        {"chunk(keydiff):chunk_length=16", "keydiff", 16},
                        {"chunk(snapkv:window_size=4):chunk_length=25", "snapkv:window_size=4", 25},
                        {"chunk(expected_attention_press:use_vnorm=false):chunk_length=50",
                         "expected_attention_press:use_vnorm=false", 50}};
  for (const auto& k : cases)
    for (double r : kRatios) {
      auto press = make_press(k.spec, r);
      const auto out = run(press.get());
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto expected = ref_chunk_keep(out.snapshots[l], k.chunk, r, ref_scorer(k.inner, c));
        for (int64_t h = 0; h < c.n_heads_kv; ++h)
          EXPECT_EQ(kept_positions(out.cache, l, h), expected[h]) << k.spec << " ratio " << r << " layer " << l;
      }
    }
}

TEST_P(WrapperScores, Block) {
  const auto& c = config();
  struct Case { std::string spec, inner; int64_t block; };
  const Case cases[] = {{"block(keydiff):block_size=16", "keydiff", 16},
                        {"block(keydiff):block_size=7", "keydiff", 7},
                        {"block_keydiff", "keydiff", 128},
                        {"block(knorm):block_size=9", "knorm", 9}};
  bool differs_from_global = false;
  for (const auto& k : cases)
    for (double r : kRatios) {
      auto press = make_press(k.spec, r);
      const auto out = run(press.get());
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto expected = ref_block_keep(out.snapshots[l], k.block, r, ref_scorer(k.inner, c));
        const RefScores global = ref_scorer(k.inner, c)(out.snapshots[l]);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          const auto kept = kept_positions(out.cache, l, h);
          EXPECT_EQ(kept, expected[h]) << k.spec << " ratio " << r << " layer " << l;
          const auto top = ref_top(global[h], ref_kept_count(kTokens, r));
          // knorm's score of an entry does not depend on the others: block-wise = global top-k.
          if (k.inner == "knorm") EXPECT_EQ(kept, top);
          differs_from_global |= kept != top;
        }
      }
    }
  EXPECT_TRUE(differs_from_global) << "keydiff's block-wise selection never differed from the global top-k";
}

TEST_P(WrapperScores, Merging) {
  const auto& c = config();
  struct Case { std::string spec, inner; double threshold, fraction; };
  const Case cases[] = {{"merging(knorm)", "knorm", 0.0, 1.0},
                        {"merging_snapkv", "snapkv", 0.0, 1.0},
                        {"merging(keydiff):similarity_threshold=0.3", "keydiff", 0.3, 1.0},
                        {"merging(knorm):merge_fraction=0.5", "knorm", 0.0, 0.5}};
  for (const auto& k : cases) {
    int64_t merged_rows = 0;
    for (double r : kRatios) {
      auto press = make_press(k.spec, r);
      const auto out = run(press.get());
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto& snap = out.snapshots[l];
        const RefScores ref = ref_scorer(k.inner, c)(snap);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          const std::string where = k.spec + " ratio " + std::to_string(r) + " layer " + std::to_string(l);
          const auto kept = kept_positions(out.cache, l, h);
          ASSERT_EQ(kept, ref_top(ref[h], ref_kept_count(kTokens, r))) << where;
          const auto expected = ref_merged_values(snap, h, kept, k.threshold, k.fraction);
          const auto keys = decoded(out.cache.keys(l, h)), values = decoded(out.cache.values(l, h));
          for (size_t i = 0; i < kept.size(); ++i) {
            bool changed = false;
            for (int64_t e = 0; e < c.head_dim; ++e) {
              ASSERT_EQ(keys[i * c.head_dim + e], snap.keys[h][kept[i] * c.head_dim + e]) << where;  // keys untouched
              const double v = expected[i][e];
              ASSERT_NEAR(values[i * c.head_dim + e], v, 1e-3 * (1 + std::fabs(v))) << where << " entry " << i;
              changed |= v != snap.values[h][kept[i] * c.head_dim + e];
            }
            merged_rows += changed;
          }
        }
      }
    }
    EXPECT_GT(merged_rows, 0) << k.spec << ": nothing merged, the comparison is vacuous";
  }
}

TEST_P(WrapperScores, PerLayerCompression) {
  const auto& c = config();
  ASSERT_EQ(c.n_layers, 2);
  struct Case { std::string spec, inner; std::vector<double> ratios; };
  const Case cases[] = {{"per_layer_compression(knorm):compression_ratios=0.25;0.9", "knorm", {0.25, 0.9}},
                        {"per_layer_compression(snapkv):compression_ratios=0.5;0", "snapkv", {0.5, 0.0}},
                        {"per_layer_compression(keydiff):compression_ratios=1;0.5", "keydiff", {1.0, 0.5}}};
  const std::vector<int32_t> question = {kTinyFirstWord + 3, kTinyFirstWord + 40};
  for (const auto& k : cases) {
    auto press = make_press(k.spec, 0.0);
    EXPECT_DOUBLE_EQ(press->compression_ratio(), (k.ratios[0] + k.ratios[1]) / 2);  // kvpress: the mean
    EXPECT_EQ(make_press(press->name(), 0.0)->name(), press->name());
    // f32 storage: the masked reference's fake keys overflow f16 (as in the contract test).
    const KvTypes f32{KvType::F32, KvType::F32};
    const auto ids = tiny_token_ids(kTokens, 5);
    const auto out = prefill(*model_, ids, press.get(), pool_, {}, f32);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const RefScores ref = ref_scorer(k.inner, c)(out.snapshots[l]);
      const int64_t n_kept = k.ratios[l] >= 1.0 ? 0 : ref_kept_count(kTokens, k.ratios[l]);
      for (int64_t h = 0; h < c.n_heads_kv; ++h)
        EXPECT_EQ(kept_positions(out.cache, l, h), ref_top(ref[h], n_kept)) << k.spec << " layer " << l;
    }
    // Layers of different lengths (one may be empty): decoding equals the full cache with the dropped
    // entries masked.
    const auto full = prefill(*model_, ids, nullptr, pool_, {}, f32);
    const auto a = decode_logits(*model_, out.cache, question, kTokens, pool_);
    const auto b = masked_decode_logits(*model_, full.cache, out.cache, question, kTokens, pool_);
    EXPECT_LE(max_abs_diff(a, b), 1e-4) << k.spec;
  }
}

// A threshold between two distinct scores of the layer, near quantile q (never equal to a score).
double threshold_between(const RefScores& ref, double q) {
  std::vector<double> all;
  for (const auto& row : ref) all.insert(all.end(), row.begin(), row.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  const size_t i = std::min(all.size() - 2, (size_t)(q * (double)(all.size() - 1)));
  return (all[i] + all[i + 1]) / 2;
}

TEST_P(WrapperScores, DmsPrefill) {
  const auto& c = config();
  const auto ids = tiny_token_ids(kTokens, 5);
  const RefScores layer0 = ref_knorm(prefill(*model_, ids, nullptr, pool_).snapshots[0]);
  for (int64_t window : {0, 16, 64})
    for (double q : {0.2, 0.6}) {
      const double threshold = threshold_between(layer0, q);
      const std::string spec = "dms(knorm):threshold=" + std::to_string(threshold) +
                               ",sliding_window_size=" + std::to_string(window);
      auto press = make_press(spec, 0.0);
      const auto out = run(press.get());
      double ratio_sum = 0;
      bool removed_some = false;
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const RefScores ref = ref_knorm(out.snapshots[l]);
        int64_t removed = 0;
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          std::vector<int32_t> expected;  // the window, and every older entry at or above the threshold
          for (int64_t j = 0; j < kTokens; ++j)
            if (j >= kTokens - window || !(ref[h][j] < std::stod(std::to_string(threshold)))) expected.push_back((int32_t)j);
          EXPECT_EQ(kept_positions(out.cache, l, h), expected) << spec << " layer " << l << " head " << h;
          removed += kTokens - (int64_t)expected.size();
        }
        removed_some |= removed > 0;
        ratio_sum += (double)removed / (double)(c.n_heads_kv * kTokens);
      }
      EXPECT_TRUE(removed_some) << spec;
      EXPECT_NEAR(press->compression_ratio(), ratio_sum / (double)c.n_layers, 1e-12) << spec;  // what was removed
    }
}

// decoding=true: generated tokens pass through the same window. Every entry ever seen (recorded from the
// cache before each step) is kept iff it is in the last window or scores at least the threshold.
TEST_P(WrapperScores, DmsDecoding) {
  const auto& c = config();
  const int64_t window = 8, prompt = 40;
  const auto ids = tiny_token_ids(prompt, 9);
  const RefScores layer0 = ref_knorm(prefill(*model_, ids, nullptr, pool_).snapshots[0]);
  const double threshold = std::stod(std::to_string(threshold_between(layer0, 0.5)));
  auto press = make_press("dms(knorm):threshold=" + std::to_string(threshold) +
                          ",sliding_window_size=8,decoding=true", 0.0);
  EXPECT_TRUE(press->acts_on_decoding());
  // Scores of every (layer, head, position) while it was in the cache; prompt entries from the
  // uncompressed prefill (the prompt pass attends over the whole prompt before its compression).
  std::map<std::tuple<int64_t, int64_t, int32_t>, double> score;
  const auto full = prefill(*model_, ids, nullptr, pool_);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const RefScores ref = ref_knorm(full.snapshots[l]);
    for (int64_t h = 0; h < c.n_heads_kv; ++h)
      for (int64_t j = 0; j < prompt; ++j) score[{l, h, (int32_t)j}] = ref[h][j];
  }
  KvCache cache = model_->make_cache();
  auto record = [&] {
    for (int64_t l = 0; l < c.n_layers; ++l)
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto keys = decoded(cache.keys(l, h));
        for (int64_t j = 0; j < cache.length(l, h); ++j) {
          double n = 0;
          for (int64_t e = 0; e < c.head_dim; ++e) n += (double)keys[j * c.head_dim + e] * keys[j * c.head_dim + e];
          score.emplace(std::make_tuple(l, h, cache.positions(l, h)[j]), -std::sqrt(n));
        }
      }
  };
  GenerateOptions o;
  o.max_new_tokens = 30;
  o.stop_at_end_of_generation = false;
  o.press = press.get();
  o.on_token = [&](int32_t) { record(); };
  const auto result = generate(*model_, cache, pool_, ids, 0, o);
  const int32_t n_fed = (int32_t)result.fed;
  ASSERT_EQ(n_fed, prompt + 29);
  bool removed_generated = false;
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (int64_t h = 0; h < c.n_heads_kv; ++h) {
      std::vector<int32_t> expected;
      for (int32_t p = 0; p < n_fed; ++p) {
        const auto it = score.find({l, h, p});
        ASSERT_NE(it, score.end()) << "position " << p << " never seen";
        if (p >= n_fed - window || !(it->second < threshold)) expected.push_back(p);
        else removed_generated |= p >= prompt;
      }
      EXPECT_EQ(kept_positions(cache, l, h), expected) << "layer " << l << " head " << h;
    }
  EXPECT_TRUE(removed_generated) << "no generated token was evicted: the decoding path is untested";
  EXPECT_GT(press->compression_ratio(), 0.0);
}

// The list syntax: one parameter, numbers separated by ';' (no grammar change: ';' is a value character).
TEST(WrapperSpecs, RatioLists) {
  const PressSpec s = parse_press_spec("per_layer_compression(knorm):compression_ratios=0.1;0.5;1");
  ASSERT_EQ(s.params.size(), 1u);
  EXPECT_EQ(s.params[0].first, "compression_ratios");
  EXPECT_EQ(s.params[0].second, "0.1;0.5;1");
  EXPECT_EQ(to_string(s), "per_layer_compression(knorm):compression_ratios=0.1;0.5;1");
  EXPECT_EQ(to_string(parse_press_spec("composed(per_layer_compression(knorm):compression_ratios=0;0.5,knorm)")),
            "composed(per_layer_compression(knorm):compression_ratios=0;0.5,knorm)");
  EXPECT_EQ(make_press("per_layer_compression(knorm):compression_ratios=0.10;.5", 0.0)->name(),
            "per_layer_compression(knorm):compression_ratios=0.1;0.5");
  struct Case { std::string spec; double ratio; std::string piece; };
  const Case cases[] = {
      {"per_layer_compression(knorm)", 0.0, "needs compression_ratios=R0;R1;..."},
      {"per_layer_compression(knorm):compression_ratios=0.1;x", 0.0, "compression_ratios=0.1;x is invalid"},
      {"per_layer_compression(knorm):compression_ratios=0.1;;0.2", 0.0, "separated by ';'"},
      {"per_layer_compression(knorm):compression_ratios=0.1;1.5", 0.0, "numbers in [0, 1]"},
      {"per_layer_compression(knorm):compression_ratios=0.1;", 0.0, "is invalid"},
      {"per_layer_compression(knorm):compression_ratios=0.1;0.2", 0.5, "would be ignored; give 0"}};
  for (const auto& k : cases) {
    try {
      make_press(k.spec, k.ratio);
      ADD_FAILURE() << "no error for " << k.spec;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(k.piece), std::string::npos) << e.what();
    }
  }
  // One ratio per layer, checked when the model is known.
  auto model = make_tiny_model({});
  ThreadPool pool(1);
  auto press = make_press("per_layer_compression(knorm):compression_ratios=0.1;0.2;0.3", 0.0);
  try {
    prefill(*model, tiny_token_ids(20, 1), press.get(), pool);
    ADD_FAILURE() << "no error for 3 ratios on 2 layers";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 compression_ratios for a model of 2 layers"), std::string::npos)
        << e.what();
  }
}

TEST_P(WrapperScores, Errors) {
  struct Case { std::string spec; std::string piece; };
  const Case cases[] = {{"criticalkv(adakv(knorm))", "needs a scorer press inside"},
                        {"chunkkv(composed(knorm))", "needs a scorer press inside"},
                        {"block(snapkv)", "scores each candidate set from the cache alone"},
                        {"chunk(knorm):chunk_length=0", "chunk_length=0 is invalid"},
                        {"critical_adakv(knorm):first_stage_ratio=2", "first_stage_ratio=2 is invalid"},
                        {"key_rerotation", "takes 1 inner press"},
                        {"dms(knorm)", "needs threshold=T"},
                        {"dms(knorm):threshold=abc", "threshold=abc is invalid"}};
  for (const auto& k : cases) {
    try {
      make_press(k.spec, 0.5);
      ADD_FAILURE() << "no error for " << k.spec;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(k.piece), std::string::npos) << e.what();
    }
  }
  try {
    make_press("dms(knorm):threshold=-2", 0.5);
    ADD_FAILURE() << "no error for a ratio on dms";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("evicts by threshold=-2"), std::string::npos) << e.what();
  }
  // A chunk shorter than snapkv's window: snapkv's own message.
  auto press = make_press("chunk(snapkv:window_size=8):chunk_length=30", 0.5);
  try {
    run(press.get(), 65);  // the last chunk has 5 tokens
    ADD_FAILURE() << "no error for a chunk shorter than the window";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs more than window_size=8"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, WrapperScores, ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace kvpress::testing
