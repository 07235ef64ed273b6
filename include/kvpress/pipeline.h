// Public API: kvpress's pipeline in one call: compress a context once, answer one or many questions
// on that cache (spec §3). Written on Session; see session.h for the steps one by one.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvpress/engine.h"
#include "kvpress/kv_type.h"
#include "kvpress/press.h"
#include "kvpress/progress.h"
#include "kvpress/session.h"

namespace kvpress {

struct AnswerOptions {
  std::string answer_prefix;                   // appended after the chat template's assistant header
  int64_t max_new_tokens = 50;
  std::optional<int64_t> max_context_length;   // context ids truncated to this many (with a warning)
  bool query_aware = false;                    // the press sees the question (appended to the context)
  bool use_chat_template = true;               // when the model has one
  KvTypes kv_types;                            // storage of the cache's keys and values (default f16)
  int64_t prefill_chunk = 0;                   // > 0: chunked prefill, compressed after every chunk of this many tokens
  PrefillProgressFn on_prefill_progress;       // optional, after every layer of each context prefill
  // The questions are turns of one conversation (Session::converse): each turn's question and answer
  // stay in the cache, compressed further by a decoding press. Not with query_aware.
  bool conversation = false;
};

// Times in milliseconds; bytes exact from the cache.
struct AnswerStats {
  int64_t context_tokens = 0;   // after truncation
  int64_t kv_bytes_full = 0;    // the context's cache without compression
  int64_t kv_bytes = 0;         // the context's cache after compression
  double prefill_ms = 0;        // forward pass over the context, compression excluded
  double compression_ms = 0;    // time inside the press
  double decode_ms = 0;         // questions and generation, all questions
  int64_t generated_tokens = 0;
  int64_t peak_kv_entries_per_head = 0;  // most entries any head held at any time (prefill and questions)
  int64_t kv_bytes_peak = 0;             // most bytes the cache held at any time
};

struct AnswerResult {
  std::vector<std::string> answers;               // one per question, text after the answer prefix
  std::vector<std::vector<int32_t>> answer_ids;   // generated ids per question
  AnswerStats stats;
  std::vector<std::string> warnings;  // truncation, a context longer than the model's context_length
};

// Greedy answers as kvpress's pipeline gives them (it never stops on the first generated token).
// No questions: one answer continuing the context. Questions never reach the press unless
// options.query_aware; then each question gets its own compressed context (as kvpress's evaluation does).
// Throws Error for bad options, or when the model computes non-finite logits, naming the first bad
// tensor or layer.
AnswerResult answer(const Engine& engine, const std::string& context, const std::vector<std::string>& questions,
                    const PressConfig& press, const AnswerOptions& options = {});

// The questions (none: one answer continuing the context) answered in order on a session already made,
// such as one loaded from a cache file (Session::load). Only options.answer_prefix and max_new_tokens
// apply: the others shape a session's prefill. Stats are the session's (prefill_ms 0 for a loaded one).
AnswerResult answer(Session& session, const std::vector<std::string>& questions, const AnswerOptions& options = {});

}  // namespace kvpress
