// Reference wrapper presses in double, written from the spec's formulas (not from src/press).
#include "press_reference_wrappers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace kvpress::testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void force(std::vector<double>& row, int64_t n) {
  for (int32_t j : ref_top(row, n)) row[j] = kInf;
}

// The n best (head, entry) pairs over all heads: score descending, then position, then head.
KeptSets joint_top(const RefScores& scores, int64_t n) {
  std::vector<std::pair<int64_t, int64_t>> all;  // (head, entry)
  for (size_t h = 0; h < scores.size(); ++h)
    for (size_t j = 0; j < scores[h].size(); ++j) all.emplace_back((int64_t)h, (int64_t)j);
  std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
    const double sa = scores[a.first][a.second], sb = scores[b.first][b.second];
    if (sa != sb) return sa > sb;
    if (a.second != b.second) return a.second < b.second;
    return a.first < b.first;
  });
  KeptSets kept(scores.size());
  for (int64_t i = 0; i < std::min<int64_t>(n, (int64_t)all.size()); ++i)
    kept[all[i].first].push_back((int32_t)all[i].second);
  for (auto& k : kept) std::sort(k.begin(), k.end());
  return kept;
}

}  // namespace

std::vector<int32_t> ref_top(const std::vector<double>& row, int64_t n) {
  std::vector<int32_t> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  idx.resize((size_t)std::clamp<int64_t>(n, 0, (int64_t)row.size()));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<std::vector<double>> ref_output_weights(const Model& model, int64_t layer) {
  const auto& wo = model.weights().layers[(size_t)layer].wo;
  std::vector<std::vector<double>> w((size_t)wo.n_rows);
  for (int64_t r = 0; r < wo.n_rows; ++r) {
    const float* row = reinterpret_cast<const float*>(wo.data + r * wo.row_bytes);  // f32 test models only
    w[r].assign(row, row + wo.n_cols);
  }
  return w;
}

RefScores ref_value_output_norm(const LayerSnapshot& s, const ModelConfig& c,
                                const std::vector<std::vector<double>>& wo) {
  const int64_t d = c.head_dim, G = c.n_heads / c.n_heads_kv;
  RefScores out;
  for (int64_t h = 0; h < c.n_heads_kv; ++h) {
    std::vector<double> row((size_t)s.length(h), 0.0);
    for (int64_t j = 0; j < s.length(h); ++j)
      for (int64_t k = 0; k < G; ++k) {
        const int64_t q = h * G + k;
        double l1 = 0;
        for (size_t e = 0; e < wo.size(); ++e) {
          double y = 0;
          for (int64_t i = 0; i < d; ++i) y += (double)s.values[h][j * d + i] * wo[e][q * d + i];
          l1 += std::fabs(y);
        }
        row[j] += l1 / (double)G;
      }
    out.push_back(row);
  }
  return out;
}

RefScores ref_criticalkv(const RefScores& inner, const RefScores& norms, double ratio, double epsilon,
                         double first_stage_ratio) {
  RefScores out;
  for (size_t h = 0; h < inner.size(); ++h) {
    const int64_t S = (int64_t)inner[h].size();
    const int64_t b1 = (int64_t)std::trunc((1.0 - ratio) * (double)S * first_stage_ratio);
    std::vector<double> row(inner[h].size());
    for (size_t j = 0; j < row.size(); ++j) row[j] = (inner[h][j] + epsilon) * norms[h][j];
    for (int32_t j : ref_top(inner[h], b1)) row[j] = kInf;
    out.push_back(row);
  }
  return out;
}

KeptSets ref_critical_adakv_keep(const RefScores& inner, const RefScores& norms, double ratio, double alpha,
                                 double epsilon, double first_stage_ratio) {
  const int64_t Hkv = (int64_t)inner.size(), S = (int64_t)inner[0].size();
  const int64_t n_kept = ref_kept_count(S, ratio), n_safe = (int64_t)std::trunc((double)n_kept * alpha);
  RefScores s = inner;
  for (auto& row : s) force(row, n_safe);
  const KeptSets budgets = joint_top(s, Hkv * n_kept);
  for (int64_t h = 0; h < Hkv; ++h) force(s[h], (int64_t)std::trunc((double)budgets[h].size() * first_stage_ratio));
  for (int64_t h = 0; h < Hkv; ++h)
    for (int64_t j = 0; j < S; ++j) s[h][j] = (s[h][j] + epsilon) * norms[h][j];
  for (int64_t h = 0; h < Hkv; ++h) force(s[h], (int64_t)budgets[h].size());
  return joint_top(s, Hkv * n_kept);
}

std::vector<int32_t> ref_chunkkv_keep(const RefScores& inner, int64_t chunk_length, double ratio) {
  const int64_t S = (int64_t)inner[0].size();
  const int64_t n_chunks = (S + chunk_length - 1) / chunk_length;
  std::vector<double> chunk_score((size_t)n_chunks, 0.0);
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = c * chunk_length, end = std::min(S, begin + chunk_length);
    for (int64_t j = begin; j < end; ++j)
      for (const auto& row : inner) chunk_score[c] += row[j];
    chunk_score[c] /= (double)(end - begin);
  }
  const int64_t n_kept = std::max<int64_t>(1, ref_kept_count(n_chunks, ratio));
  std::vector<int32_t> kept;
  for (int32_t c : ref_top(chunk_score, n_kept))
    for (int64_t j = c * chunk_length; j < std::min(S, (c + 1) * chunk_length); ++j) kept.push_back((int32_t)j);
  return kept;
}

LayerSnapshot ref_piece(const LayerSnapshot& s, const std::vector<std::vector<int64_t>>& entries, int64_t first) {
  LayerSnapshot p;
  p.layer = s.layer;
  const int64_t n = (int64_t)entries[0].size();
  p.n_tokens = n;
  const int64_t d = (int64_t)s.keys[0].size() / s.length(0);
  for (size_t h = 0; h < entries.size(); ++h) {
    std::vector<float> k, v;
    std::vector<int32_t> pos;
    for (int64_t e : entries[h]) {
      k.insert(k.end(), s.keys[h].begin() + e * d, s.keys[h].begin() + (e + 1) * d);
      v.insert(v.end(), s.values[h].begin() + e * d, s.values[h].begin() + (e + 1) * d);
      pos.push_back(s.key_positions[h][e]);
    }
    p.keys.push_back(k);
    p.values.push_back(v);
    p.key_positions.push_back(pos);
  }
  if (first >= 0) {
    const size_t row = s.queries.size() / (size_t)s.n_tokens;
    p.queries.assign(s.queries.begin() + first * row, s.queries.begin() + (first + n) * row);
    p.positions.assign(s.positions.begin() + first, s.positions.begin() + first + n);
  }
  return p;
}

KeptSets ref_chunk_keep(const LayerSnapshot& s, int64_t chunk_length, double ratio, const RefScorer& scorer) {
  const int64_t S = s.length(0), Hkv = (int64_t)s.keys.size();
  KeptSets kept((size_t)Hkv);
  for (int64_t begin = 0; begin < S; begin += chunk_length) {
    const int64_t len = std::min(chunk_length, S - begin);
    std::vector<int64_t> range((size_t)len);
    std::iota(range.begin(), range.end(), begin);
    const RefScores scores = scorer(ref_piece(s, std::vector<std::vector<int64_t>>((size_t)Hkv, range), begin));
    const int64_t n = std::max<int64_t>(1, ref_kept_count(len, ratio));
    for (int64_t h = 0; h < Hkv; ++h)
      for (int32_t j : ref_top(scores[h], n)) kept[h].push_back((int32_t)(begin + j));
  }
  return kept;
}

KeptSets ref_block_keep(const LayerSnapshot& s, int64_t block_size, double ratio, const RefScorer& scorer) {
  const int64_t S = s.length(0), Hkv = (int64_t)s.keys.size();
  const int64_t n_kept = ref_kept_count(S, ratio), block = std::min(block_size, S);
  std::vector<std::vector<int64_t>> kept((size_t)Hkv, std::vector<int64_t>((size_t)n_kept));
  for (auto& k : kept) std::iota(k.begin(), k.end(), 0);
  for (int64_t i = n_kept; i < S; i += block) {
    auto candidates = kept;
    for (auto& c : candidates)
      for (int64_t j = i; j < std::min(i + block, S); ++j) c.push_back(j);
    const RefScores scores = scorer(ref_piece(s, candidates, -1));
    for (int64_t h = 0; h < Hkv; ++h) {
      const auto best = ref_top(scores[h], n_kept);
      for (size_t t = 0; t < best.size(); ++t) kept[h][t] = candidates[h][best[t]];
    }
  }
  KeptSets out;
  for (const auto& k : kept) out.emplace_back(k.begin(), k.end());
  return out;
}

std::vector<double> ref_rerotated_key(const LayerSnapshot& s, const ModelConfig& c, int64_t head, int64_t entry,
                                      int64_t new_position) {
  const int64_t d = c.head_dim, half = d / 2;
  const bool adjacent = c.arch == "llama";
  const double old_position = s.key_positions[head][entry];
  std::vector<double> k(s.keys[head].begin() + entry * d, s.keys[head].begin() + (entry + 1) * d);
  for (int64_t i = 0; i < half; ++i) {
    const double theta = std::pow((double)c.rope_base, -2.0 * (double)i / (double)d);
    const int64_t a = adjacent ? 2 * i : i, b = adjacent ? 2 * i + 1 : i + half;
    // Undo the rotation by old_position, then rotate by new_position.
    for (const double angle : {-old_position * theta, (double)new_position * theta}) {
      const double x0 = k[a], x1 = k[b];
      k[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
      k[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
  }
  return k;
}

std::vector<std::vector<double>> ref_merged_values(const LayerSnapshot& s, int64_t head,
                                                   const std::vector<int32_t>& kept, double similarity_threshold,
                                                   double merge_fraction) {
  const auto& K = s.keys[head];
  const auto& V = s.values[head];
  const int64_t S = s.length(head), d = (int64_t)K.size() / S;
  auto norm = [d](const std::vector<float>& x, int64_t j) {
    double n = 0;
    for (int64_t i = 0; i < d; ++i) n += (double)x[j * d + i] * x[j * d + i];
    return std::sqrt(n);
  };
  std::vector<std::vector<double>> out;
  for (int32_t t : kept) out.emplace_back(V.begin() + t * d, V.begin() + (t + 1) * d);
  std::vector<int64_t> evicted;
  for (int64_t j = 0; j < S; ++j)
    if (!std::binary_search(kept.begin(), kept.end(), (int32_t)j)) evicted.push_back(j);
  if (evicted.empty() || kept.empty()) return out;
  std::vector<double> sim, gated;
  std::vector<size_t> target;
  for (int64_t e : evicted) {
    double best = -kInf;
    size_t arg = 0;
    for (size_t t = 0; t < kept.size(); ++t) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += (double)K[e * d + i] * K[kept[t] * d + i];
      const double c = dot / (std::max(norm(K, e), 1e-6) * std::max(norm(K, kept[t]), 1e-6));
      if (c > best) best = c, arg = t;
    }
    sim.push_back(best);
    target.push_back(arg);
  }
  std::vector<bool> ok;
  for (double x : sim) ok.push_back(x >= similarity_threshold);
  if (merge_fraction < 1.0 && std::find(ok.begin(), ok.end(), true) != ok.end()) {
    for (size_t e = 0; e < sim.size(); ++e) gated.push_back(ok[e] ? sim[e] : -kInf);
    std::sort(gated.begin(), gated.end());
    const double rank = (1.0 - merge_fraction) * (double)(gated.size() - 1);
    const size_t lo = (size_t)rank;
    const size_t hi = std::min(lo + 1, gated.size() - 1);
    const double w = rank - (double)lo;
    const double q = w == 0.0 && lo == hi ? gated[lo] : gated[lo] + w * (gated[hi] - gated[lo]);
    for (size_t e = 0; e < sim.size(); ++e) ok[e] = ok[e] && sim[e] >= q;
  }
  std::vector<double> wsum(kept.size(), 0.0);
  std::vector<std::vector<double>> add(kept.size(), std::vector<double>((size_t)d, 0.0));
  for (size_t e = 0; e < evicted.size(); ++e) {
    if (!ok[e]) continue;
    const double ve = norm(V, evicted[e]), vt = norm(V, kept[target[e]]);
    const double w = std::max(sim[e], 0.0) * ve / (ve + vt + 1e-6);
    for (int64_t i = 0; i < d; ++i) add[target[e]][i] += w * V[evicted[e] * d + i];
    wsum[target[e]] += w;
  }
  for (size_t t = 0; t < kept.size(); ++t)
    if (wsum[t] > 0)
      for (int64_t i = 0; i < d; ++i) out[t][i] = (out[t][i] + add[t][i]) / (1.0 + wsum[t]);
  return out;
}

}  // namespace kvpress::testing
