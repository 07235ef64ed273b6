// Public API: an Engine is a loaded GGUF model, its tokenizer and a thread pool, shared by sessions.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kvpress/error.h"
#include "kvpress/kv_type.h"
#include "kvpress/press.h"
#include "kvpress/progress.h"
#include "kvpress/sampling.h"

namespace kvpress {

inline constexpr int64_t kDefaultSpinUs = 200;

struct EngineOptions {
  int n_threads = 0;  // worker threads including the caller; 0 = the hardware threads, at most 8
  int64_t spin_us = kDefaultSpinUs;  // microseconds an idle worker polls before sleeping (0 = at once,
                                     // for busy machines)
  // Multiply weights with f32 activations only (bit-exact dequantization, the reference). By default
  // block-quantized weights multiply int8-rounded activations (integer dots at decode, int8 tiles in
  // prefill for Q8_0/Q4_0/Q5_0), as llama.cpp does: faster, logits within llama.cpp's own tolerance
  // (docs/performance.md).
  bool exact_matmul = false;
};

// What `kvpress info` prints; sizes in elements, bytes exact.
struct ModelInfo {
  std::string path;
  std::string arch;  // "llama", "qwen2", "qwen3"
  std::string name;
  int64_t n_vocab = 0, n_embd = 0, n_layers = 0, n_heads = 0, n_heads_kv = 0, head_dim = 0, n_ff = 0;
  int64_t n_ctx_train = 0;  // the model's context_length
  int64_t n_params = 0;     // elements of every tensor
  int64_t file_bytes = 0;   // bytes of every tensor
  std::string weight_types;          // storage types of the matrices, e.g. "Q8_0 F32"
  int64_t decode_weight_bytes = 0;   // weight bytes one decoded token reads (every matrix once; the
                                     // embedding table not, but the output matrix even when tied)
  bool has_chat_template = false;
};

// How the query statistics of expected_attention_with_stats are taken (kvpress's defaults: the first 100
// texts of a calibration set, each cut to 1000 characters, the first 4 tokens left out).
struct QueryStatsOptions {
  int64_t max_chars = 1000;   // each text cut to its first max_chars characters (UTF-8 code points)
  int64_t max_samples = 100;  // at most this many texts, in the order given
  int64_t n_sink = 4;         // the first n_sink tokens of each text are not counted
};

struct QueryStatsSummary {
  int64_t n_samples = 0;  // texts used
  int64_t n_queries = 0;  // N: query rows counted per layer and head
};

struct GenerationOptions {
  int64_t max_new_tokens = 128;
  SamplingOptions sampling;
  KvTypes kv_types;                       // storage of the prompt's cache
  bool stop_at_end_of_generation = true;
  std::function<void(int32_t)> on_token;  // each generated id as it comes (streaming)
  PrefillProgressFn on_prefill_progress;  // after every layer of the prompt's forward pass
  // Compression of this generation: a prefill press compresses the prompt, a decoding press
  // (presses::decoding, cam, ...) the cache while tokens are generated. Default: none.
  PressConfig press;
};

struct Generation {
  std::vector<int32_t> ids;  // generated ids, a final stop token excluded
  std::string text;          // ids decoded, special tokens skipped
  bool stopped = false;      // ended on an end-of-generation token
  int64_t kv_bytes = 0;                  // the cache at the end
  int64_t peak_kv_entries_per_head = 0;  // most entries any head held at any time
  int64_t kv_bytes_peak = 0;             // most bytes the cache held at any time
};

// Thread-safety: every method may be called from any thread. Compute (generate, and the prefill and
// questions of every Session of this engine) is serialised on the engine's one thread pool, one forward
// pass at a time in arrival order: concurrent generations interleave token by token.
// Copies share the same model (a handle); the model stays loaded while a copy or a Session lives.
class Engine {
 public:
  // Loads (memory-maps) a GGUF file. Throws Error naming the file and what is wrong with it.
  static Engine load(const std::string& model_path, const EngineOptions& options = {});

  const ModelInfo& info() const;
  int n_threads() const;
  // The kernel set chosen for this CPU at run time (e.g. "avx512").
  std::string kernel_set() const;
  // The machine's read bandwidth in bytes per second, measured with this engine's threads (about a
  // second; benchmarks set it beside decode speed as a roofline).
  double measure_read_bandwidth() const;
  // Bytes one context token takes in the cache (every layer and KV head) stored as `types`.
  int64_t kv_bytes_per_token(const KvTypes& types = {}) const;

  // add_special: the BOS the vocabulary asks for; parse_special: text like "<s>" becomes its token.
  std::vector<int32_t> tokenize(const std::string& text, bool add_special = true, bool parse_special = false) const;
  std::string detokenize(std::span<const int32_t> ids, bool skip_special = true) const;
  // The ids of `text` as one user turn of the model's chat template with the assistant header after it.
  // Throws Error when the model has no chat template.
  std::vector<int32_t> chat_prompt(const std::string& text) const;
  // The ids Session::from_text prefills for `context` (the chat template's part before the question, or
  // the BOS text and the context), before any truncation: equal ids mean an equal compressed context.
  std::vector<int32_t> context_prompt_ids(const std::string& context, bool use_chat_template = true) const;

  // Feeds prompt_ids at positions 0.. on a fresh cache and generates; stops on an end-of-generation token.
  Generation generate(std::span<const int32_t> prompt_ids, const GenerationOptions& options) const;

  // The statistics file of expected_attention_with_stats (spec §2.22): mean and covariance (divided by
  // N - 1) of the pre-RoPE queries of every layer and query head over `texts`, each tokenized as plain
  // text with the BOS the vocabulary asks for (kvpress's tokenizer(text)), written to out_path
  // (docs/presses.md gives the format). Throws Error when fewer than 2 queries remain or on I/O errors.
  QueryStatsSummary write_query_stats(const std::vector<std::string>& texts, const QueryStatsOptions& options,
                                      const std::string& out_path) const;

  struct Impl;

 private:
  friend class Session;  // a session shares the engine's model and pool
  explicit Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace kvpress
