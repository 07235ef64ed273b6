// A context prefilled and compressed once; questions are answered on its cache and removed afterwards,
// so the cache is bit-identical before and after each question (spec §1.7).
// Thread-safety: none; one session per thread.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "pipeline/generator.h"
#include "press/press.h"

namespace kvpress {

class Model;
class ThreadPool;

class ContextSession {
 public:
  ContextSession(const Model& model, ThreadPool& pool, const KvTypes& kv_types = {});

  // Runs the context (positions 0..n-1) through the model with `press` (may be null) compressing
  // every layer. Must be called once, first. `on_progress` (optional) is told after every layer.
  // chunk_tokens > 0: chunked prefill (see prefill_context). record_scores: a scorer press's scores of
  // every layer are kept (scores()), exactly the ones used (with chunks: those of the last pass).
  // question_tokens: query-aware prompts, the context's last tokens that are the question (the window of
  // a press that reads it, Press::reads_question_window), else 0.
  void prefill(std::span<const int32_t> context_ids, Press* press, const PrefillProgressFn& on_progress = {},
               int64_t chunk_tokens = 0, bool record_scores = false, int64_t question_tokens = 0);

  // Instead of prefill(): takes a cache filled elsewhere (a loaded cache file) holding a context of
  // n_context tokens whose questions start at question_start. Must be called once, first; the cache
  // must have this model's shape.
  void adopt(KvCache cache, int64_t n_context, int32_t question_start);

  // Feeds the question at the question start position and generates; the cache is then truncated
  // back to its state after prefill. With a press acting while decoding (options.press), the cache
  // is compressed as the answer is generated instead, and no further question can be asked.
  GenerateResult ask(std::span<const int32_t> question_ids, const GenerateOptions& options);

  // A conversation turn: as ask(), but the question and the whole answer stay in the cache (the next
  // turn or question starts after them); a press acting while decoding keeps compressing it, so a long
  // chat stays bounded.
  GenerateResult converse(std::span<const int32_t> question_ids, GenerateOptions options);

  // Teacher-forced log-probabilities: feeds question then `forced` tokens and returns, for each
  // forced token i, the log-softmax over the vocabulary predicting it ([forced.size(), n_vocab]).
  // The cache is restored afterwards.
  std::vector<float> forced_log_probs(std::span<const int32_t> question_ids, std::span<const int32_t> forced);

  const KvCache& cache() const { return cache_; }
  int64_t context_tokens() const { return n_context_; }
  // Original context length, or the compressed length for presses that re-rotate keys (spec §1.5).
  int32_t question_start() const { return question_start_; }
  double prefill_ms() const { return prefill_ms_; }          // compression excluded
  double compression_ms() const { return compression_ms_; }
  // Per layer, the scores recorded by prefill(record_scores = true); empty entries otherwise.
  const std::vector<HeadScores>& scores() const { return scores_; }

 private:
  struct RestoreOnExit;
  const Model& model_;
  ThreadPool& pool_;
  KvCache cache_;
  int64_t n_context_ = 0;
  int32_t question_start_ = 0;
  double prefill_ms_ = 0, compression_ms_ = 0;
  std::vector<int64_t> snapshot_;
  std::string consumed_by_;  // the decoding press that compressed the context while answering
  std::vector<HeadScores> scores_;
};

}  // namespace kvpress
