// Public API: a Session is one context prefilled and compressed once by a press; questions are then
// answered on its cache, which is restored bit-exactly after each one (kvpress's pipeline, spec §1.7, §3).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvpress/engine.h"
#include "kvpress/kv_type.h"
#include "kvpress/press.h"
#include "kvpress/progress.h"
#include "kvpress/sampling.h"

namespace kvpress {

struct SessionOptions {
  KvTypes kv_types;                           // storage of the cache's keys and values (default f16)
  std::optional<int64_t> max_context_length;  // context ids truncated to this many (with a warning)
  bool use_chat_template = true;              // text contexts: when the model has one
  int64_t prefill_chunk = 0;                  // > 0: the context read this many tokens at a time, every layer
                                              // compressed after each chunk (docs/kv-cache.md)
  bool record_scores = false;                 // keep the scores a scorer press computed (scores())
  PrefillProgressFn on_prefill_progress;      // after every layer of the context's prefill
  // Query-aware prompts (kvpress query_aware): the question, appended to the text context (from_text).
  // A press whose window is the question (finch) gets it tokenized on its own after the context, as
  // kvpress's Finch delimiter token splits it, and is told how many tokens it has; for other presses
  // context + question is tokenized as one text, as kvpress does.
  std::string question_in_context;
  // from_tokens: the last question_tokens ids are such a question (query-aware token contexts).
  int64_t question_tokens = 0;
};

// Times in milliseconds; bytes exact from the cache.
struct PrefillStats {
  int64_t context_tokens = 0;  // after truncation
  int64_t kv_bytes_full = 0;   // the context's cache without compression
  int64_t kv_bytes = 0;        // the context's cache after compression
  double prefill_ms = 0;       // forward pass over the context, compression excluded
  double compression_ms = 0;   // time inside the press
  double load_ms = 0;          // Session::load: reading and checking the cache file (no prefill then)
};

struct AskOptions {
  std::string answer_prefix;  // text mode: appended after the chat template's assistant header
  int64_t max_new_tokens = 50;
  SamplingOptions sampling;   // greedy by default, as kvpress
  bool stop_at_end_of_generation = true;
  std::function<void(int32_t)> on_token;  // each generated id as it comes; may throw to stop generating
                                          // (the exception propagates; the cache is still restored)
};

struct Answer {
  std::string text;          // the generated ids decoded, special tokens skipped
  std::vector<int32_t> ids;  // a final stop token excluded
  bool stopped = false;      // ended on an end-of-generation token
  int64_t question_tokens = 0;  // ids fed before generating (question, suffix, answer prefix)
  double decode_ms = 0;      // question forward pass and generation
};

// Thread-safety: one thread at a time per Session. Sessions of one Engine may live on different threads;
// their compute takes turns on the engine's thread pool. Move-only; keeps its Engine alive.
class Session {
 public:
  // A text context, prompted as kvpress does: the chat template (when the model has one and
  // use_chat_template) is split so questions land inside the user turn right after the context;
  // without one the context starts with the BOS text and questions end with "\n". Throws Error
  // for an empty context, bad options, or non-finite activations.
  static Session from_text(const Engine& engine, const std::string& context, const PressConfig& press,
                           const SessionOptions& options = {});
  // Token ids used as given at positions 0..n-1 (no template); ask_tokens() then feeds ids too.
  static Session from_tokens(const Engine& engine, std::span<const int32_t> context_ids, const PressConfig& press,
                             const SessionOptions& options = {});

  // Benchmarks: the cache a press at compression_ratio would leave of a context of context_tokens
  // tokens (int((1 - ratio) * n) entries per head, positions spread over 0..n-1) filled with random
  // keys and values, without a prefill: decoding speed does not depend on the values. A token session
  // (ask_tokens); its answers mean nothing. Throws Error unless at least one entry is kept.
  static Session from_random_cache(const Engine& engine, int64_t context_tokens, double compression_ratio,
                                   const SessionOptions& options = {}, uint64_t seed = 1);

  // A session saved by save() with the same model, answering token-identically to the saving one: no
  // prefill, the rows are copied straight from the file's mapping into the cache. Throws Error naming
  // the file and the problem: not a cache file, another format version, truncated, corrupted (checksum),
  // made for another model (shapes, tokenizer or weights differ), or a malformed field.
  static Session load(const Engine& engine, const std::string& path);
  // The same from a cache file's bytes held in memory; `name` is used in error messages.
  static Session load_bytes(const Engine& engine, std::span<const uint8_t> bytes, const std::string& name = "cache");

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Text sessions only: generates the answer to `question` (an empty question continues the context).
  // With a press that compresses while decoding (PressConfig::compresses_while_decoding), the cache is
  // compressed as the answer is generated, and a second question throws Error (as in kvpress).
  Answer ask(const std::string& question, const AskOptions& options = {});
  // A conversation turn (text sessions): answers `question` and keeps the question and the whole answer
  // in the cache, so the next turn follows them (the chat template's end of the assistant turn and next
  // user header come first). With a press that compresses while decoding the cache stays bounded over
  // any number of turns. A later ask() returns to the end of the last turn.
  Answer converse(const std::string& question, const AskOptions& options = {});
  int64_t turns() const;  // conversation turns so far

  // Feeds question_ids right after the context (at the original context length, or the compressed one
  // for presses that re-rotate keys) and generates. answer_prefix is ignored.
  Answer ask_tokens(std::span<const int32_t> question_ids, const AskOptions& options = {});
  // Teacher forcing: log-softmax rows [answer_ids.size(), n_vocab] predicting each answer id after the
  // question (text sessions; the question is prompted as by ask()).
  std::vector<float> answer_log_probs(const std::string& question, const std::string& answer_prefix,
                                      std::span<const int32_t> answer_ids);

  // Writes the compressed cache with everything a loaded session needs (context ids, press, KV types,
  // the prompt's question suffix, the question start) to `path` (docs/kv-cache-file.md), atomically: a
  // temporary file next to it is renamed into place when complete. Returns the file's bytes. Throws
  // Error naming the path on I/O failure. Recorded scores are not saved.
  int64_t save(const std::string& path) const;

  const PrefillStats& stats() const;
  // Most entries any head held, and most bytes the cache held, at any time so far (prefill and questions).
  int64_t peak_kv_entries_per_head() const;
  int64_t kv_bytes_peak() const;
  const std::vector<std::string>& warnings() const;  // truncation, a context past the model's length
  const std::vector<int32_t>& context_ids() const;   // what was prefilled (after truncation)
  const PressConfig& press() const;
  bool is_text() const;  // made by from_text (or loaded from such a session's file): ask() works
  KvTypes kv_types() const;  // storage of the cache's keys and values

  int64_t n_layers() const;
  int64_t n_heads_kv() const;
  // Original positions kept in (layer, KV head), ascending.
  std::vector<int32_t> kept_positions(int64_t layer, int64_t head) const;
  // Scores of `layer` before selection, [n_heads_kv, context_tokens], higher = keep; empty unless
  // record_scores and the press scores entries (wrappers such as adakv and composed do not).
  std::vector<float> scores(int64_t layer) const;

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvpress
