// `kvpress answer`: compress a context file once with a press, answer questions on the cache.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "eval/eval_config.h"
#include "kvpress/pipeline.h"
#include "prefill_meter.h"

namespace kvpress::cli {

void add_answer_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, context_file, answer_prefix, press = "none";
    std::vector<std::string> questions;
    double ratio = 0.0;
    int64_t max_new_tokens = 50, max_context_length = 0, prefill_chunk = 0;
    bool query_aware = false, json = false, no_chat_template = false;
    int threads = default_threads();
    KvTypeArgs kv;
    ProgressArgs progress;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("answer", "Compress a context once, then answer questions on the compressed cache");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--context-file", args->context_file, "text file with the context")->required();
  cmd->add_option("--question", args->questions, "a question (repeat for several; none = continue the context)");
  cmd->add_option("--answer-prefix", args->answer_prefix, "text the answer starts with (inside the assistant turn)");
  cmd->add_option("--press", args->press, "press specification (see `kvpress presses`); needs --compression-ratio, except decoding presses "
                  "(decoding_knorm, cam_knorm, ...: sized by target_size)")
      ->capture_default_str();
  auto* ratio = cmd->add_option("--compression-ratio", args->ratio,
                                "fraction of KV pairs removed, in [0, 1); needs --press")->capture_default_str();
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "most tokens per answer")
      ->check(at_least(0))->capture_default_str();
  cmd->add_option("--max-context-length", args->max_context_length, "truncate the context to N tokens (0 = no limit)")
      ->check(at_least(0))->capture_default_str();
  cmd->add_flag("--query-aware", args->query_aware, "let the press see the question (appended to the context)");
  add_prefill_chunk_option(cmd, args->prefill_chunk);
  cmd->add_flag("--no-chat-template", args->no_chat_template, "do not use the model's chat template");
  cmd->add_flag("--json", args->json, "print a JSON object with answers, sizes and timings");
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  add_kv_type_options(cmd, args->kv);
  add_progress_options(cmd, args->progress);
  cmd->callback([&action, args, ratio] {
    action = [args, ratio] {
      const PressConfig press = PressConfig::from_spec(args->press, args->ratio);  // validated before loading
      // A ratio without a press, or a press without a ratio, would silently compress nothing.
      if (press.is_none() && args->ratio > 0)
        fail("--compression-ratio ", eval::ratio_key(args->ratio), " does nothing without --press (e.g. --press knorm "
             "--compression-ratio ", eval::ratio_key(args->ratio), ")");
      if (press.compresses_prefill() && ratio->count() == 0)
        fail("--press ", args->press, " needs --compression-ratio (the fraction of KV pairs to remove, e.g. 0.5)");
      const KvTypes kv_types = args->kv.resolve();
      const std::string context = read_file(args->context_file);
      const Engine engine = Engine::load(args->model, {args->threads});
      if (args->questions.empty())
        std::fprintf(stderr, "kvpress: note: no --question given, so the answer continues the context\n");
      PrefillMeter meter = stderr_meter(args->progress.mode());
      AnswerOptions opts;
      opts.answer_prefix = args->answer_prefix;
      opts.max_new_tokens = args->max_new_tokens;
      if (args->max_context_length > 0) opts.max_context_length = args->max_context_length;
      opts.query_aware = args->query_aware;
      opts.use_chat_template = !args->no_chat_template;
      opts.kv_types = kv_types;
      opts.prefill_chunk = args->prefill_chunk;
      opts.on_prefill_progress = meter.callback();
      const auto result = answer(engine, context, args->questions, press, opts);
      for (const auto& w : result.warnings) std::fprintf(stderr, "kvpress: warning: %s\n", w.c_str());
      if (!args->json) {
        for (const auto& a : result.answers) std::printf("%s\n", a.c_str());
        return 0;
      }
      const auto& s = result.stats;
      nlohmann::json j = {
          {"answers", result.answers},
          {"press", args->press},
          {"compression_ratio", args->ratio},
          {"kv_type_k", kv_type_name(kv_types.k)},
          {"kv_type_v", kv_type_name(kv_types.v)},
          {"context_tokens", s.context_tokens},
          {"kv_bytes_full", s.kv_bytes_full},
          {"kv_bytes", s.kv_bytes},
          {"kv_bytes_peak", s.kv_bytes_peak},
          {"peak_kv_entries_per_head", s.peak_kv_entries_per_head},
          {"prefill_chunk", args->prefill_chunk},
          {"prefill_ms", s.prefill_ms},
          {"compression_ms", s.compression_ms},
          {"decode_ms", s.decode_ms},
          {"generated_tokens", s.generated_tokens},
          {"decode_tokens_per_s", s.decode_ms > 0 ? s.generated_tokens * 1000.0 / s.decode_ms : 0.0},
      };
      std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
