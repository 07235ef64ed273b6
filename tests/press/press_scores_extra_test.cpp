// Presses that run extra passes or act on the whole context, against independent re-derivations
// (press_reference_extra.cpp): KVzip's repeat-pass scores and its global / per-layer budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "core/error.h"
#include "kv_rows_util.h"
#include "pipeline/context_session.h"
#include "pipeline/generator.h"
#include "press/press_registry.h"
#include "press_reference_extra.h"
#include "press_test_util.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
std::vector<float> kvzip_scores(Press& press, const ContextPrefill& context);  // presses/kvzip.cpp
std::vector<std::vector<std::vector<double>>> kvcompose_scores(Press& press, const ContextPrefill& context);
std::vector<double> duo_attention_head_scores(Press& press, const Model& model, ThreadPool& pool);
std::vector<std::string> duo_attention_calibration_texts(int64_t n_samples);
}

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};

std::unique_ptr<Model> tiny(const std::string& arch, const std::string& chat_template = "") {
  TinyModelSpec spec;
  spec.arch = arch;
  spec.seed = 11;
  spec.context_length = 8192;
  spec.chat_template = chat_template;
  return make_tiny_model(spec);
}

// Snapshots of one forward pass of `ids` at positions start.. on `cache` (left as it was).
std::vector<LayerSnapshot> snapshot_pass(const Model& model, KvCache& cache, const std::vector<int32_t>& ids,
                                         int32_t start, ThreadPool& pool) {
  const auto& c = model.config();
  std::vector<LayerSnapshot> out;
  LayerObserver observer = [&](const LayerPrefill& layer) {
    LayerSnapshot s;
    s.layer = layer.layer;
    s.n_tokens = layer.n_tokens;
    s.hidden_normed.assign(layer.hidden_normed, layer.hidden_normed + layer.n_tokens * c.n_embd);
    s.queries.assign(layer.queries, layer.queries + layer.n_tokens * c.n_heads * c.head_dim);
    for (int64_t h = 0; h < c.n_heads_kv; ++h) {
      s.keys.push_back(decoded(layer.cache.keys(layer.layer, h)));
      s.values.push_back(decoded(layer.cache.values(layer.layer, h)));
    }
    out.push_back(std::move(s));
  };
  std::vector<int32_t> positions(ids.size());
  std::iota(positions.begin(), positions.end(), start);
  ForwardOptions fwd;
  fwd.logits = LogitsMode::None;
  fwd.observer = &observer;
  const auto snapshot = cache.lengths();
  model.forward(ids, positions, cache, pool, fwd);
  cache.truncate(snapshot);
  return out;
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct KvzipCase {
  std::string arch;
  std::string chat_template;  // "" or ChatML
  int64_t n_context;
};

// The repeat passes written out from spec §2.21 step 3: chunks of 2048 context tokens after the
// template prefix; prompt ++ (last 8 tokens of the previous chunk) ++ suffix ++ chunk.
std::vector<RefRepeatPass> repeat_passes(const Model& model, KvCache& cache, const std::vector<int32_t>& ids,
                                         int64_t prefix_length, const std::vector<int32_t>& suffix, ThreadPool& pool) {
  const Tokenizer& tok = model.tokenizer();
  const int64_t N = (int64_t)ids.size();
  std::vector<RefRepeatPass> passes;
  for (int64_t st = prefix_length; st < N; st += 2048) {
    RefRepeatPass p;
    p.st = st;
    p.en = std::min(N, st + 2048);
    std::vector<int32_t> prompt;
    if (st == prefix_length) {
      prompt = tok.encode("\n\nRepeat the previous context exactly.", false, true);
    } else {
      prompt = tok.encode("\n\nRepeat the part of the previous context exactly, starting with", false, true);
      prompt.insert(prompt.end(), ids.begin() + st - 8, ids.begin() + st);
    }
    const auto input = cat(cat(prompt, suffix), std::vector<int32_t>(ids.begin() + st, ids.begin() + p.en));
    p.layers = snapshot_pass(model, cache, input, (int32_t)N, pool);
    passes.push_back(std::move(p));
  }
  return passes;
}

std::vector<std::vector<std::vector<double>>> output_projections(const Model& model) {
  const auto& c = model.config();
  std::vector<std::vector<std::vector<double>>> wo;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto& w = model.weights().layers[(size_t)l].wo;
    EXPECT_EQ(w.type, GgmlType::F32);
    std::vector<std::vector<double>> m((size_t)w.n_rows);
    for (int64_t o = 0; o < w.n_rows; ++o) {
      const float* row = reinterpret_cast<const float*>(w.row(o));
      m[(size_t)o].assign(row, row + w.n_cols);
    }
    wo.push_back(std::move(m));
  }
  return wo;
}

class KvzipScores : public ::testing::TestWithParam<std::string> {};

void check_kvzip(const std::string& arch, const std::string& chat_template, const std::string& prefix_text,
                 const std::string& suffix_text, int64_t n_body, bool plus, bool layerwise,
                 std::vector<double> ratios) {
  auto model = tiny(arch, chat_template);
  const auto& c = model->config();
  ThreadPool pool(2);
  const Tokenizer& tok = model->tokenizer();
  const std::vector<int32_t> prefix = tok.encode(prefix_text, false, true);
  const std::vector<int32_t> suffix = tok.encode(suffix_text, false, true);
  const std::vector<int32_t> body = tiny_token_ids(n_body, 5);
  const std::vector<int32_t> ids = cat(prefix, body);
  const int64_t N = (int64_t)ids.size();
  const std::string spec = std::string("kvzip:layerwise=") + (layerwise ? "true" : "false") +
                           ",kvzip_plus_normalization=" + (plus ? "true" : "false");

  // Scores: the press's against the reference on the same uncompressed cache.
  auto base = prefill(*model, ids, nullptr, pool);
  const auto passes = repeat_passes(*model, base.cache, ids, (int64_t)prefix.size(), suffix, pool);
  const auto ref = ref_kvzip_scores(passes, c, N, 4, plus, plus ? output_projections(*model) : decltype(output_projections(*model)){});
  auto press = make_press(spec, 0.5);
  const auto lengths_before = base.cache.lengths();
  const std::vector<float> got = kvzip_scores(*press, {*model, base.cache, pool, ids});
  EXPECT_EQ(base.cache.lengths(), lengths_before) << "the repeat tokens must leave the cache";
  ASSERT_EQ((int64_t)got.size(), c.n_layers * c.n_heads_kv * N);
  double max_ref = 0;
  for (const auto& l : ref)
    for (const auto& h : l) max_ref = std::max(max_ref, *std::max_element(h.begin(), h.end()));
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (int64_t h = 0; h < c.n_heads_kv; ++h)
      for (int64_t j = 0; j < N; ++j) {
        const double r = ref[(size_t)l][(size_t)h][(size_t)j], g = got[(size_t)((l * c.n_heads_kv + h) * N + j)];
        ASSERT_NEAR(g, r, 1e-5 * max_ref + 1e-4 * std::fabs(r)) << "layer " << l << " head " << h << " position " << j;
      }

  // Budget: the kept entries are the reference's survivors (up to float ties at the cut-off).
  for (double ratio : ratios) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto p = make_press(spec, ratio);
    const auto run = prefill(*model, ids, p.get(), pool);
    const auto pruned = ref_kvzip_pruned(ref, ratio, layerwise);
    double min_kept = INFINITY, max_pruned = -INFINITY;
    int64_t total = 0, n_diff = 0;
    for (int64_t l = 0; l < c.n_layers; ++l)
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(run.cache, l, h);
        total += (int64_t)kept.size();
        std::vector<bool> is_kept((size_t)N, false);
        for (int32_t k : kept) is_kept[(size_t)k] = true;
        for (int64_t j = 0; j < N; ++j) {
          const double r = ref[(size_t)l][(size_t)h][(size_t)j];
          if (is_kept[(size_t)j]) min_kept = std::min(min_kept, r); else max_pruned = std::max(max_pruned, r);
          n_diff += is_kept[(size_t)j] == pruned[(size_t)l][(size_t)h][(size_t)j];
        }
        // Kept keys are the prefill's own (compacted, not recomputed).
        const auto k = decoded(run.cache.keys(l, h));
        for (size_t i = 0; i < kept.size(); ++i)
          ASSERT_EQ(k[i * c.head_dim], run.snapshots[(size_t)l].keys[(size_t)h][(size_t)kept[i] * c.head_dim]);
      }
    const int64_t numel = c.n_layers * c.n_heads_kv * N;
    if (!layerwise) {
      EXPECT_EQ(total, numel - (int64_t)((double)numel * ratio));
      EXPECT_GE(min_kept, max_pruned - 1e-5 * max_ref) << "a pruned entry scores above a kept one";
    }
    EXPECT_LE(n_diff, 2) << "entries whose kept/pruned state differs from the reference";
    if (layerwise)
      for (int64_t l = 0; l < c.n_layers; ++l) {
        int64_t t = 0;
        for (int64_t h = 0; h < c.n_heads_kv; ++h) t += run.cache.length(l, h);
        EXPECT_EQ(t, c.n_heads_kv * N - (int64_t)((double)(c.n_heads_kv * N) * ratio)) << "layer " << l;
      }
  }
}

TEST_P(KvzipScores, NoTemplate) { check_kvzip(GetParam(), "", "", "\n", 120, false, false, {0.25, 0.5, 0.9}); }
TEST_P(KvzipScores, Layerwise) { check_kvzip(GetParam(), "", "", "\n", 90, false, true, {0.25, 0.5, 0.9}); }
TEST_P(KvzipScores, PlusNormalization) { check_kvzip(GetParam(), "", "", "\n", 90, true, false, {0.5, 0.9}); }

INSTANTIATE_TEST_SUITE_P(Arch, KvzipScores, ::testing::Values("llama", "qwen2", "qwen3"));

// A chat template: prefix tokens are not repeated (their scores stay 0 past the sinks) and the suffix
// follows the prompt; a context over 2048 tokens is repeated in two chunks.
constexpr const char* kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

TEST(KvzipChatTemplate, PrefixSuffixAndTwoChunks) {
  check_kvzip("llama", kChatMl, "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", 2100, false, false, {0.5});
}

TEST(AfterPrefill, RefusedByPerLayerWrappers) {
  for (const std::string inner : {"kvzip", "kvcompose", "duo_attention_on_the_fly"}) {
    EXPECT_THROW(make_press("composed(knorm," + inner + ")", 0.5), Error) << inner;
    EXPECT_THROW(make_press("decoding(" + inner + ")", 0.0), Error) << inner;
  }
  EXPECT_NO_THROW(make_press("prefill_decoding(kvzip,decoding(knorm))", 0.5));
}

// SimLayerKV: per layer, the lazy decision against the re-derived attention share and the kept set
// (first n_initial, last n_recent - n_last) of lazy layers; thresholds chosen between the layers' shares
// so that some layers are lazy and some not; the reported ratio is kvpress's per-layer mean.
class SimLayerKvScores : public ::testing::TestWithParam<std::string> {};

TEST_P(SimLayerKvScores, LazyLayersKeepInitialAndRecent) {
  TinyModelSpec spec;
  spec.arch = GetParam();
  spec.seed = 11;
  spec.n_layers = 4;
  auto model = make_tiny_model(spec);
  const auto& c = model->config();
  ThreadPool pool(2);
  const int64_t S = 120;
  const auto ids = tiny_token_ids(S, 9);
  const auto base = prefill(*model, ids, nullptr, pool);
  for (const auto& [n_last, n_recent, n_initial] : {std::tuple<int64_t, int64_t, int64_t>{1, 30, 4}, {3, 50, 2}}) {
    std::vector<double> shares;
    for (int64_t l = 0; l < c.n_layers; ++l)
      shares.push_back(ref_simlayerkv_share(base.snapshots[(size_t)l], c, n_last, n_recent, n_initial));
    std::vector<double> sorted = shares;
    std::sort(sorted.begin(), sorted.end());
    for (double threshold : {0.0, (sorted[1] + sorted[2]) / 2, 1.0}) {
      const std::string where = "n_last " + std::to_string(n_last) + " n_recent " + std::to_string(n_recent) +
                                " threshold " + std::to_string(threshold);
      SCOPED_TRACE(where);
      auto press = make_press("simlayerkv:lazy_threshold=" + std::to_string(threshold) + ",n_last=" +
                                  std::to_string(n_last) + ",n_recent=" + std::to_string(n_recent) +
                                  ",n_initial=" + std::to_string(n_initial),
                              0.0);
      const auto run = prefill(*model, ids, press.get(), pool);
      double ratio_sum = 0;
      int64_t n_lazy = 0;
      for (int64_t l = 0; l < c.n_layers; ++l) {
        ASSERT_GT(std::fabs(shares[(size_t)l] - threshold), 1e-6) << "too close to call, layer " << l;
        const bool lazy = threshold < 1.0 && shares[(size_t)l] > threshold;
        n_lazy += lazy;
        std::vector<int32_t> expected;
        for (int64_t j = 0; j < S; ++j)
          if (!lazy || j < n_initial || j >= S - (n_recent - n_last)) expected.push_back((int32_t)j);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) EXPECT_EQ(kept_positions(run.cache, l, h), expected) << "layer " << l;
        ratio_sum += lazy ? (double)(S - n_initial - n_recent + 1) / (double)S : 0.0;
      }
      if (threshold > 0 && threshold < 1) { EXPECT_TRUE(n_lazy > 0 && n_lazy < c.n_layers); }
      EXPECT_NEAR(press->compression_ratio(), ratio_sum / (double)c.n_layers, 1e-12);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Arch, SimLayerKvScores, ::testing::Values("llama", "qwen2", "qwen3"));

TEST(SimLayerKv, TakesNoRatioAndChecksItsWindow) {
  EXPECT_THROW(make_press("simlayerkv", 0.5), Error);
  EXPECT_THROW(make_press("simlayerkv:n_recent=1,n_last=1", 0.0), Error);
  EXPECT_THROW(make_press("simlayerkv:lazy_threshold=1.5", 0.0), Error);
  EXPECT_EQ(make_press("simlayerkv", 0.0)->compression_ratio(), 0.0);
}

// KVCompose: scores of the re-fed pass and the kept entries per head (composite budgets) against the
// re-derivation, for both variants and non-default aggregations, at three ratios.
struct KvComposeCase {
  std::string spec;
  RefKvCompose o;
};

class KvComposeScores : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(KvComposeScores, ScoresAndBudgets) {
  const std::string arch = std::get<0>(GetParam());
  RefKvCompose o;
  std::string spec = "kvcompose";
  switch (std::get<1>(GetParam())) {
    case 0: break;
    case 1: o.structured = false; spec = "kvcompose:structured=false"; break;
    case 2:
      o.agg_task = "mean"; o.agg_group = "max"; o.agg_head = "max"; o.add_v_norm = true; o.keep_token_lower_bound = 5;
      spec = "kvcompose:agg_task=mean,agg_group=max,agg_head=max,add_v_norm=true,keep_token_lower_bound=5";
      break;
    case 3:
      o.structured = false; o.add_mean_across_heads = false; o.keep_token_lower_bound = 3;
      spec = "kvcompose:structured=false,add_mean_across_heads=false,keep_token_lower_bound=3";
      break;
  }
  TinyModelSpec ms;
  ms.arch = arch;
  ms.seed = 11;
  ms.n_layers = 3;
  auto model = make_tiny_model(ms);
  const auto& c = model->config();
  ThreadPool pool(2);
  const int64_t N = 80;
  const auto ids = tiny_token_ids(N, 3);
  auto base = prefill(*model, ids, nullptr, pool);
  const auto refed = snapshot_pass(*model, base.cache, ids, (int32_t)N, pool);
  const auto ref = ref_kvcompose_scores(refed, c, N, o);
  auto press = make_press(spec, 0.5);
  const auto lengths_before = base.cache.lengths();
  const auto got = kvcompose_scores(*press, {*model, base.cache, pool, ids});
  EXPECT_EQ(base.cache.lengths(), lengths_before);
  double max_ref = 0;
  for (const auto& l : ref)
    for (const auto& h : l) max_ref = std::max(max_ref, *std::max_element(h.begin(), h.end()));
  for (int64_t l = 0; l < c.n_layers; ++l)
    for (int64_t j = 0; j < c.n_heads_kv; ++j)
      for (int64_t n = 0; n < N; ++n)
        ASSERT_NEAR(got[(size_t)l][(size_t)j][(size_t)n], ref[(size_t)l][(size_t)j][(size_t)n], 1e-5 * max_ref)
            << "layer " << l << " head " << j << " position " << n;
  for (double ratio : kRatios) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto p = make_press(spec, ratio);
    const auto run = prefill(*model, ids, p.get(), pool);
    const auto counts = ref_kvcompose_counts(ref, o, ratio);
    int64_t total = 0, ref_total = 0;
    for (int64_t l = 0; l < c.n_layers; ++l)
      for (int64_t j = 0; j < c.n_heads_kv; ++j) {
        const auto kept = kept_positions(run.cache, l, j);
        // Counts can move by one between rows whose composites tie within float rounding.
        EXPECT_NEAR((double)kept.size(), (double)counts[(size_t)l][(size_t)j], 1.0) << "layer " << l << " head " << j;
        total += (int64_t)kept.size();
        ref_total += counts[(size_t)l][(size_t)j];
        expect_top_selection(ref[(size_t)l][(size_t)j], kept, (int64_t)kept.size(), 1e-5 * max_ref,
                             "layer " + std::to_string(l) + " head " + std::to_string(j));
        if (o.structured && j > 0) { EXPECT_EQ(kept.size(), kept_positions(run.cache, l, 0).size()); }
      }
    EXPECT_EQ(total, ref_total);
  }
}

INSTANTIATE_TEST_SUITE_P(ArchVariant, KvComposeScores,
                         ::testing::Combine(::testing::Values("llama", "qwen2", "qwen3"), ::testing::Values(0, 1, 2, 3)));

// DuoAttention on the fly: head scores from the calibration essays against the re-derivation (mean
// pre-RoPE query/key of each essay's tokens, RoPE in double, area under the cumulative attention), then
// the streaming heads (the round(L*Hkv*r) lowest) keep [0, sink) and [S-recent, S), the others all.
class DuoAttentionScores : public ::testing::TestWithParam<std::string> {};

TEST_P(DuoAttentionScores, HeadScoresAndStreamingHeads) {
  TinyModelSpec ms;
  ms.arch = GetParam();
  ms.seed = 11;
  ms.n_layers = 3;
  ms.context_length = 600;  // essays are cut to the model's context length
  auto model = make_tiny_model(ms);
  const auto& c = model->config();
  ThreadPool pool(2);
  const int64_t n_samples = 2, q_len = 40;
  const std::string params = ":sink_size=8,recent_size=16,n_samples=2,q_len=40";
  // Reference head scores.
  std::vector<double> ref((size_t)(c.n_layers * c.n_heads_kv), 0.0);
  const auto texts = duo_attention_calibration_texts(n_samples);
  ASSERT_EQ((int64_t)texts.size(), n_samples);
  for (const auto& text : texts) {
    auto ids = model->tokenizer().encode(text, true, false);
    ASSERT_GT((int64_t)ids.size(), 600);
    ids.resize(600);
    const auto run = prefill(*model, ids, nullptr, pool);
    const int64_t T = (int64_t)ids.size(), H = c.n_heads, Hkv = c.n_heads_kv, d = c.head_dim;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      std::vector<float> q((size_t)(T * H * d)), k((size_t)(T * Hkv * d));
      model->project_queries(l, run.snapshots[(size_t)l].hidden_normed.data(), T, q.data(), pool);
      model->project_keys(l, run.snapshots[(size_t)l].hidden_normed.data(), T, k.data(), pool);
      std::vector<double> qm((size_t)(H * d), 0.0), km((size_t)(Hkv * d), 0.0);
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t e = 0; e < H * d; ++e) qm[(size_t)e] += q[(size_t)(t * H * d + e)] / (double)T;
        for (int64_t e = 0; e < Hkv * d; ++e) km[(size_t)e] += k[(size_t)(t * Hkv * d + e)] / (double)T;
      }
      const auto area = ref_duo_head_area(qm, km, c, q_len);
      for (int64_t j = 0; j < Hkv; ++j) ref[(size_t)(l * Hkv + j)] += area[(size_t)j] / (double)n_samples;
    }
  }
  auto press = make_press("duo_attention_on_the_fly" + params, 0.5);
  const auto got = duo_attention_head_scores(*press, *model, pool);
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-5) << "layer/head " << i;

  const int64_t S = 100, n_pairs = c.n_layers * c.n_heads_kv;
  const auto ids = tiny_token_ids(S, 4);
  std::vector<int64_t> order((size_t)n_pairs);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ref[(size_t)a] < ref[(size_t)b]; });
  for (double ratio : kRatios) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto p = make_press("duo_attention_on_the_fly" + params, ratio);
    const auto run = prefill(*model, ids, p.get(), pool);
    const int64_t n_streaming = (int64_t)std::nearbyint((double)n_pairs * ratio);
    for (int64_t i = 0; i < n_pairs; ++i) {
      const bool streaming = std::find(order.begin(), order.begin() + n_streaming, i) != order.begin() + n_streaming;
      std::vector<int32_t> expected;
      for (int64_t j = 0; j < S; ++j)
        if (!streaming || j < 8 || j >= S - 16) expected.push_back((int32_t)j);
      EXPECT_EQ(kept_positions(run.cache, i / c.n_heads_kv, i % c.n_heads_kv), expected) << "layer/head " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Arch, DuoAttentionScores, ::testing::Values("llama", "qwen2", "qwen3"));

// The presses acting after the prefill see the whole context even when it is read in chunks (nothing
// is compressed between chunks), so a chunked prefill keeps the same entries.
TEST(AfterPrefill, ChunkedPrefillKeepsTheSameEntries) {
  auto model = tiny("llama");
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(90, 6);
  for (const std::string spec : {"kvzip", "kvzip:layerwise=true", "kvcompose", "kvcompose_unstructured",
                                 "duo_attention_on_the_fly:sink_size=4,recent_size=8,n_samples=1,q_len=32"}) {
    SCOPED_TRACE(spec);
    auto whole = make_press(spec, 0.5), chunked = make_press(spec, 0.5);
    ContextSession a(*model, pool), b(*model, pool);
    a.prefill(ids, whole.get());
    b.prefill(ids, chunked.get(), {}, 25);
    int64_t total = 0;
    for (int64_t l = 0; l < c.n_layers; ++l)
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        // Keys equal up to the chunked pass's float summation order: compare the kept positions.
        EXPECT_EQ(kept_positions(a.cache(), l, h), kept_positions(b.cache(), l, h)) << "layer " << l << " head " << h;
        total += a.cache().length(l, h);
      }
    EXPECT_LT(total, c.n_layers * c.n_heads_kv * 90);
    EXPECT_EQ(a.question_start(), 90);
  }
}

// Through generate(): a prompt prefilled on an empty cache gets the press's after_prefill too.
TEST(AfterPrefill, GenerateOnAnEmptyCacheCompresses) {
  auto model = tiny("llama");
  ThreadPool pool(2);
  auto press = make_press("kvzip", 0.5);
  KvCache cache = model->make_cache();
  GenerateOptions options;
  options.max_new_tokens = 2;
  options.press = press.get();
  const auto ids = tiny_token_ids(60, 2);
  generate(*model, cache, pool, ids, 0, options);
  // Half the prompt's entries (over all layers) remain, plus the generated token fed back.
  EXPECT_LT(cache.total_entries(), model->config().n_layers * model->config().n_heads_kv * 60);
}

// Short contexts (down to one token), chunked prefills and every KV type: each press works (the cache
// never grows, a question decodes) or throws Error.
TEST(AfterPrefill, ShortContextsAndChunksWorkOrThrowError) {
  TinyModelSpec ms;
  ms.head_dim = 32;  // every KV type's blocks fit
  auto model = make_tiny_model(ms);
  const auto& c = model->config();
  ThreadPool pool(2);
  const std::vector<std::string> specs = {
      "kvzip", "kvzip_plus", "kvzip:layerwise=true,n_sink=0", "kvcompose", "kvcompose_unstructured",
      "kvcompose:keep_token_lower_bound=1000", "duo_attention_on_the_fly:sink_size=2,recent_size=3,n_samples=1,q_len=8",
      "simlayerkv:lazy_threshold=0,n_recent=2,n_initial=1"};
  for (const auto& spec : specs)
    for (double ratio : {0.0, 0.5, 0.99})
      for (int64_t n : {1, 2, 5, 9, 33})
        for (int64_t chunk : {0, 1, 4})
          for (KvType type : {KvType::F32, KvType::Q4_0}) {
            SCOPED_TRACE(spec + " ratio " + std::to_string(ratio) + " n " + std::to_string(n) + " chunk " +
                         std::to_string(chunk));
            std::unique_ptr<Press> press;
            try {
              press = make_press(spec, spec.rfind("simlayerkv", 0) == 0 ? 0.0 : ratio);
              ContextSession session(*model, pool, {type, type});
              session.prefill(tiny_token_ids(n, (uint64_t)n), press.get(), {}, chunk);
              for (int64_t l = 0; l < c.n_layers; ++l)
                for (int64_t h = 0; h < c.n_heads_kv; ++h) EXPECT_LE(session.cache().length(l, h), n);
              GenerateOptions options;
              options.max_new_tokens = 2;
              const std::vector<int32_t> question = {kTinyFirstWord, kTinyFirstWord + 1};
              EXPECT_LE(session.ask(question, options).tokens.size(), 2u);
            } catch (const Error&) {
            }
          }
}

}  // namespace
}  // namespace kvpress::testing
