// `kvpress generate`: complete a prompt (optionally through the model's chat template), streaming.
#include <algorithm>
#include <cstdio>

#include "cli_common.h"
#include "core/error.h"
#include "commands.h"
#include "kvpress/engine.h"
#include "prefill_meter.h"

namespace kvpress::cli {

void add_generate_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, prompt;
    bool chat = false;
    int64_t max_new_tokens = 64;
    float temperature = 0.0f, top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 0;
    int threads = default_threads();
    KvTypeArgs kv;
    ProgressArgs progress;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("generate", "Generate text after a prompt");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--prompt", args->prompt, "prompt text")->required();
  cmd->add_flag("--chat", args->chat, "wrap the prompt as a user message in the model's chat template");
  cmd->add_option("--max-new-tokens", args->max_new_tokens,
                  "most tokens to generate (generation also stops at the model's context length)")
      ->check(at_least(0))->capture_default_str();
  cmd->add_option("--temperature", args->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", args->top_k, "sample among the k most likely tokens (0 = all)")
      ->check(at_least(0))->capture_default_str();
  cmd->add_option("--top-p", args->top_p, "nucleus sampling mass")->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed for sampling")->check(at_least(0))->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  add_kv_type_options(cmd, args->kv);
  add_progress_options(cmd, args->progress);
  cmd->callback([&action, args] {
    action = [args] {
      const KvTypes kv_types = args->kv.resolve();
      GenerationOptions opts;
      opts.max_new_tokens = args->max_new_tokens;
      opts.sampling = {args->temperature, args->top_k, args->top_p, args->seed};
      opts.sampling.validate();
      opts.kv_types = kv_types;
      const Engine engine = Engine::load(args->model, {args->threads});
      const ModelInfo& info = engine.info();
      if (args->chat && !info.has_chat_template) fail(args->model, ": --chat needs a model with a chat template");
      const std::vector<int32_t> prompt = args->chat ? engine.chat_prompt(args->prompt) : engine.tokenize(args->prompt);
      // Positions past the model's context length were never trained: stop there and say so.
      const int64_t room = std::max<int64_t>(0, info.n_ctx_train - (int64_t)prompt.size());
      const bool capped = opts.max_new_tokens > room;
      if ((int64_t)prompt.size() > info.n_ctx_train)
        std::fprintf(stderr, "kvpress: warning: the prompt has %zu tokens, more than the model's context_length of "
                     "%lld\n", prompt.size(), (long long)info.n_ctx_train);
      if (capped) opts.max_new_tokens = room;
      PrefillMeter meter = stderr_meter(args->progress.mode());
      opts.on_prefill_progress = meter.callback();
      // Stream text as it comes; decode the whole answer each time so multi-byte pieces print right.
      std::vector<int32_t> generated;
      size_t printed = 0;
      opts.on_token = [&](int32_t id) {
        generated.push_back(id);
        const std::string text = engine.detokenize(generated);
        if (text.size() > printed) {
          std::fwrite(text.data() + printed, 1, text.size() - printed, stdout);
          std::fflush(stdout);
          printed = text.size();
        }
      };
      const Generation result = engine.generate(prompt, opts);
      std::printf("\n");
      if (capped && !result.stopped && (int64_t)result.ids.size() == room)
        std::fprintf(stderr, "kvpress: stopped after %lld tokens: the model's context_length of %lld is reached\n",
                     (long long)room, (long long)info.n_ctx_train);
      return 0;
    };
  });
}

}  // namespace kvpress::cli
