// Token generation on a KV cache: feed a prompt, then sample until a stop token or the budget.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "kvpress/progress.h"
#include "pipeline/sampler.h"

namespace kvpress {

class KvCache;
class Model;
class Press;
class ThreadPool;

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplingOptions sampling;
  bool stop_at_end_of_generation = true;  // stop on the tokenizer's EOS/EOT tokens (not included in output)
  bool check_first_token = true;          // kvpress's pipeline never stops on the first token [quirk, spec §3]
  bool feed_last = false;                 // conversations: the last generated token is fed too, so the cache
                                          // holds the whole answer (a stop token is never fed)
  std::function<void(int32_t)> on_token;  // called for each generated token (streaming)
  PrefillProgressFn on_prefill_progress;  // optional, after every layer of the prompt's forward pass
  // Optional press acting on this generation's passes: the prompt pass is a prefill when the cache is
  // empty (the press's prefill compression), every later pass a decoding pass (its decoding hooks).
  Press* press = nullptr;
  // Runs each forward pass (e.g. under the engine's compute lock, taken per token so that concurrent
  // sessions interleave); empty: passes run directly.
  std::function<void(const std::function<void()>&)> with_compute;
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (a final stop token excluded)
  bool stopped = false;         // ended on a stop token
  int64_t fed = 0;              // tokens fed through the model (prompt and generated): positions used
};

// Feeds `prompt` at positions start_pos.. then generates. The last generated token is not fed back
// (unless feed_last), so the cache ends holding the prompt and all generated tokens but the last (as
// kvpress does).
// Every step's logits are checked: non-finite ones throw Error naming the first bad tensor or layer.
GenerateResult generate(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> prompt,
                        int32_t start_pos, const GenerateOptions& options);

}  // namespace kvpress
