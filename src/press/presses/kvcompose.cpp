// KVComposePress (Akulov et al. 2025, "KVCompose: Efficient Structured KV Cache Compression with
// Composite Tokens"): after the prefill the context is fed once more on the same cache; every context
// entry scores the attention the re-fed queries pay it (aggregated over queries, then over the GQA
// group). Budgets come from "composite tokens": each head's scores sorted descending, aggregated
// rank-wise over the heads of a layer (structured: one budget per layer) or taken per head
// (unstructured), competing globally over all layers (spec §2.22). Each head then keeps its own best
// entries. Both variants compact for real here (kvpress masks the unstructured one).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/press_args.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

enum class Agg { Max, Mean };
Agg agg_of(const std::string& name) { return name == "max" ? Agg::Max : Agg::Mean; }
const char* agg_name(Agg a) { return a == Agg::Max ? "max" : "mean"; }

// Aggregates rows [n_rows][n] (row-major) element-wise into [n].
std::vector<double> aggregate(Agg agg, const std::vector<const double*>& rows, int64_t n) {
  std::vector<double> out((size_t)n, agg == Agg::Max ? -INFINITY : 0.0);
  for (const double* r : rows)
    for (int64_t j = 0; j < n; ++j) out[(size_t)j] = agg == Agg::Max ? std::max(out[(size_t)j], r[j]) : out[(size_t)j] + r[j];
  if (agg == Agg::Mean)
    for (double& v : out) v /= (double)rows.size();
  return out;
}

// Counts per row of the n_kept best entries of rows that are each sorted descending: one strict order
// (higher value, then lower rank, then lower row), so every row contributes a prefix.
std::vector<int64_t> counts_of_top(const std::vector<std::vector<double>>& sorted_rows, int64_t n_kept) {
  const int64_t R = (int64_t)sorted_rows.size(), n = R ? (int64_t)sorted_rows[0].size() : 0;
  std::vector<int64_t> idx((size_t)(R * n));
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](int64_t a, int64_t b) {
    const double va = sorted_rows[(size_t)(a / n)][(size_t)(a % n)], vb = sorted_rows[(size_t)(b / n)][(size_t)(b % n)];
    if (va != vb) return va > vb;
    if (a % n != b % n) return a % n < b % n;
    return a / n < b / n;
  };
  n_kept = std::min<int64_t>(n_kept, (int64_t)idx.size());
  if (n_kept < (int64_t)idx.size()) std::nth_element(idx.begin(), idx.begin() + n_kept, idx.end(), better);
  std::vector<int64_t> counts((size_t)R, 0);
  for (int64_t i = 0; i < n_kept; ++i) ++counts[(size_t)(idx[(size_t)i] / n)];
  return counts;
}

}  // namespace

class KvComposePress final : public AfterPrefillPress {
 public:
  struct Options {
    bool structured = true;
    Agg agg_task = Agg::Max, agg_group = Agg::Mean, agg_head = Agg::Mean;
    bool add_v_norm = false;
    bool add_mean_across_heads = true;
    int64_t keep_token_lower_bound = 0;
  };
  explicit KvComposePress(Options o) : o_(o) {}

  std::string name() const override {
    return std::string("kvcompose:structured=") + (o_.structured ? "true" : "false") + ",agg_task=" +
           agg_name(o_.agg_task) + ",agg_group=" + agg_name(o_.agg_group) + ",agg_head=" + agg_name(o_.agg_head) +
           ",add_v_norm=" + (o_.add_v_norm ? "true" : "false") +
           ",add_mean_across_heads=" + (o_.add_mean_across_heads ? "true" : "false") +
           ",keep_token_lower_bound=" + std::to_string(o_.keep_token_lower_bound);
  }

  void after_prefill(const ContextPrefill& context) override {
    // Ratio 0 keeps every context entry (kvpress then only drops the re-fed copy): nothing to do.
    if (compression_ratio_ == 0.0) return;
    require_whole_context(context);
    select(context, scores(context));
  }

  // Scores [n_layers][n_heads_kv][N] after steps 1-2 (re-fed pass, group aggregation, v norm, mean
  // across heads); the cache is left as it was. Public for the tests.
  std::vector<std::vector<std::vector<double>>> scores(const ContextPrefill& context) const {
    const Model& model = context.model;
    const auto& c = model.config();
    const int64_t N = (int64_t)context.ids.size(), L = c.n_layers, H = c.n_heads, Hkv = c.n_heads_kv;
    const int64_t G = c.group_size(), d = c.head_dim;
    std::vector<std::vector<std::vector<double>>> out((size_t)L);
    // Step 1: the context again at positions N..2N-1; per query head, its queries' attention on the
    // N context entries aggregated over the queries.
    LayerObserver observer = [&](const LayerPrefill& layer) {
      // Per query head: logits of the T re-fed queries against all 2N entries in one matmul (the
      // cache rows as stored), softmax of each row over the entries it sees (the context and the
      // re-fed tokens up to itself), aggregated over the rows on the N context columns.
      const int64_t T = layer.n_tokens, S = layer.cache.length(layer.layer, 0);
      KV_CHECK(layer.n_query_rows == T && S == N + T);
      const bool max_task = o_.agg_task == Agg::Max;
      const float scale = 1.0f / std::sqrt((float)d);
      std::vector<double> task((size_t)(H * N));
      std::vector<float> logits((size_t)(T * S));
      std::vector<std::vector<double>> part((size_t)layer.pool.n_threads(), std::vector<double>((size_t)N));
      for (int64_t h = 0; h < H; ++h) {
        kernels::matmul(layer.cache.keys(layer.layer, h / G), layer.query(0) + h * d, T, H * d, logits.data(), S,
                        layer.pool);
        for (auto& pt : part) std::fill(pt.begin(), pt.end(), 0.0);
        layer.pool.parallel_for(T, 16, [&](int64_t t0, int64_t t1, int thread) {
          double* acc = part[(size_t)thread].data();
          for (int64_t t = t0; t < t1; ++t) {
            float* p = &logits[(size_t)(t * S)];
            const int64_t n_seen = N + t + 1;
            float m = -INFINITY;
            for (int64_t j = 0; j < n_seen; ++j) m = std::max(m, p[j] *= scale);
            double z = 0;
            for (int64_t j = 0; j < n_seen; ++j) z += (double)(p[j] = std::exp(p[j] - m));
            for (int64_t j = 0; j < N; ++j) {
              const double a = (double)p[j] / z;
              acc[j] = max_task ? std::max(acc[j], a) : acc[j] + a;
            }
          }
        });
        double* out = &task[(size_t)(h * N)];
        for (int64_t j = 0; j < N; ++j) {
          double v = 0;
          for (const auto& pt : part) v = max_task ? std::max(v, pt[(size_t)j]) : v + pt[(size_t)j];
          out[j] = max_task ? v : v / (double)T;
        }
      }
      // Step 2: agg_group over each KV head's query heads.
      auto& per_head = out[(size_t)layer.layer];
      for (int64_t j = 0; j < Hkv; ++j) {
        std::vector<const double*> rows;
        for (int64_t g = 0; g < G; ++g) rows.push_back(&task[(size_t)((j * G + g) * N)]);
        per_head.push_back(aggregate(o_.agg_group, rows, N));
      }
    };
    std::vector<int32_t> positions((size_t)N);
    std::iota(positions.begin(), positions.end(), (int32_t)N);
    ForwardOptions fwd;
    fwd.logits = LogitsMode::None;
    fwd.observer = &observer;
    fwd.needs = {ObservationNeeds::kAll, false};
    const std::vector<int64_t> snapshot = context.cache.lengths();
    model.forward(context.ids, positions, context.cache, context.pool, fwd);
    context.cache.truncate(snapshot);  // the re-fed copy leaves the cache
    for (int64_t l = 0; l < L; ++l) {
      auto& layer = out[(size_t)l];
      if (o_.add_v_norm)  // ||v|| of the context entries (kvpress multiplies by the 2N-entry cache's norms [quirk])
        for (int64_t j = 0; j < Hkv; ++j) {
          const KvRows v = context.cache.values(l, j);
          std::vector<float> scratch((size_t)d);
          for (int64_t s = 0; s < N; ++s) {
            const float* row = v.row_f32(s, scratch.data());
            double n2 = 0;
            for (int64_t e = 0; e < d; ++e) n2 += (double)row[e] * row[e];
            layer[(size_t)j][(size_t)s] *= std::sqrt(n2);
          }
        }
      if (o_.add_mean_across_heads) {
        std::vector<double> mean((size_t)N, 0.0);
        for (int64_t j = 0; j < Hkv; ++j)
          for (int64_t s = 0; s < N; ++s) mean[(size_t)s] += layer[(size_t)j][(size_t)s] / (double)Hkv;
        for (int64_t j = 0; j < Hkv; ++j)
          for (int64_t s = 0; s < N; ++s) layer[(size_t)j][(size_t)s] += mean[(size_t)s];
      }
    }
    return out;
  }

 private:
  // Steps 3-5: composite budgets, then each head keeps its own top-count entries.
  void select(const ContextPrefill& context, const std::vector<std::vector<std::vector<double>>>& s) const {
    const auto& c = context.model.config();
    const int64_t N = (int64_t)context.ids.size(), L = c.n_layers, Hkv = c.n_heads_kv;
    const double bound = 1e9;
    const int64_t lb = std::min(o_.keep_token_lower_bound, N);
    std::vector<std::vector<double>> sorted_heads;  // [L * Hkv][N]
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < Hkv; ++j) {
        std::vector<double> r = s[(size_t)l][(size_t)j];
        std::sort(r.begin(), r.end(), std::greater<>());
        sorted_heads.push_back(std::move(r));
      }
    std::vector<int64_t> counts;  // per (layer, head)
    if (o_.structured) {
      std::vector<std::vector<double>> composite((size_t)L);
      for (int64_t l = 0; l < L; ++l) {
        std::vector<const double*> rows;
        for (int64_t j = 0; j < Hkv; ++j) rows.push_back(sorted_heads[(size_t)(l * Hkv + j)].data());
        composite[(size_t)l] = aggregate(o_.agg_head, rows, N);
        for (int64_t r = 0; r < lb; ++r) composite[(size_t)l][(size_t)r] += bound;
      }
      for (int64_t r = 0; r < N; ++r)  // layer 0's composite: the element-wise max over layers
        for (int64_t l = 1; l < L; ++l) composite[0][(size_t)r] = std::max(composite[0][(size_t)r], composite[(size_t)l][(size_t)r]);
      const std::vector<int64_t> per_layer = counts_of_top(composite, kept_count(L * N, compression_ratio_));
      for (int64_t l = 0; l < L; ++l)
        for (int64_t j = 0; j < Hkv; ++j) counts.push_back(per_layer[(size_t)l]);
    } else {
      for (auto& r : sorted_heads)
        for (int64_t k = 0; k < lb; ++k) r[(size_t)k] += bound;
      counts = counts_of_top(sorted_heads, kept_count(L * Hkv * N, compression_ratio_));
    }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < Hkv; ++j) {
        const auto& row = s[(size_t)l][(size_t)j];
        std::vector<float> f(row.begin(), row.end());
        context.cache.keep(l, j, top_indices(f.data(), N, counts[(size_t)(l * Hkv + j)]));
      }
  }

  Options o_;
};

// For the tests: kvcompose's per-head scores of a prefilled context (the cache is left as it was).
std::vector<std::vector<std::vector<double>>> kvcompose_scores(Press& press, const ContextPrefill& context) {
  auto* p = dynamic_cast<KvComposePress*>(&press);
  if (!p) fail("kvcompose_scores: press '", press.name(), "' is not kvcompose");
  return p->scores(context);
}

template <>
std::unique_ptr<Press> create_press<KvComposePress>(PressArgs& args) {
  KvComposePress::Options o;
  o.structured = args.boolean("structured", true);
  o.agg_task = agg_of(args.choice("agg_task", "max", {"max", "mean"}));
  o.agg_group = agg_of(args.choice("agg_group", "mean", {"max", "mean"}));
  o.agg_head = agg_of(args.choice("agg_head", "mean", {"max", "mean"}));
  o.add_v_norm = args.boolean("add_v_norm", false);
  o.add_mean_across_heads = args.boolean("add_mean_across_heads", true);
  o.keep_token_lower_bound = args.integer("keep_token_lower_bound", 0, 0, 1 << 30);
  if (args.describing()) return nullptr;
  return std::make_unique<KvComposePress>(o);
}

}  // namespace kvpress
