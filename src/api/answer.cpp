// answer(): kvpress's pipeline call (spec §3) as sessions: one per context, or one per question when
// query-aware, questions answered in order on it.
#include "kvpress/pipeline.h"

#include <algorithm>

#include "core/error.h"

namespace kvpress {

AnswerResult answer(const Engine& engine, const std::string& context, const std::vector<std::string>& questions_in,
                    const PressConfig& press, const AnswerOptions& options) {
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  const std::vector<std::string> questions = questions_in.empty() ? std::vector<std::string>{""} : questions_in;
  if (options.conversation && options.query_aware)
    fail("a conversation keeps every turn in one cache; query-aware compresses each question with its own "
         "context: choose one");
  if (press.compresses_while_decoding() && !options.query_aware && !options.conversation && questions.size() > 1)
    fail("press '", press.spec(), "' compresses the cache while an answer is generated, so one context answers one ",
         "question (as in kvpress); got ", questions.size(),
         " questions (ask them one at a time, query-aware, or as a conversation)");
  // Query-aware: each question is compressed together with the context (appended to it by the session).
  struct Run {
    std::string question_in_context;
    std::vector<std::string> questions;
  };
  std::vector<Run> runs;
  if (options.query_aware) {
    for (const auto& q : questions) runs.push_back({q, {""}});
  } else {
    runs.push_back({"", questions});
  }
  SessionOptions session_options;
  session_options.kv_types = options.kv_types;
  session_options.max_context_length = options.max_context_length;
  session_options.use_chat_template = options.use_chat_template;
  session_options.on_prefill_progress = options.on_prefill_progress;
  session_options.prefill_chunk = options.prefill_chunk;

  AnswerResult result;
  auto& s = result.stats;
  for (const auto& [question_in_context, run_questions] : runs) {
    session_options.question_in_context = question_in_context;
    Session session = Session::from_text(engine, context, press, session_options);
    AnswerResult run = answer(session, run_questions, options);
    result.warnings.insert(result.warnings.end(), run.warnings.begin(), run.warnings.end());
    s.prefill_ms += run.stats.prefill_ms;
    s.compression_ms += run.stats.compression_ms;
    s.context_tokens = run.stats.context_tokens;
    s.kv_bytes_full = run.stats.kv_bytes_full;
    s.kv_bytes = run.stats.kv_bytes;
    s.decode_ms += run.stats.decode_ms;
    s.generated_tokens += run.stats.generated_tokens;
    for (auto& a : run.answers) result.answers.push_back(std::move(a));
    for (auto& ids : run.answer_ids) result.answer_ids.push_back(std::move(ids));
    s.peak_kv_entries_per_head = std::max(s.peak_kv_entries_per_head, run.stats.peak_kv_entries_per_head);
    s.kv_bytes_peak = std::max(s.kv_bytes_peak, run.stats.kv_bytes_peak);
  }
  return result;
}

AnswerResult answer(Session& session, const std::vector<std::string>& questions_in, const AnswerOptions& options) {
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  const std::vector<std::string> questions = questions_in.empty() ? std::vector<std::string>{""} : questions_in;
  AskOptions ask;
  ask.answer_prefix = options.answer_prefix;
  ask.max_new_tokens = options.max_new_tokens;
  AnswerResult result;
  result.warnings = session.warnings();
  auto& s = result.stats;
  const PrefillStats& p = session.stats();
  s.prefill_ms = p.prefill_ms;
  s.compression_ms = p.compression_ms;
  s.context_tokens = p.context_tokens;
  s.kv_bytes_full = p.kv_bytes_full;
  s.kv_bytes = p.kv_bytes;
  for (const auto& q : questions) {
    Answer a = options.conversation ? session.converse(q, ask) : session.ask(q, ask);
    s.decode_ms += a.decode_ms;
    s.generated_tokens += (int64_t)a.ids.size();
    result.answers.push_back(std::move(a.text));
    result.answer_ids.push_back(std::move(a.ids));
  }
  s.peak_kv_entries_per_head = session.peak_kv_entries_per_head();
  s.kv_bytes_peak = session.kv_bytes_peak();
  return result;
}

}  // namespace kvpress
