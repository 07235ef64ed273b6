// `kvpress generate`: complete a prompt (optionally through the model's chat template), streaming.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "core/error.h"
#include "commands.h"
#include "kvpress/engine.h"
#include "kvpress/press.h"
#include "prefill_meter.h"

namespace kvpress::cli {

void add_generate_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, prompt, press = "none";
    double ratio = 0.0;
    bool chat = false, json = false;
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
  cmd->add_option("--press", args->press,
                  "press specification (see `kvpress presses`): a decoding press (decoding_knorm, cam_knorm, ...) "
                  "compresses the cache while generating; a prefill press compresses the prompt")
      ->capture_default_str();
  auto* ratio = cmd->add_option("--compression-ratio", args->ratio,
                                "fraction of KV pairs removed by a prefill press, in [0, 1)")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object (text, ids, cache sizes and peaks) instead of streaming the text");
  add_kv_type_options(cmd, args->kv);
  add_progress_options(cmd, args->progress);
  cmd->callback([&action, args, ratio] {
    action = [args, ratio] {
      const KvTypes kv_types = args->kv.resolve();
      const PressConfig press = PressConfig::from_spec(args->press, args->ratio);  // validated before loading
      if (press.is_none() && args->ratio > 0)
        fail("--compression-ratio does nothing without --press (e.g. --press knorm --compression-ratio 0.5)");
      if (press.compresses_prefill() && ratio->count() == 0)
        fail("--press ", args->press, " compresses the prompt and needs --compression-ratio (e.g. 0.5)");
      GenerationOptions opts;
      opts.max_new_tokens = args->max_new_tokens;
      opts.sampling = {args->temperature, args->top_k, args->top_p, args->seed};
      opts.sampling.validate();
      opts.kv_types = kv_types;
      opts.press = press;
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
        if (args->json) return;  // the text is in the JSON object
        const std::string text = engine.detokenize(generated);
        if (text.size() > printed) {
          std::fwrite(text.data() + printed, 1, text.size() - printed, stdout);
          std::fflush(stdout);
          printed = text.size();
        }
      };
      const Generation result = engine.generate(prompt, opts);
      if (args->json) {
        const nlohmann::json j = {
            {"text", result.text},
            {"ids", result.ids},
            {"stopped", result.stopped},
            {"prompt_tokens", prompt.size()},
            {"generated_tokens", result.ids.size()},
            {"press", press.is_none() ? "none" : press.spec()},
            {"compression_ratio", args->ratio},
            {"kv_type_k", kv_type_name(kv_types.k)},
            {"kv_type_v", kv_type_name(kv_types.v)},
            {"kv_bytes", result.kv_bytes},
            {"kv_bytes_peak", result.kv_bytes_peak},
            {"peak_kv_entries_per_head", result.peak_kv_entries_per_head},
        };
        std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      } else {
        std::printf("\n");
      }
      if (capped && !result.stopped && (int64_t)result.ids.size() == room)
        std::fprintf(stderr, "kvpress: stopped after %lld tokens: the model's context_length of %lld is reached\n",
                     (long long)room, (long long)info.n_ctx_train);
      return 0;
    };
  });
}

}  // namespace kvpress::cli
