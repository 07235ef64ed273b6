// Generation loop over the model's forward pass.
#include "pipeline/generator.h"

#include <chrono>
#include <numeric>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/model.h"
#include "pipeline/finite_check.h"
#include "press/press_prefill.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {

GenerateResult generate(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> prompt,
                        int32_t start_pos, const GenerateOptions& options) {
  if (prompt.empty()) fail("generate: the prompt is empty");
  if (options.max_new_tokens < 0) fail("max-new-tokens must be >= 0");
  GenerateResult result;
  if (options.max_new_tokens == 0) return result;
  Sampler sampler(options.sampling);
  std::vector<int32_t> positions(prompt.size());
  std::iota(positions.begin(), positions.end(), start_pos);
  const auto t0 = std::chrono::steady_clock::now();
  // The prompt pass: a prefill on an empty cache, else the first decoding pass (spec §1.1).
  const bool prefill = cache.total_entries() == 0;
  PressPrefill prompt_press(options.press, prefill ? PressPrefill::Phase::Prefill : PressPrefill::Phase::Decoding);
  if (options.on_prefill_progress)
    prompt_press.after_compress = [&](const LayerPrefill& layer) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      options.on_prefill_progress({layer.n_tokens, layer.layer + 1, model.config().n_layers, ms});
    };
  ForwardOptions fwd;
  prompt_press.attach(fwd);
  const auto run = [&](const std::function<void()>& pass) { options.with_compute ? options.with_compute(pass) : pass(); };
  std::vector<float> logits;
  run([&] {
    logits = model.forward(prompt, positions, cache, pool, fwd);
    if (prefill && start_pos == 0) prompt_press.finish(model, cache, pool, prompt);  // kvzip, kvcompose
  });
  result.fed = (int64_t)prompt.size();
  check_finite_logits(model, cache, logits);
  int32_t pos = start_pos + (int32_t)prompt.size();
  const auto& tok = model.tokenizer();
  PressPrefill step_press(options.press, PressPrefill::Phase::Decoding);
  ForwardOptions step_fwd;
  step_press.attach(step_fwd);
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    const int32_t next = sampler.next(logits);
    const bool may_stop = options.stop_at_end_of_generation && (i > 0 || options.check_first_token);
    if (may_stop && tok.is_end_of_generation(next)) {
      result.stopped = true;
      break;
    }
    result.tokens.push_back(next);
    if (options.on_token) options.on_token(next);
    if (i + 1 == options.max_new_tokens && !options.feed_last) break;
    const int32_t token[1] = {next};
    const int32_t token_pos[1] = {pos++};
    run([&] { logits = model.forward(token, token_pos, cache, pool, step_fwd); });
    ++result.fed;
    check_finite_logits(model, cache, logits);
    if (i + 1 == options.max_new_tokens) break;  // fed (feed_last): the budget is spent
  }
  return result;
}

}  // namespace kvpress
