// Prefill snapshots, selection checks and the fake-key masked reference used by the press tests.
#include "press_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kv_rows_util.h"
#include "press/press_prefill.h"

namespace kvpress::testing {

PrefillRun prefill(const Model& model, const std::vector<int32_t>& ids, Press* press, ThreadPool& pool,
                   const std::function<void(const LayerPrefill&)>& on_layer, const KvTypes& kv_types,
                   int64_t question_tokens) {
  const auto& c = model.config();
  PrefillRun run{model.make_cache(kv_types), {}, {}};
  std::vector<int32_t> positions(ids.size());
  std::iota(positions.begin(), positions.end(), 0);
  PressPrefill with_press(press);
  with_press.extra_needs = {};  // the snapshot holds every query and hidden state
  with_press.question_tokens = question_tokens;
  with_press.before_compress = [&](const LayerPrefill& layer) {
    LayerSnapshot s;
    s.layer = layer.layer;
    s.n_tokens = layer.n_tokens;
    s.hidden_normed.assign(layer.hidden_normed, layer.hidden_normed + layer.n_tokens * c.n_embd);
    s.queries.assign(layer.queries, layer.queries + layer.n_tokens * c.n_heads * c.head_dim);
    s.positions.assign(layer.positions, layer.positions + layer.n_tokens);
    for (int64_t h = 0; h < c.n_heads_kv; ++h) {
      const int64_t n = layer.cache.length(layer.layer, h);
      s.keys.push_back(decoded(layer.cache.keys(layer.layer, h)));
      s.values.push_back(decoded(layer.cache.values(layer.layer, h)));
      s.key_positions.emplace_back(layer.cache.positions(layer.layer, h), layer.cache.positions(layer.layer, h) + n);
    }
    run.snapshots.push_back(std::move(s));
    if (on_layer) on_layer(layer);
  };
  ForwardOptions options;
  options.logits = LogitsMode::Last;
  with_press.attach(options);
  options.question_tokens = question_tokens;
  run.last_logits = model.forward(ids, positions, run.cache, pool, options);
  with_press.finish(model, run.cache, pool, ids);  // presses acting on the whole context
  return run;
}

std::vector<int32_t> kept_positions(const KvCache& cache, int64_t layer, int64_t head) {
  return std::vector<int32_t>(cache.positions(layer, head), cache.positions(layer, head) + cache.length(layer, head));
}

double expect_top_selection(const std::vector<double>& reference, const std::vector<int32_t>& kept, int64_t n_kept,
                            double tol, const std::string& where) {
  EXPECT_EQ((int64_t)kept.size(), n_kept) << where;
  std::vector<bool> is_kept(reference.size(), false);
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_TRUE(kept[i] >= 0 && kept[i] < (int32_t)reference.size()) << where;
    if (i > 0) { EXPECT_LT(kept[i - 1], kept[i]) << where << ": kept positions not strictly ascending"; }
    if (kept[i] >= 0 && kept[i] < (int32_t)reference.size()) is_kept[kept[i]] = true;
  }
  double min_kept = INFINITY, max_dropped = -INFINITY;
  for (size_t j = 0; j < reference.size(); ++j) {
    if (is_kept[j])
      min_kept = std::min(min_kept, reference[j]);
    else
      max_dropped = std::max(max_dropped, reference[j]);
  }
  if (!kept.empty() && kept.size() < reference.size()) {
    EXPECT_GE(min_kept, max_dropped - tol) << where << ": a dropped entry scores above a kept one";
  }
  return min_kept - max_dropped;
}

std::vector<float> decode_logits(const Model& model, const KvCache& cache, const std::vector<int32_t>& question,
                                 int32_t start, ThreadPool& pool) {
  KvCache copy = cache;
  std::vector<int32_t> positions(question.size());
  std::iota(positions.begin(), positions.end(), start);
  ForwardOptions options;
  options.logits = LogitsMode::All;
  return model.forward(question, positions, copy, pool, options);
}

namespace {

// kvpress uses c = 1e5, which leaves a query barely aligned with y (small <q, y> / |y|^2) a logit of
// only about -30; 1e8 keeps the construction and pushes every masked logit far below exp underflow.
constexpr double kFakeKeyScale = -1e8;

// kvpress's search (spec §1.6): y = mean(X); while some <x, y> <= 0, add the mean of those rows.
bool find_positive_direction(const std::vector<std::vector<double>>& rows, std::vector<double>& y) {
  const size_t d = rows.front().size();
  y.assign(d, 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < d; ++i) y[i] += r[i] / (double)rows.size();
  for (int iter = 0; iter < 1000; ++iter) {
    std::vector<double> add(d, 0.0);
    int64_t n_bad = 0;
    for (const auto& r : rows) {
      double dot = 0;
      for (size_t i = 0; i < d; ++i) dot += r[i] * y[i];
      if (dot <= 0) {
        ++n_bad;
        for (size_t i = 0; i < d; ++i) add[i] += r[i];
      }
    }
    if (n_bad == 0) return true;
    for (size_t i = 0; i < d; ++i) y[i] += add[i] / (double)n_bad;
  }
  return false;
}

}  // namespace

std::vector<float> masked_decode_logits(const Model& model, const KvCache& full, const KvCache& compressed,
                                        const std::vector<int32_t>& question, int32_t start, ThreadPool& pool) {
  const auto& c = model.config();
  const int64_t L = c.n_layers, Hkv = c.n_heads_kv, H = c.n_heads, d = c.head_dim, G = c.group_size();
  const int64_t Tq = (int64_t)question.size();
  // Masked (dropped) cache indices per (layer, head).
  std::vector<std::vector<int64_t>> masked((size_t)(L * Hkv));
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < Hkv; ++h) {
      const auto kept = kept_positions(compressed, l, h);
      const std::set<int32_t> kept_set(kept.begin(), kept.end());
      for (int64_t j = 0; j < full.length(l, h); ++j)
        if (!kept_set.count(full.positions(l, h)[j])) masked[l * Hkv + h].push_back(j);
    }
  KvCache cache = full;
  const auto snapshot = cache.lengths();
  std::vector<int32_t> positions((size_t)Tq);
  std::iota(positions.begin(), positions.end(), start);
  std::vector<std::vector<double>> y((size_t)(L * Hkv));  // fake-key directions
  std::vector<float> queries((size_t)(L * Tq * H * d));    // queries of the last run
  LayerObserver capture = [&](const LayerPrefill& layer) {
    std::copy(layer.queries, layer.queries + Tq * H * d, queries.begin() + layer.layer * Tq * H * d);
  };
  auto group_rows = [&](int64_t l, int64_t g) {
    std::vector<std::vector<double>> rows;
    for (int64_t t = 0; t < Tq; ++t)
      for (int64_t k = 0; k < G; ++k) {
        const float* q = &queries[((l * Tq + t) * H + g * G + k) * d];
        rows.emplace_back(q, q + d);
      }
    return rows;
  };
  std::vector<float> logits;
  for (int64_t iter = 0; iter <= L; ++iter) {
    ForwardOptions options;
    options.logits = iter == L ? LogitsMode::All : LogitsMode::None;
    options.observer = &capture;
    logits = model.forward(question, positions, cache, pool, options);
    cache.truncate(snapshot);
    if (iter == L) break;
    // Layer `iter` now saw the queries of the fully masked run below it; refresh every layer anyway.
    for (int64_t l = 0; l < L; ++l)
      for (int64_t g = 0; g < Hkv; ++g) {
        if (masked[l * Hkv + g].empty()) continue;
        auto& yv = y[l * Hkv + g];
        if (!find_positive_direction(group_rows(l, g), yv)) {
          ADD_FAILURE() << "no fake-key direction for layer " << l << " head " << g;
          return logits;
        }
        double norm2 = 0;
        for (double v : yv) norm2 += v * v;
        std::vector<float> fake((size_t)d);
        for (int64_t i = 0; i < d; ++i) fake[i] = (float)(kFakeKeyScale * yv[i] / norm2);
        for (int64_t j : masked[l * Hkv + g]) cache.write_keys(l, g, j, 1, fake.data());
      }
  }
  // The final run's queries must all have been pushed to zero weight by the fake keys: their
  // logit <q, k_fake>/sqrt(d) must be far below anything a real key produces.
  for (int64_t l = 0; l < L; ++l)
    for (int64_t g = 0; g < Hkv; ++g) {
      if (masked[l * Hkv + g].empty()) continue;
      const auto& yv = y[l * Hkv + g];
      double norm2 = 0;
      for (double v : yv) norm2 += v * v;
      for (const auto& r : group_rows(l, g)) {
        double dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += r[i] * yv[i];
        EXPECT_LT(kFakeKeyScale * dot / norm2 / std::sqrt((double)d), -200.0) << "fake key not masking, layer " << l;
      }
    }
  return logits;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, (double)std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace kvpress::testing
