// CapPress (CAPKV, arXiv 2604.25975): a token is worth keeping when the value it carries adds
// capacity that the other tokens, weighted by their alignment with a historical-query anchor, do not
// already span. With w_s = exp(tau <a, k_s>) (unit vectors, max-shifted) and
// A = I + sum_s (w_s + eps) v_s v_s^T, the score is w_s * v_s^T A^{-1} v_s (spec §2.22). The anchor is
// the mean pre-RoPE query of the context rotated by the RoPE averaged over the next
// n_future_positions positions (ExpectedAttention's rotation); sinks get max+1.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "press/press_args.h"
#include "press/query_stats.h"
#include "press/score_utils.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

// Inverse of a symmetric positive definite d x d matrix (Cholesky, in double). A = I + sum of
// positive semi-definite terms, so its eigenvalues are >= 1 and the factorisation cannot fail.
std::vector<double> spd_inverse(const std::vector<double>& A, int64_t d) {
  std::vector<double> L((size_t)(d * d), 0.0);
  for (int64_t j = 0; j < d; ++j) {
    double diag = A[j * d + j];
    for (int64_t k = 0; k < j; ++k) diag -= L[j * d + k] * L[j * d + k];
    KV_CHECK(diag > 0);
    L[j * d + j] = std::sqrt(diag);
    for (int64_t i = j + 1; i < d; ++i) {
      double v = A[i * d + j];
      for (int64_t k = 0; k < j; ++k) v -= L[i * d + k] * L[j * d + k];
      L[i * d + j] = v / L[j * d + j];
    }
  }
  // Columns of A^{-1}: solve L y = e_c, then L^T x = y.
  std::vector<double> inv((size_t)(d * d)), y((size_t)d);
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t i = 0; i < d; ++i) {
      double v = i == c ? 1.0 : 0.0;
      for (int64_t k = 0; k < i; ++k) v -= L[i * d + k] * y[k];
      y[i] = v / L[i * d + i];
    }
    for (int64_t i = d - 1; i >= 0; --i) {
      double v = y[i];
      for (int64_t k = i + 1; k < d; ++k) v -= L[k * d + i] * inv[k * d + c];
      inv[i * d + c] = v / L[i * d + i];
    }
  }
  return inv;
}

double norm_of(const double* x, int64_t d) {
  double sq = 0;
  for (int64_t i = 0; i < d; ++i) sq += x[i] * x[i];
  return std::sqrt(sq);
}

}  // namespace

class CapPress final : public ScorerPress {
 public:
  struct Options {
    double tau = 5.0;
    int64_t n_future_positions = 512;
    int64_t n_sink = 4;
    double epsilon = 1e-6;
  };
  explicit CapPress(const Options& o) : ScorerPress(0.0), o_(o) {}

  std::string name() const override {
    return "cap:tau=" + format_number(o_.tau) + ",n_future_positions=" + std::to_string(o_.n_future_positions) +
           ",n_sink=" + std::to_string(o_.n_sink) + ",epsilon=" + format_number(o_.epsilon);
  }

  // Only the query mean, gathered chunk by chunk (as ExpectedAttention): no hidden states kept.
  ObservationNeeds needs() const override { return {0, false}; }
  void observe(const LayerChunk& chunk) override {
    if (chunk.first == 0) stats_.start(chunk.layer, chunk.model.config(), false);
    const int64_t skip = std::max<int64_t>(0, o_.n_sink - chunk.first);  // sinks are not queries here
    if (skip < chunk.n) stats_.add(chunk.queries_pre_rope + skip * stats_.row_size(), chunk.n - skip, chunk.pool);
  }
  void reset() override { stats_ = {}; }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    const auto& c = layer.model.config();
    const int64_t H = c.n_heads, Hkv = c.n_heads_kv, d = c.head_dim, G = c.group_size();
    const int64_t T = layer.n_tokens, n_sink = o_.n_sink;
    const std::vector<int64_t> lengths = head_lengths(layer.cache, layer.layer);
    const int64_t S = *std::max_element(lengths.begin(), lengths.end());
    const int64_t S_min = *std::min_element(lengths.begin(), lengths.end());
    if (S_min <= n_sink || T <= n_sink)
      fail("press 'cap' needs more context tokens than n_sink=", n_sink, " (layer ", layer.layer, " has ", T,
           " tokens, ", S_min, " cache entries)");
    if (stats_.layer != layer.layer || stats_.count != T - n_sink)
      fail("press 'cap': no query statistics for layer ", layer.layer,
           " (the prefill must pass its chunks to the press)");
    const int64_t n = S - n_sink;
    const MeanRotation rot(layer.model.rope(), T, o_.n_future_positions);

    // Each KV head's non-sink keys and values decoded once: values as rows (the Gram's right operand)
    // and both transposed ([d][ld], zero padding), the layout in which the per-entry sums below run
    // across entries (vectorised) while each entry's sum still adds its d terms in order.
    const int64_t ld = (n + kernels::kGemmTokenPad - 1) / kernels::kGemmTokenPad * kernels::kGemmTokenPad;
    const int64_t ldd = (d + kernels::kGemmTokenPad - 1) / kernels::kGemmTokenPad * kernels::kGemmTokenPad;
    keys_t_.assign((size_t)(Hkv * d * ld), 0.0f);
    values_t_.assign((size_t)(Hkv * d * ld), 0.0f);
    values_.resize((size_t)(Hkv * n * d));
    // On this thread: a cheap stage, where waiting for a busy pool would cost more.
    [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> rows;
      for (int64_t g = begin; g < end; ++g) {
        const int64_t n_g = lengths[g] - n_sink;
        rows.resize((size_t)(n_g * d));
        layer.cache.keys(layer.layer, g).read(n_sink, n_g, rows.data());
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < n_g; ++j) keys_t_[(size_t)((g * d + i) * ld + j)] = rows[j * d + i];
        float* v = &values_[(size_t)(g * n * d)];
        layer.cache.values(layer.layer, g).read(n_sink, n_g, v);
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < n_g; ++j) values_t_[(size_t)((g * d + i) * ld + j)] = v[j * d + i];
      }
    }(0, Hkv);
    const kernels::KernelSet& ks = kernels::active_kernels();
    std::vector<float> per_head((size_t)(H * n), 0.0f);
    layer.pool.parallel_for(H, 1, [&](int64_t begin, int64_t end, int) {
      thread_local std::vector<float> xt, x_rows, gram, inv_f, solved_t;
      thread_local std::vector<double> anchor, dot, sq, w, A, lev;
      anchor.resize((size_t)d);
      A.resize((size_t)(d * d));
      gram.resize((size_t)(d * ldd));
      inv_f.resize((size_t)(d * d));
      for (int64_t h = begin; h < end; ++h) {
        const int64_t g = h / G, n_h = lengths[g] - n_sink;
        const float* kt = &keys_t_[(size_t)(g * d * ld)];
        const float* vt = &values_t_[(size_t)(g * d * ld)];
        const float* values = &values_[(size_t)(g * n * d)];
        // Anchor: mean of R q_t = R (mean q_t), normalised (F.normalize: / max(|x|, 1e-12)).
        stats_.moments(h, anchor.data(), nullptr);
        rot.apply(anchor.data(), 1);
        const double anchor_norm = std::max(norm_of(anchor.data(), d), 1e-12);
        dot.assign((size_t)n_h, 0.0);
        sq.assign((size_t)n_h, 0.0);
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < n_h; ++j) {
            const double k = (double)kt[i * ld + j];
            dot[j] += anchor[i] * k;
            sq[j] += k * k;
          }
        w.resize((size_t)n_h);
        double max_logit = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < n_h; ++j) {
          const double cos = std::clamp(dot[j] / anchor_norm / std::max(std::sqrt(sq[j]), 1e-12), -1.0, 1.0);
          w[j] = o_.tau * cos;
          max_logit = std::max(max_logit, w[j]);
        }
        for (int64_t j = 0; j < n_h; ++j) w[j] = std::exp(w[j] - max_logit);
        // A = I + X^T X with rows x_s = sqrt(w_s + eps) v_s: one gemm of X^T [d, n] by X [n, d].
        xt.resize((size_t)(d * n_h));
        x_rows.assign((size_t)(n_h * ldd), 0.0f);
        for (int64_t j = 0; j < n_h; ++j) {
          const double scale = std::sqrt(w[j] + o_.epsilon);
          for (int64_t i = 0; i < d; ++i) x_rows[j * ldd + i] = (float)(scale * values[j * d + i]);
        }
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < n_h; ++j) xt[i * n_h + j] = x_rows[j * ldd + i];
        ks.gemm_f32(xt.data(), n_h, d, x_rows.data(), ldd, d, gram.data(), ldd, n_h, false);
        for (int64_t r = 0; r < d; ++r)
          for (int64_t t = 0; t < d; ++t) A[r * d + t] = (double)gram[t * ldd + r] + (r == t ? 1.0 : 0.0);
        const std::vector<double> inv = spd_inverse(A, d);
        for (int64_t i = 0; i < d * d; ++i) inv_f[i] = (float)inv[i];
        // [d][ld]: column s is A^{-1} v_s (one gemm of A^{-1} by the transposed values).
        solved_t.resize((size_t)(d * ld));
        ks.gemm_f32(inv_f.data(), d, d, vt, ld, n_h, solved_t.data(), ld, d, false);
        lev.assign((size_t)n_h, 0.0);
        for (int64_t i = 0; i < d; ++i)
          for (int64_t j = 0; j < n_h; ++j) lev[j] += (double)vt[i * ld + j] * solved_t[i * ld + j];
        for (int64_t j = 0; j < n_h; ++j) per_head[h * n + j] = (float)(w[j] * lev[j]);
      }
    });
    const std::vector<float> s = group_mean(per_head, H, Hkv, n);  // [Hkv, n]
    const float protect = protection_score(s);
    scores.resize(lengths);
    for (int64_t g = 0; g < Hkv; ++g)
      for (int64_t j = 0; j < lengths[g]; ++j) scores.head(g)[j] = j < n_sink ? protect : s[g * n + j - n_sink];
  }

 private:
  Options o_;
  QueryStats stats_;
  std::vector<float> keys_t_, values_t_, values_;  // score's decoded rows, kept across layers
};

template <>
std::unique_ptr<Press> create_press<CapPress>(PressArgs& args) {
  CapPress::Options o;
  o.tau = args.real("tau", o.tau, 0.0, 1e6);
  o.n_future_positions = args.integer("n_future_positions", o.n_future_positions, 1, 1 << 24);
  o.n_sink = args.integer("n_sink", o.n_sink, 0, 1 << 30);
  o.epsilon = args.real("epsilon", o.epsilon, 0.0, 1e6);
  if (args.describing()) return nullptr;
  return std::make_unique<CapPress>(o);
}

}  // namespace kvpress
