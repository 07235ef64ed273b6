// The answer pipeline: chat-template split, one compressed prefill, greedy answers per question with
// the cache restored between questions (kvpress's KVPressTextGenerationPipeline, spec §3).
#include "kvpress/pipeline.h"

#include <chrono>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/model.h"
#include "pipeline/generator.h"
#include "press/press.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct PromptParts {
  std::string context;  // template prefix + context (or BOS + context)
  std::string suffix;   // end of the user turn + assistant header (or "\n")
};

// Renders one user message "context + sep" and splits on sep, so the question lands inside the
// user turn after the context, exactly as kvpress does.
PromptParts split_prompt(const Model& model, const std::string& context, bool use_template) {
  const auto& v = model.tokenizer().vocab();
  const std::string bos = v.bos_id >= 0 ? v.tokens[v.bos_id] : "";
  const std::string eos = v.eos_id >= 0 ? v.tokens[v.eos_id] : "";
  const auto tmpl = ChatTemplate::detect(use_template ? v.chat_template : "", bos, eos);
  if (tmpl.kind() == ChatTemplate::Kind::None) return {bos + context, "\n"};
  const std::string sep(context.size() + 10, '#');
  const std::string rendered = tmpl.apply({{"user", context + sep}}, true);
  const size_t at = rendered.find(sep);
  KV_CHECK(at != std::string::npos);
  return {rendered.substr(0, at), rendered.substr(at + sep.size())};
}

}  // namespace

AnswerResult answer(const Model& model, const std::string& context, const std::vector<std::string>& questions_in,
                    Press* press, const AnswerOptions& options, ThreadPool& pool) {
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  if (options.max_context_length && *options.max_context_length <= 0) fail("max_context_length must be positive");
  std::vector<std::string> questions = questions_in.empty() ? std::vector<std::string>{""} : questions_in;
  const auto& tok = model.tokenizer();
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
    std::vector<int32_t> context_ids = tok.encode(parts.context, false, true);
    if (options.max_context_length && (int64_t)context_ids.size() > *options.max_context_length) {
      result.warnings.push_back("context truncated from " + std::to_string(context_ids.size()) + " to " +
                                std::to_string(*options.max_context_length) + " tokens (max_context_length)");
      context_ids.resize((size_t)*options.max_context_length);
    }
    if (context_ids.empty()) fail("the context is empty after tokenization");
    const int64_t n_ctx = (int64_t)context_ids.size();

    // Prefill with the press observing every layer.
    KvCache cache = model.make_cache();
    std::vector<int32_t> positions((size_t)n_ctx);
    std::iota(positions.begin(), positions.end(), 0);
    double compress_ms = 0;
    LayerObserver observer = [&](const LayerPrefill& layer) {
      const auto t0 = Clock::now();
      press->compress(layer);
      compress_ms += ms_since(t0);
    };
    ForwardOptions fwd;
    fwd.logits = LogitsMode::None;
    if (press) {
      press->reset();
      fwd.observer = &observer;
    }
    const auto t_prefill = Clock::now();
    model.forward(context_ids, positions, cache, pool, fwd);
    result.stats.prefill_ms += ms_since(t_prefill) - compress_ms;
    result.stats.compression_ms += compress_ms;
    result.stats.context_tokens = n_ctx;
    result.stats.kv_bytes_full = n_ctx * model.config().kv_bytes_per_token();
    result.stats.kv_bytes = cache.bytes();

    // Questions start at the original context length, unless the press re-rotated keys (spec §1.5).
    int32_t start = (int32_t)n_ctx;
    if (press && press->rerotates_keys()) start = (int32_t)cache.length(0, 0);
    const auto snapshot = cache.lengths();
    for (const auto& q : run_questions) {
      const auto question_ids = tok.encode(q + parts.suffix + options.answer_prefix, false, true);
      GenerateOptions gen;
      gen.max_new_tokens = options.max_new_tokens;
      gen.check_first_token = false;  // kvpress never stops on the first generated token
      const auto t_decode = Clock::now();
      const auto generated = generate(model, cache, pool, question_ids, start, gen);
      result.stats.decode_ms += ms_since(t_decode);
      result.stats.generated_tokens += (int64_t)generated.tokens.size();
      result.answers.push_back(tok.decode(generated.tokens, true));
      result.answer_ids.push_back(generated.tokens);
      cache.truncate(snapshot);
    }
  }
  return result;
}

}  // namespace kvpress
