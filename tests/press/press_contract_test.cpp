// The contract every registered press keeps (iterated over the registry): ratio 0 changes nothing,
// kept counts follow kvpress's rounding, sinks/windows survive, kept positions are unique and
// ascending, results are deterministic, bytes are exact, and decoding on the compacted cache gives
// the same logits as the full cache with the dropped entries masked (kvpress's fake keys).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include "press/press_registry.h"
#include "press/query_stats_file.h"
#include "press/press_spec.h"
#include "kv_rows_util.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr int64_t kContext = 100;
constexpr double kRatios[] = {0.25, 0.5, 0.9};
constexpr int64_t kQuestionTokens = 8;

// Wrappers need inner presses; every wrapper in the registry must have examples here.
const std::map<std::string, std::vector<std::string>>& wrapper_examples() {
  static const std::map<std::string, std::vector<std::string>> examples = {
      {"adakv", {"adakv(knorm)", "adakv(snapkv)", "adakv(tova)", "adakv(random:seed=3)"}},
      {"composed", {"composed(knorm,streaming_llm)", "composed(streaming_llm:n_sink=2,tova)"}},
      // Decoding presses have their own contract (decoding_press_test.cpp); listed so none is forgotten.
      {"decoding", {"decoding(knorm)"}},
      {"compression_ratio_decoding", {"compression_ratio_decoding(knorm)"}},
      {"cam", {"cam(knorm)"}},
      {"prefill_decoding", {"prefill_decoding(knorm,decoding(knorm))"}},
      {"criticalkv", {"criticalkv(knorm)", "criticalkv(snapkv):first_stage_ratio=0.3",
                      "criticalkv(expected_attention_press:use_vnorm=false)"}},
      {"critical_adakv", {"critical_adakv(knorm)", "critical_adakv(snapkv):alpha_safeguard=0.5"}},
      {"chunkkv", {"chunkkv(knorm)", "chunkkv(keydiff):chunk_length=7", "chunkkv"}},
      {"key_rerotation", {"key_rerotation(knorm)", "key_rerotation(streaming_llm)"}},
      {"chunk", {"chunk(knorm):chunk_length=30", "chunk(snapkv:window_size=4):chunk_length=25"}},
      {"block", {"block(keydiff):block_size=16", "block(knorm):block_size=7"}},
      {"merging", {"merging(knorm)", "merging(snapkv):merge_fraction=0.5"}},
      {"dms", {"dms(random:seed=7):threshold={r},sliding_window_size=16", "dms(random):threshold={r},sliding_window_size=0"}},
      {"per_layer_compression", {"per_layer_compression(knorm):compression_ratios={r};{r}",
                                 "per_layer_compression(snapkv):compression_ratios=0;{r}"}},
  };
  return examples;
}

// Presses whose ratio is a parameter (per_layer_compression's compression_ratios): their examples
// hold "{r}" where the test's ratio goes, and are built with ratio 0.
std::string with_ratio(std::string spec, double ratio) {
  for (size_t at; (at = spec.find("{r}")) != std::string::npos;) spec.replace(at, 3, std::to_string(ratio));
  return spec;
}
// duo_attention_on_the_fly's streaming heads keep sink_size + recent_size (kvpress: 128 + 256, more
// than the contract's context): the contract gives it 4 + 16 and one calibration essay.
constexpr int64_t kDuoSink = 4, kDuoRecent = 16;
// Presses that take no compression ratio (they decide per layer what they remove) are built at ratio 0
// with parameters that make them keep int(S * (1 - ratio)) entries per head, so the checks below apply
// unchanged. simlayerkv: every layer lazy (lazy_threshold=0) keeps n_initial + n_recent - n_last.
std::unique_ptr<Press> make_contract_press(const std::string& spec, double ratio) {
  if (spec == "duo_attention_on_the_fly")
    return make_press(spec + ":sink_size=" + std::to_string(kDuoSink) + ",recent_size=" + std::to_string(kDuoRecent) +
                          ",n_samples=1,q_len=64",
                      ratio);
  if (ratio > 0 && spec == "simlayerkv") {
    const int64_t n_recent = kept_count(kContext, ratio) - 4 + 1;
    return make_press("simlayerkv:lazy_threshold=0,n_initial=4,n_last=1,n_recent=" + std::to_string(n_recent), 0.0);
  }
  if (spec.find("{r}") == std::string::npos) return make_press(spec, ratio);
  return make_press(with_ratio(spec, ratio), 0.0);
}

// Presses that read a file given as a parameter: the contract's spec for them, with a file written here
// for the contract's tiny model (2 layers, 4 query heads, head_dim 32), removed at exit.
std::string stats_file_for_contract() {
  static const std::string path = [] {
    QueryStatsFile s;
    s.n_layers = 2, s.n_heads = 4, s.head_dim = 32, s.n_sink = 4, s.n_samples = 1, s.max_chars = 1000, s.n_queries = 100;
    s.model_name = "contract";
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t i = 0; i < s.n_layers * s.n_heads * s.head_dim; ++i) s.mean.push_back(nd(rng));
    // A symmetric positive definite covariance per head: 0.5 I + A A^T / d.
    for (int64_t lh = 0; lh < s.n_layers * s.n_heads; ++lh) {
      std::vector<float> a((size_t)(s.head_dim * s.head_dim));
      for (auto& v : a) v = nd(rng);
      for (int64_t i = 0; i < s.head_dim; ++i)
        for (int64_t j = 0; j < s.head_dim; ++j) {
          double v = i == j ? 0.5 : 0.0;
          for (int64_t k = 0; k < s.head_dim; ++k) v += (double)a[i * s.head_dim + k] * a[j * s.head_dim + k] / 32.0;
          s.cov.push_back((float)v);
        }
    }
    const std::string p =
        (std::filesystem::temp_directory_path() / ("kvpress_contract_stats_" + std::to_string(::getpid()) + ".bin")).string();
    write_query_stats_file(p, s);
    return p;
  }();
  static const struct Remove {
    ~Remove() { std::filesystem::remove(path); }
  } remove_at_exit;
  return path;
}
const std::map<std::string, std::string>& file_examples() {
  static const std::map<std::string, std::string> examples = {
      {"expected_attention_with_stats", "expected_attention_with_stats:stats_file=" + stats_file_for_contract()},
  };
  return examples;
}

std::vector<std::string> contract_specs() {
  std::vector<std::string> specs;
  for (const auto& info : registered_presses()) {
    if (info.name == "none" || info.name == "no_press") continue;
    if (!info.is_wrapper) {
      if (file_examples().count(info.name)) {
        specs.push_back(file_examples().at(info.name));
        continue;
      }
      if (!make_press(info.name, 0.0)->acts_on_decoding()) specs.push_back(info.name);  // decoding_knorm, ...
      continue;
    }
    const auto it = wrapper_examples().find(info.name);
    if (it == wrapper_examples().end()) {
      specs.push_back(info.name + "(MISSING_EXAMPLE)");  // fails below with a clear message
      continue;
    }
    for (const auto& example : it->second)
      if (!make_contract_press(example, 0.0)->acts_on_decoding()) specs.push_back(example);
  }
  return specs;
}

// The spec with aliases expanded, so the checks can look at its structure.
PressSpec expanded(const std::string& text) {
  PressSpec s = parse_press_spec(text);
  for (const auto& info : registered_presses())
    if (info.name == s.name && !info.expands_to.empty()) return parse_press_spec(info.expands_to);
  return s;
}

std::string param(const PressSpec& s, const std::string& key, const std::string& fallback) {
  for (const auto& [k, v] : s.params)
    if (k == key) return v;
  return fallback;
}

// PyramidKV keeps a per-layer budget (spec §2.9) instead of int(S(1 - r)): the pyramid when it fits
// between window_size and S, else round(S(1 - r)) (Python's round, half to even).
int64_t pyramidkv_kept(const PressSpec& s, int64_t S, double ratio, int64_t layer, int64_t n_layers) {
  const double w = (double)std::stoll(param(s, "window_size", "64")), beta = (double)std::stoll(param(s, "beta", "20"));
  const double kept = (double)S * (1.0 - ratio);
  double lo = kept / beta, hi = 2.0 * kept - lo;
  if (hi >= (double)S - w) hi = (double)S - w, lo = 2.0 * kept - hi;
  if (!((double)S >= hi && hi >= lo && lo >= w)) return (int64_t)std::nearbyint(kept);
  return (int64_t)std::nearbyint(hi - (double)layer * (hi - lo) / (double)(n_layers - 1));
}

// Positions a press always keeps (when its budget allows): sinks, windows, the last token.
std::vector<int32_t> protected_positions(const PressSpec& s, int64_t S) {
  std::vector<int32_t> p;
  if (s.name == "snapkv" || s.name == "pyramidkv")
    for (int64_t j = S - std::stoll(param(s, "window_size", "64")); j < S; ++j) p.push_back((int32_t)j);
  if (s.name == "tova") p.push_back((int32_t)(S - 1));
  if (s.name == "cur")
    for (int64_t j = 0; j < std::stoll(param(s, "num_sinks", "4")); ++j) p.push_back((int32_t)j);
  if (s.name == "dms")  // the sliding window is never evicted
    for (int64_t j = std::max<int64_t>(0, S - std::stoll(param(s, "sliding_window_size", "128"))); j < S; ++j)
      p.push_back((int32_t)j);
  if (s.name == "finch" && param(s, "rerotate_keys", "true") == "false")  // the question; re-rotated: renumbered
    for (int64_t j = S - kQuestionTokens; j < S; ++j) p.push_back((int32_t)j);
  if (s.name == "streaming_llm" || s.name == "expected_attention_press" || s.name == "lagkv" || s.name == "cap" ||
      s.name == "expected_attention_with_stats")
    for (int64_t j = 0; j < std::stoll(param(s, "n_sink", "4")); ++j) p.push_back((int32_t)j);
  return p;
}

// Entries per head of presses that select whole chunks or compress chunk by chunk, so keep a count
// other than int(S * (1 - r)) (spec §2.19, §2.22); empty for every other press.
std::set<int64_t> chunked_kept_counts(const PressSpec& s, int64_t S, double r) {
  if (s.name == "chunkkv") {
    const int64_t L = std::stoll(param(s, "chunk_length", "20")), full = S / L, rest = S % L;
    if (full == 0) return {kept_count(S, r)};  // shorter than a chunk: the inner press alone
    const int64_t n = std::max<int64_t>(1, kept_count(full + (rest > 0 ? 1 : 0), r));
    if (rest == 0) return {n * L};
    return {n * L, (n - 1) * L + rest};  // with or without the short last chunk
  }
  if (s.name == "chunk") {
    const int64_t L = std::stoll(param(s, "chunk_length", "1024"));
    int64_t n = 0;
    for (int64_t begin = 0; begin < S; begin += L) n += std::max<int64_t>(1, kept_count(std::min(L, S - begin), r));
    return {n};
  }
  return {};
}

// Ratios per layer of per_layer_compression (spec §2.22), empty for every other press.
std::vector<double> per_layer_ratios(const PressSpec& s) {
  std::vector<double> out;
  if (s.name != "per_layer_compression") return out;
  const std::string list = param(s, "compression_ratios", "");
  for (size_t begin = 0; begin <= list.size();) {
    const size_t end = std::min(list.find(';', begin), list.size());
    out.push_back(std::stod(list.substr(begin, end - begin)));
    begin = end + 1;
  }
  return out;
}

// Presses that keep another count than int(S * (1 - ratio)) in every head, with the rule they follow:
// entries kept in total by each layer (per_layer) or by all layers together, heads free to differ.
struct KeptTotalRule {
  bool applies = false;
  bool per_layer = false;
  int64_t total = 0;
};
KeptTotalRule kept_total_rule(const PressSpec& s, int64_t L, int64_t Hkv, int64_t S, double ratio) {
  KeptTotalRule r;
  if (s.name == "kvzip") {
    // Spec §2.21 step 5: int(numel * ratio) pruned over all layers (layerwise: int(Hkv * S * ratio) per layer).
    r.applies = true;
    r.per_layer = param(s, "layerwise", "false") == "true";
    const int64_t n = r.per_layer ? Hkv * S : L * Hkv * S;
    r.total = n - (int64_t)((double)n * ratio);
  }
  if (s.name == "duo_attention_on_the_fly") {
    // Spec §2.12: round(L*Hkv*ratio) streaming heads keep sink + recent entries, the others all.
    r.applies = true;
    const int64_t n_streaming = (int64_t)std::nearbyint((double)(L * Hkv) * ratio);
    r.total = n_streaming * (kDuoSink + kDuoRecent) + (L * Hkv - n_streaming) * S;
  }
  if (s.name == "kvcompose") {
    // Spec §2.22 step 4: int(L*S*(1-ratio)) composite tokens over all layers, each of a layer's heads
    // keeping its layer's count (structured), or int(L*Hkv*S*(1-ratio)) over all heads (unstructured).
    r.applies = true;
    r.total = param(s, "structured", "true") == "true" ? Hkv * kept_count(L * S, ratio) : kept_count(L * Hkv * S, ratio);
  }
  return r;
}

// Channel pruning (think, spec §2.10) keeps every token: in the expected kept counts it is no truncation.
bool prunes_channels_not_tokens(const PressSpec& s) { return s.name == "think"; }
bool has_channel_pruning(const PressSpec& s) {
  if (prunes_channels_not_tokens(s)) return true;
  for (const auto& inner : s.inner)
    if (has_channel_pruning(inner)) return true;
  return false;
}

// The key stored for an entry of a channel-pruned head, against the original key `original` [d]: the
// kept channels hold it (exactly for f32/f16/bf16, which re-encode their own values exactly; q8_0 /
// q4_0 re-quantize the kept channels in new blocks, within two steps of the block's scale), the others 0.
void expect_channel_pruned_key(const float* stored, const float* original, const KvRows& keys, KvType type,
                               const std::string& where) {
  const int64_t d = keys.head_dim();
  std::vector<bool> kept((size_t)d, false);
  for (int64_t i = 0; i < keys.n_channels; ++i) kept[keys.channels[i]] = true;
  float amax = 0;
  for (int64_t e = 0; e < d; ++e) amax = std::max(amax, std::fabs(original[e]));
  const float tol = type == KvType::Q8_0 ? 2 * amax / 127 : type == KvType::Q4_0 ? 2 * amax / 7 : 0.0f;
  for (int64_t e = 0; e < d; ++e) {
    if (!kept[e]) {
      ASSERT_EQ(stored[e], 0.0f) << where << " pruned channel " << e;
    } else if (tol == 0.0f) {
      ASSERT_EQ(stored[e], original[e]) << where << " channel " << e;
    } else {
      ASSERT_NEAR(stored[e], original[e], tol) << where << " channel " << e;
    }
  }
}

// The uncompressed cache with the keys of the entries `compressed` kept replaced by the stored ones
// (their pruned channels 0): what kvpress's zeroed channels leave in the cache. Dropped entries are
// then masked by masked_decode_logits as for any press.
KvCache with_channels_zeroed(const KvCache& full, const KvCache& compressed) {
  KvCache out = full;
  std::vector<float> row((size_t)full.head_dim());
  for (int64_t l = 0; l < full.n_layers(); ++l)
    for (int64_t h = 0; h < full.n_heads_kv(); ++h) {
      const KvRows keys = compressed.keys(l, h);
      for (int64_t i = 0; i < compressed.length(l, h); ++i) {
        keys.read(i, 1, row.data());
        out.write_keys(l, h, compressed.positions(l, h)[i], 1, row.data());  // full: entry j is position j
      }
    }
  return out;
}

// Presses whose kept values are not the stored ones (evicted values merged into them, spec §2.22).
bool merges_evicted_values(const PressSpec& s) { return s.name == "merging"; }

// Every press under every KV storage type: presses score what is stored, compaction moves encoded rows.
class PressContract : public ::testing::TestWithParam<std::tuple<std::string, KvType>> {
 protected:
  void SetUp() override {
    ASSERT_EQ(press_spec().find("MISSING_EXAMPLE"), std::string::npos)
        << "add example specs for the wrapper " << press_spec() << " to wrapper_examples()";
    TinyModelSpec spec;
    spec.seed = 21;
    spec.head_dim = 32;  // one q8_0 / q4_0 block per row
    model_ = make_tiny_model(spec);
    ids_ = tiny_token_ids(kContext, 17);
    types_ = {std::get<1>(GetParam()), std::get<1>(GetParam())};
  }
  const std::string& press_spec() const { return std::get<0>(GetParam()); }
  // Presses whose window is a query-aware question (finch) get the context's last kQuestionTokens as one.
  PrefillRun run_prefill(Press* press) {
    const int64_t question = press && press->reads_question_window() ? kQuestionTokens : 0;
    return prefill(*model_, ids_, press, pool_, {}, types_, question);
  }
  KvTypes types_;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> ids_;
  ThreadPool pool_{2};
  const std::vector<int32_t> question_ = {kTinyFirstWord + 3, kTinyFirstWord + 40, kTinyFirstWord + 7};
};

TEST_P(PressContract, RatioZeroChangesNothing) {
  auto press = make_contract_press(press_spec(), 0.0);
  ASSERT_NE(press, nullptr);
  const auto base = run_prefill(nullptr);
  const auto run = run_prefill(press.get());
  EXPECT_EQ(run.cache.lengths(), base.cache.lengths());
  const auto a = decode_logits(*model_, base.cache, question_, kContext, pool_);
  const auto b = decode_logits(*model_, run.cache, question_, kContext, pool_);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "logit " << i;
}

TEST_P(PressContract, KeptEntriesFollowTheSpec) {
  const auto& c = model_->config();
  const PressSpec spec = expanded(press_spec());
  // Head-adaptive budgets: the layer keeps n_heads_kv * n_kept, each head at least the safeguard.
  const bool adakv = spec.name == "adakv" || spec.name == "critical_adakv";
  const PressSpec& scorer = adakv ? spec.inner[0] : spec;
  for (double ratio : kRatios) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto press = make_contract_press(press_spec(), ratio);
    const auto run = run_prefill(press.get());
    const std::set<int64_t> chunked = chunked_kept_counts(spec, kContext, ratio);
    // Re-rotating presses move kept entries to positions 0..n-1 with re-rotated keys (checked against
    // a reference in press_scores_wrappers_test); here: those positions and the values as gathered.
    const bool rerotates = press->rerotates_keys();
    // Merging presses fold evicted values into kept ones (checked against a reference in
    // press_scores_wrappers_test): kept keys are gathered, values are not.
    const bool merges_values = merges_evicted_values(spec);
    // dms evicts by a score threshold (its example's threshold is the test's ratio): no count to predict.
    const bool evicts_by_threshold = spec.name == "dms";
    // Expected per-head count: one truncation per (scorer) press applied in sequence.
    int64_t n_kept_all = kContext;
    const bool composed = spec.name == "composed";
    for (size_t k = 0; k < (composed ? spec.inner.size() : 1); ++k)
      if (!prunes_channels_not_tokens(composed ? spec.inner[k] : spec)) n_kept_all = kept_count(n_kept_all, ratio);
    const bool channels = has_channel_pruning(spec);
    const std::vector<double> layer_ratios = per_layer_ratios(expanded(with_ratio(press_spec(), ratio)));
    const KeptTotalRule rule = kept_total_rule(spec, c.n_layers, c.n_heads_kv, kContext, ratio);
    int64_t total_bytes = 0, total_all = 0;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const int64_t n_kept = layer_ratios.empty()    ? n_kept_all
                             : layer_ratios[l] >= 1.0 ? 0
                                                      : kept_count(kContext, layer_ratios[l]);
      int64_t total = 0;
      const int64_t n_kept_spec = scorer.name == "pyramidkv" ? pyramidkv_kept(scorer, kContext, ratio, l, c.n_layers) : n_kept;
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(run.cache, l, h);
        total += (int64_t)kept.size();
        for (size_t i = 1; i < kept.size(); ++i) ASSERT_LT(kept[i - 1], kept[i]) << "layer " << l << " head " << h;
        for (int32_t p : kept) ASSERT_TRUE(p >= 0 && p < kContext);
        if (rule.applies) {
          EXPECT_LE((int64_t)kept.size(), kContext) << "layer " << l << " head " << h;
        } else if (adakv) {
          const double alpha = std::stod(param(spec, "alpha_safeguard", "0.2"));
          EXPECT_GE((int64_t)kept.size(), (int64_t)((double)n_kept * alpha)) << "safeguard, layer " << l;
        } else if (evicts_by_threshold) {
          // Any count from the window to everything: which entries go depends on their scores alone.
          EXPECT_GE((int64_t)kept.size(), (int64_t)protected_positions(spec, kContext).size()) << "layer " << l;
        } else if (!chunked.empty()) {
          EXPECT_TRUE(chunked.count((int64_t)kept.size())) << kept.size() << " entries, layer " << l << " head " << h;
        } else {
          EXPECT_EQ((int64_t)kept.size(), n_kept_spec) << "layer " << l << " head " << h;
        }
        // Protected positions survive when the budget allows, else only protected ones are kept.
        if (spec.name != "composed" && !rerotates) {
          const auto prot = protected_positions(scorer, kContext);
          const std::set<int32_t> kept_set(kept.begin(), kept.end()), prot_set(prot.begin(), prot.end());
          const bool fits = evicts_by_threshold || n_kept_spec >= (int64_t)prot.size();
          for (int32_t p : fits ? prot : kept)
            EXPECT_TRUE(fits ? kept_set.count(p) : prot_set.count(p)) << "position " << p << " layer " << l;
        }
        // The kept keys are the original ones of those positions (gathered, not recomputed).
        const auto& snap = run.snapshots[l];
        const KvRows keys = run.cache.keys(l, h);
        const auto kept_keys = decoded(keys), kept_values = decoded(run.cache.values(l, h));
        // Channel pruning: int(d * ratio) channels of the context's keys are dropped, the rest stored in
        // whole blocks of the key type (padding zeros) and counted in bytes at that width.
        int64_t key_bytes = expected_row_bytes(types_.k, c.head_dim);
        if (channels) {
          ASSERT_TRUE(keys.pruned()) << "layer " << l << " head " << h;
          EXPECT_EQ(keys.n_narrow(), (int64_t)kept.size());
          EXPECT_EQ(keys.n_channels, c.head_dim - (int64_t)((double)c.head_dim * ratio));
          const int64_t block = types_.k == KvType::Q8_0 || types_.k == KvType::Q4_0 ? 32 : 1;
          key_bytes = expected_row_bytes(types_.k, (keys.n_channels + block - 1) / block * block);
          for (size_t i = 0; i < kept.size(); ++i) {
            expect_channel_pruned_key(&kept_keys[i * c.head_dim], &snap.keys[h][kept[i] * c.head_dim], keys, types_.k,
                                      "layer " + std::to_string(l) + " head " + std::to_string(h));
            for (int64_t e = 0; e < c.head_dim; ++e)
              ASSERT_EQ(kept_values[i * c.head_dim + e], snap.values[h][kept[i] * c.head_dim + e]);
          }
        }
        if (rerotates) {
          for (size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(kept[i], (int32_t)i) << "layer " << l << " head " << h;
          // Each value row is the next one of the snapshot's that it equals (a gather in position order).
          int64_t from = 0;
          for (size_t i = 0; i < kept.size(); ++i) {
            auto same = [&](int64_t j) {
              return std::equal(&kept_values[i * c.head_dim], &kept_values[(i + 1) * c.head_dim],
                                &snap.values[h][j * c.head_dim]);
            };
            while (from < kContext && !same(from)) ++from;
            ASSERT_LT(from, kContext) << "value row " << i << " is not a kept original, layer " << l;
            ++from;
          }
        }
        for (size_t i = 0; i < kept.size() && !rerotates && !channels; ++i)
          for (int64_t e = 0; e < c.head_dim; ++e) {
            ASSERT_EQ(kept_keys[i * c.head_dim + e], snap.keys[h][kept[i] * c.head_dim + e]);
            if (!merges_values) { ASSERT_EQ(kept_values[i * c.head_dim + e], snap.values[h][kept[i] * c.head_dim + e]); }
          }
        total_bytes += (int64_t)kept.size() * (key_bytes + expected_row_bytes(types_.v, c.head_dim));
      }
      if (adakv) { EXPECT_EQ(total, c.n_heads_kv * n_kept) << "layer " << l; }
      if (rule.applies && rule.per_layer) { EXPECT_EQ(total, rule.total) << "layer " << l; }
      total_all += total;
    }
    if (rule.applies && !rule.per_layer) { EXPECT_EQ(total_all, rule.total) << "all layers"; }
    EXPECT_EQ(run.cache.bytes(), total_bytes);
  }
}

TEST_P(PressContract, Deterministic) {
  for (double ratio : {0.5, 0.9}) {
    auto p1 = make_contract_press(press_spec(), ratio);
    auto p2 = make_contract_press(press_spec(), ratio);
    const auto a = run_prefill(p1.get());
    const auto b = run_prefill(p2.get());
    const auto c = run_prefill(p1.get());  // the same object again (reset() between contexts)
    for (int64_t l = 0; l < model_->config().n_layers; ++l)
      for (int64_t h = 0; h < model_->config().n_heads_kv; ++h) {
        EXPECT_EQ(kept_positions(a.cache, l, h), kept_positions(b.cache, l, h));
        EXPECT_EQ(kept_positions(a.cache, l, h), kept_positions(c.cache, l, h));
      }
  }
}

TEST_P(PressContract, DecodingMatchesMaskedFullCache) {
  // The fake keys that mask dropped entries are stored like any key: their magnitude overflows f16's
  // range, and a 32-element q8_0 / q4_0 block does not keep their direction precisely enough to
  // guarantee <q, k_fake> < 0 for every query. f32 and bf16 (f32's range) store them faithfully.
  if (types_.k != KvType::F32 && types_.k != KvType::BF16)
    GTEST_SKIP() << "the masked reference needs fake keys stored in f32 or bf16";
  const auto full = run_prefill(nullptr);
  for (double ratio : kRatios) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto press = make_contract_press(press_spec(), ratio);
    const auto run = run_prefill(press.get());
    if (merges_evicted_values(expanded(press_spec()))) {
      // Merged values change the output: no masked cache is equivalent; decoding must stay finite.
      for (float v : decode_logits(*model_, run.cache, question_, kContext, pool_)) ASSERT_TRUE(std::isfinite(v));
      continue;
    }
    if (press->rerotates_keys()) {
      // Kept keys moved to positions 0..n-1: the question starts at the compressed length and no masked
      // full cache is equivalent (press_scores_wrappers_test compares with a re-rotated reference).
      for (float v : decode_logits(*model_, run.cache, question_, (int32_t)run.cache.length(0, 0), pool_))
        ASSERT_TRUE(std::isfinite(v));
      continue;
    }
    const auto compressed = decode_logits(*model_, run.cache, question_, kContext, pool_);
    // Channel pruning: the reference is the full cache with the pruned channels zeroed, as kvpress leaves it.
    const KvCache reference = run.cache.has_pruned_keys() ? with_channels_zeroed(full.cache, run.cache) : full.cache;
    const auto masked = masked_decode_logits(*model_, reference, run.cache, question_, kContext, pool_);
    for (float v : compressed) ASSERT_TRUE(std::isfinite(v));
    EXPECT_LE(max_abs_diff(compressed, masked), 1e-4);
    // Compression changed something (the comparison is not vacuous).
    const auto uncompressed = decode_logits(*model_, full.cache, question_, kContext, pool_);
    EXPECT_GT(max_abs_diff(compressed, uncompressed), 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, PressContract,
                         ::testing::Combine(::testing::ValuesIn(contract_specs()),
                                            ::testing::Values(KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0,
                                                              KvType::Q4_0)),
                         [](const auto& info) {
                           std::string name;
                           // A file parameter's path (per process) stays out of the test's name.
                           const std::string spec = std::get<0>(info.param);
                           for (char ch : spec.substr(0, spec.find(":stats_file=")))
                             name += std::isalnum((unsigned char)ch) ? ch : '_';
                           return name + "_" + std::string(kv_type_name(std::get<1>(info.param)));
                         });

}  // namespace
}  // namespace kvpress::testing
