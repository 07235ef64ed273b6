// A loaded Llama-family model (llama, qwen2, qwen3): config, weights, tokenizer and the forward pass.
// Thread-safety: const methods may be called concurrently with distinct caches and pools.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/model_config.h"
#include "model/model_weights.h"
#include "model/rope.h"
#include "kvpress/kv_type.h"

namespace kvpress {

class KvCache;
class ThreadPool;
class Tokenizer;
class Model;

// What the observers of a prefill read besides the cache; the forward pass keeps only that, so
// a press that needs the last queries does not make the pass hold every token's activations.
struct ObservationNeeds {
  static constexpr int64_t kAll = INT64_MAX;
  int64_t query_rows = kAll;   // post-RoPE queries of the last this-many tokens of the pass
  bool hidden_normed = true;   // the attention input of every token of the pass
};

// What a prefill observer (a press) sees once a layer has attended over the whole context:
// the cache of that layer holds every context entry and may be compacted by the observer.
struct LayerPrefill {
  const Model& model;
  int64_t layer;
  int64_t n_tokens;                 // T, tokens of this forward pass
  int64_t evicted;                  // context tokens before this pass that compression removed from the
                                    // layer's (first) head: 0 unless the prefill is chunked
  const float* hidden_normed;       // [T, n_embd] attention input (after attn_norm); null unless needed
  const float* queries;             // [n_query_rows, n_heads * head_dim] of the last tokens, post RoPE
  int64_t n_query_rows;             // min(T, needs.query_rows)
  const int32_t* positions;         // [T]
  KvCache& cache;
  ThreadPool& pool;
  int64_t question_tokens = 0;      // query-aware prompts: the pass's last tokens that are the question
                                    // (FinchPress's window); 0 when not known
  // Post-RoPE query row of token t (0 <= t < T) of the pass; t must be one of the kept last rows.
  const float* query(int64_t t) const;
};
using LayerObserver = std::function<void(const LayerPrefill&)>;

// One chunk of a layer's tokens, right after its attention; statistics over every query of a
// pass are accumulated from these (the layer's observer then runs once all chunks are seen).
struct LayerChunk {
  const Model& model;
  int64_t layer;
  int64_t n_tokens;                 // T, tokens of the whole pass
  int64_t first;                    // index of the chunk's first token in the pass
  int64_t n;                        // tokens in the chunk
  const float* queries_pre_rope;    // [n, n_heads * head_dim], bias and q_norm applied
  const int32_t* positions;         // [n]
  ThreadPool& pool;
};
using ChunkObserver = std::function<void(const LayerChunk&)>;

enum class LogitsMode { None, Last, All };

struct ForwardOptions {
  LogitsMode logits = LogitsMode::Last;
  int64_t chunk_tokens = 256;                      // token-wise work is done in chunks of this many tokens
  const LayerObserver* observer = nullptr;         // called after each layer (prefill presses)
  const ChunkObserver* chunk_observer = nullptr;   // called after each chunk's attention
  ObservationNeeds needs;                          // what `observer` reads of the pass
  int64_t context_before = 0;  // context tokens read by earlier passes of a chunked prefill
  int64_t question_tokens = 0;  // the pass's last tokens that are the question (LayerPrefill::question_tokens)
};

class Model {
 public:
  // exact_matmul: weights multiply f32 activations (bit-exact dequantization); otherwise block-quantized
  // weights multiply int8-rounded activations (kernels.h), as llama.cpp does.
  static std::unique_ptr<Model> load(const std::string& path, bool exact_matmul = false);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const gguf::GgufFile& file() const { return file_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const Rope& rope() const { return rope_; }

  // Runs tokens at the given positions through every layer, appending their K/V to `cache`.
  // Returns logits: none, [n_vocab] of the last token, or [n_tokens, n_vocab].
  std::vector<float> forward(std::span<const int32_t> tokens, std::span<const int32_t> positions, KvCache& cache,
                             ThreadPool& pool, const ForwardOptions& options = {}) const;

  // Pre-RoPE helpers for presses: project hidden_normed rows [n, n_embd] to queries / keys per head
  // (bias and q/k norm applied, RoPE not). out: [n, n_heads*head_dim] or [n, n_heads_kv*head_dim].
  void project_queries(int64_t layer, const float* hidden_normed, int64_t n, float* out, ThreadPool& pool) const;
  void project_keys(int64_t layer, const float* hidden_normed, int64_t n, float* out, ThreadPool& pool) const;

  // A cache sized for this model, storing keys and values in `types`.
  KvCache make_cache(const KvTypes& types = {}) const;

 private:
  Model(gguf::GgufFile file);
  void embed(std::span<const int32_t> tokens, float* x) const;

  gguf::GgufFile file_;
  ModelConfig config_;
  ModelWeights weights_;
  Rope rope_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);

}  // namespace kvpress
