// Loading and the forward pass. Prefill is layer-major: every token of the pass goes through
// layer l before layer l+1, so a press observing layer l sees its whole context at once (as
// kvpress's per-layer hooks do) and its compaction frees memory before the next layer grows.
// Within a layer the tokens go chunk by chunk, so only the residual stream is held for all of them.
#include "model/model.h"

#include <algorithm>
#include <cmath>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (double)x[i] * x[i];
  const float scale = (float)(1.0 / std::sqrt(sum / (double)n + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

namespace {

void add_bias(float* y, const std::vector<float>& bias, int64_t n_tokens) {
  if (bias.empty()) return;
  const int64_t n = (int64_t)bias.size();
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
}

// Per-head RMSNorm (qwen3 q_norm / k_norm), in place on [n_tokens * n_heads] vectors of head_dim.
void head_norm(float* x, int64_t n_vectors, const std::vector<float>& w, float eps) {
  if (w.empty()) return;
  const int64_t d = (int64_t)w.size();
  for (int64_t i = 0; i < n_vectors; ++i) rms_norm(x + i * d, w.data(), d, eps, x + i * d);
}

}  // namespace

Model::Model(gguf::GgufFile file)
    : file_(std::move(file)),
      config_(ModelConfig::from_gguf(file_)),
      weights_(ModelWeights::bind(file_, config_)),
      rope_(config_, weights_.rope_freq_factors) {}

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, bool exact_matmul) {
  auto model = std::unique_ptr<Model>(new Model(gguf::GgufFile::open(path)));
  model->weights_.set_int8_activations(!exact_matmul);
  model->tokenizer_ = std::make_unique<Tokenizer>(Vocab::from_gguf(model->file_));
  if (model->tokenizer_->n_vocab() != model->config_.n_vocab)
    fail(path, ": tokenizer has ", model->tokenizer_->n_vocab(), " tokens but token_embd.weight has ",
         model->config_.n_vocab, " rows");
  return model;
}

KvCache Model::make_cache(const KvTypes& types) const {
  return KvCache(config_.n_layers, config_.n_heads_kv, config_.head_dim, types);
}

void Model::embed(std::span<const int32_t> tokens, float* x) const {
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] < 0 || tokens[t] >= config_.n_vocab)
      fail("token id ", tokens[t], " is out of range [0, ", config_.n_vocab, ")");
    kernels::dequantize_row(weights_.token_embd.type, weights_.token_embd.row(tokens[t]), x + t * config_.n_embd,
                            config_.n_embd);
  }
}

void Model::project_queries(int64_t layer, const float* xn, int64_t n, float* out, ThreadPool& pool) const {
  const auto& lw = weights_.layers[layer];
  kernels::matmul(lw.wq, xn, n, config_.n_embd, out, lw.wq.n_rows, pool);
  add_bias(out, lw.bq, n);
  head_norm(out, n * config_.n_heads, lw.q_norm, config_.rms_eps);
}

void Model::project_keys(int64_t layer, const float* xn, int64_t n, float* out, ThreadPool& pool) const {
  const auto& lw = weights_.layers[layer];
  kernels::matmul(lw.wk, xn, n, config_.n_embd, out, lw.wk.n_rows, pool);
  add_bias(out, lw.bk, n);
  head_norm(out, n * config_.n_heads_kv, lw.k_norm, config_.rms_eps);
}

const float* LayerPrefill::query(int64_t t) const {
  KV_CHECK(t >= n_tokens - n_query_rows && t < n_tokens);
  const auto& c = model.config();
  return queries + (t - (n_tokens - n_query_rows)) * c.n_heads * c.head_dim;
}

std::vector<float> Model::forward(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                                  KvCache& cache, ThreadPool& pool, const ForwardOptions& options) const {
  const auto& c = config_;
  const int64_t T = (int64_t)tokens.size();
  if (T == 0) fail("forward: no tokens given");
  if ((int64_t)positions.size() != T) fail("forward: ", T, " tokens but ", positions.size(), " positions");
  KV_CHECK(cache.n_layers() == c.n_layers && cache.n_heads_kv() == c.n_heads_kv && cache.head_dim() == c.head_dim);
  const int64_t D = c.n_embd, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_heads_kv * c.head_dim;
  const int64_t C = std::max<int64_t>(1, std::min(options.chunk_tokens, T));
  // What the layer observer reads: the last R queries, and the normed inputs of every token only
  // if asked; everything else of a layer lives one chunk at a time.
  const int64_t R = options.observer ? std::min(T, options.needs.query_rows) : 0;
  const bool keep_hidden = options.observer && options.needs.hidden_normed;

  std::vector<float> x((size_t)(T * D));                          // residual stream [T, D]
  std::vector<float> xn((size_t)((keep_hidden ? T : C) * D));     // normed attention input
  std::vector<float> q((size_t)(C * q_dim)), q_kept((size_t)(R * q_dim));
  std::vector<float> q_pre((size_t)(options.chunk_observer ? C * q_dim : 0));
  std::vector<float> k((size_t)(C * kv_dim)), v((size_t)(C * kv_dim));
  std::vector<float> attn((size_t)(C * q_dim)), proj((size_t)(C * D));
  std::vector<float> gate((size_t)(C * c.n_ff)), up((size_t)(C * c.n_ff));
  embed(tokens, x.data());

  const AttentionShape shape{c.n_heads, c.n_heads_kv, c.head_dim};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto& lw = weights_.layers[l];
    const int64_t held_before = cache.length(l, 0);
    cache.reserve(l, T);
    // Chunk by chunk: Q, K, V, the chunk's K/V appended, then its attention (causal, so a chunk
    // never needs later keys), output projection and feed-forward.
    for (int64_t t0 = 0; t0 < T; t0 += C) {
      const int64_t n = std::min(C, T - t0);
      float* xc = keep_hidden ? &xn[t0 * D] : xn.data();
      for (int64_t t = 0; t < n; ++t) rms_norm(&x[(t0 + t) * D], lw.attn_norm.data(), D, c.rms_eps, &xc[t * D]);
      project_queries(l, xc, n, q.data(), pool);
      project_keys(l, xc, n, k.data(), pool);
      kernels::matmul(lw.wv, xc, n, D, v.data(), kv_dim, pool);
      add_bias(v.data(), lw.bv, n);
      if (options.chunk_observer) std::copy(q.begin(), q.begin() + n * q_dim, q_pre.begin());
      for (int64_t i = 0; i < n; ++i) {
        rope_.apply(&q[i * q_dim], c.n_heads, positions[t0 + i]);
        rope_.apply(&k[i * kv_dim], c.n_heads_kv, positions[t0 + i]);
      }
      cache.append(l, n, k.data(), v.data(), positions.data() + t0);
      for (int64_t t = std::max(t0, T - R); t < t0 + n; ++t)
        std::copy_n(&q[(t - t0) * q_dim], q_dim, &q_kept[(t - (T - R)) * q_dim]);
      attention(q.data(), positions.data() + t0, n, cache, l, shape, attn.data(), pool);
      if (options.chunk_observer)
        (*options.chunk_observer)(LayerChunk{*this, l, T, t0, n, q_pre.data(), positions.data() + t0, pool});
      kernels::matmul(lw.wo, attn.data(), n, q_dim, proj.data(), D, pool);
      for (int64_t i = 0; i < n * D; ++i) x[t0 * D + i] += proj[i];
      for (int64_t t = 0; t < n; ++t) rms_norm(&x[(t0 + t) * D], lw.ffn_norm.data(), D, c.rms_eps, &proj[t * D]);
      kernels::matmul(lw.w_gate, proj.data(), n, D, gate.data(), c.n_ff, pool);
      kernels::matmul(lw.w_up, proj.data(), n, D, up.data(), c.n_ff, pool);
      for (int64_t i = 0; i < n * c.n_ff; ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + std::exp(-g)) * up[i];
      }
      kernels::matmul(lw.w_down, gate.data(), n, c.n_ff, proj.data(), D, pool);
      for (int64_t i = 0; i < n * D; ++i) x[t0 * D + i] += proj[i];
    }
    // A press sees the layer once all queries have attended over the uncompressed context.
    if (options.observer)
      (*options.observer)(LayerPrefill{*this, l, T, std::max<int64_t>(0, options.context_before - held_before),
                                       keep_hidden ? xn.data() : nullptr, q_kept.data(), R, positions.data(), cache,
                                       pool, options.question_tokens});
  }

  if (options.logits == LogitsMode::None) return {};
  const int64_t first = options.logits == LogitsMode::Last ? T - 1 : 0;
  const int64_t n_out = T - first;
  std::vector<float> logits((size_t)(n_out * c.n_vocab));
  for (int64_t t0 = 0; t0 < n_out; t0 += C) {
    const int64_t n = std::min(C, n_out - t0);
    for (int64_t t = 0; t < n; ++t)
      rms_norm(&x[(first + t0 + t) * D], weights_.output_norm.data(), D, c.rms_eps, &xn[t * D]);
    kernels::matmul(weights_.output, xn.data(), n, D, &logits[t0 * c.n_vocab], c.n_vocab, pool);
  }
  return logits;
}

}  // namespace kvpress
