// The answer pipeline: chat-template split, one compressed prefill, greedy answers per question with
// the cache restored between questions (kvpress's KVPressTextGenerationPipeline, spec §3).
#include "kvpress/pipeline.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "pipeline/prompt.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {

AnswerResult answer(const Model& model, const std::string& context, const std::vector<std::string>& questions_in,
                    Press* press, const AnswerOptions& options, ThreadPool& pool) {
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  if (options.max_context_length && *options.max_context_length <= 0) fail("max_context_length must be positive");
  const std::vector<std::string> questions = questions_in.empty() ? std::vector<std::string>{""} : questions_in;
  AnswerResult result;

  // Query-aware: each question is compressed together with the context.
  std::vector<std::pair<std::string, std::vector<std::string>>> runs;
  if (options.query_aware) {
    for (const auto& q : questions) runs.push_back({context + q, {""}});
  } else {
    runs.push_back({context, questions});
  }

  for (const auto& [run_context, run_questions] : runs) {
    const PromptParts parts = split_prompt(model, run_context, options.use_chat_template);
    std::vector<int32_t> ids = context_ids(model, parts);
    if (options.max_context_length && (int64_t)ids.size() > *options.max_context_length) {
      result.warnings.push_back("context truncated from " + std::to_string(ids.size()) + " to " +
                                std::to_string(*options.max_context_length) + " tokens (max_context_length)");
      ids.resize((size_t)*options.max_context_length);
    }
    if (ids.empty()) fail("the context is empty after tokenization");
    const int64_t n_ctx = model.config().n_ctx_train;
    if (n_ctx > 0 && (int64_t)ids.size() > n_ctx)
      result.warnings.push_back("the context has " + std::to_string(ids.size()) + " tokens, more than the model's " +
                                "context_length of " + std::to_string(n_ctx) + ": answers may be unreliable " +
                                "(max_context_length truncates it)");

    ContextSession session(model, pool, options.kv_types);
    session.prefill(ids, press, options.on_prefill_progress, options.prefill_chunk);
    auto& s = result.stats;
    s.prefill_ms += session.prefill_ms();
    s.compression_ms += session.compression_ms();
    s.context_tokens = session.context_tokens();
    s.kv_bytes_full = session.context_tokens() * model.config().kv_bytes_per_token(options.kv_types);
    s.kv_bytes = session.cache().bytes();

    for (const auto& q : run_questions) {
      GenerateOptions gen;
      gen.max_new_tokens = options.max_new_tokens;
      gen.check_first_token = false;  // kvpress never stops on the first generated token [quirk, spec §3]
      const auto t0 = std::chrono::steady_clock::now();
      const auto generated = session.ask(question_ids(model, parts, q, options.answer_prefix), gen);
      s.decode_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      s.generated_tokens += (int64_t)generated.tokens.size();
      result.answers.push_back(model.tokenizer().decode(generated.tokens, true));
      result.answer_ids.push_back(generated.tokens);
    }
    s.peak_kv_entries_per_head = std::max(s.peak_kv_entries_per_head, session.cache().peak_entries_per_head());
    s.kv_bytes_peak = std::max(s.kv_bytes_peak, session.cache().peak_bytes());
  }
  return result;
}

}  // namespace kvpress
