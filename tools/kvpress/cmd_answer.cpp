// `kvpress answer`: compress a context file once with a press (or load a cache file written by
// `kvpress compress`), answer questions on the cache.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "context_options.h"
#include "core/error.h"
#include "kvpress/pipeline.h"

namespace kvpress::cli {

void add_answer_command(CLI::App& app, Action& action) {
  struct Args {
    ContextArgs context;
    std::string cache, answer_prefix;
    std::vector<std::string> questions;
    int64_t max_new_tokens = 50;
    bool query_aware = false, json = false, conversation = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("answer", "Compress a context once, then answer questions on the compressed cache");
  add_context_options(cmd, args->context, false);
  cmd->add_option("--cache", args->cache, "answer from a cache file written by `kvpress compress` instead of "
                  "--context-file (no prefill; the file holds the press, ratio and KV types)");
  cmd->add_option("--question", args->questions, "a question (repeat for several; none = continue the context)");
  cmd->add_option("--answer-prefix", args->answer_prefix, "text the answer starts with (inside the assistant turn)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "most tokens per answer")
      ->check(at_least(0))->capture_default_str();
  auto* query_aware = cmd->add_flag("--query-aware", args->query_aware,
                                    "let the press see the question (appended to the context)");
  cmd->add_flag("--conversation", args->conversation,
                "the questions are turns of one chat: each question and answer stay in the cache (a decoding press "
                "keeps it bounded) instead of the cache returning to the context after each answer");
  cmd->add_flag("--json", args->json, "print a JSON object with answers, sizes and timings");
  cmd->callback([&action, args, query_aware] {
    action = [args, query_aware] {
      const ContextArgs& c = args->context;
      const bool from_cache = !args->cache.empty();
      if (from_cache) refuse_with_cache(c, {query_aware});
      if (!from_cache && c.context_file.empty())
        fail("answer needs --context-file F (the context to compress) or --cache F (a file from `kvpress compress`)");
      const PressConfig press = from_cache ? PressConfig() : checked_press(c);  // validated before loading
      PrefillMeter meter = stderr_meter(c.progress.mode());
      const SessionOptions session_options = cli::session_options(c, meter);  // validates the KV types
      const std::string context = from_cache ? "" : read_file(c.context_file);
      const Engine engine = Engine::load(c.model, {c.threads});
      if (args->questions.empty())
        std::fprintf(stderr, "kvpress: note: no --question given, so the answer continues the context\n");
      AnswerOptions opts;
      opts.answer_prefix = args->answer_prefix;
      opts.max_new_tokens = args->max_new_tokens;
      opts.max_context_length = session_options.max_context_length;
      opts.query_aware = args->query_aware;
      opts.conversation = args->conversation;
      opts.use_chat_template = session_options.use_chat_template;
      opts.kv_types = session_options.kv_types;
      opts.prefill_chunk = session_options.prefill_chunk;
      opts.on_prefill_progress = session_options.on_prefill_progress;
      AnswerResult result;
      nlohmann::json source;
      if (from_cache) {
        Session session = Session::load(engine, args->cache);
        result = answer(session, args->questions, opts);
        source = {{"press", session.press().is_none() ? "none" : session.press().spec()},
                  {"compression_ratio", session.press().compression_ratio()},
                  {"kv_type_k", kv_type_name(session.kv_types().k)},
                  {"kv_type_v", kv_type_name(session.kv_types().v)},
                  {"prefill_chunk", nullptr},  // not recorded in the file
                  {"cache", args->cache},
                  {"load_ms", session.stats().load_ms}};
      } else {
        result = answer(engine, context, args->questions, press, opts);
        source = {{"press", c.press},
                  {"compression_ratio", c.ratio},
                  {"kv_type_k", kv_type_name(opts.kv_types.k)},
                  {"kv_type_v", kv_type_name(opts.kv_types.v)},
                  {"prefill_chunk", c.prefill_chunk}};
      }
      for (const auto& w : result.warnings) std::fprintf(stderr, "kvpress: warning: %s\n", w.c_str());
      if (!args->json) {
        for (const auto& a : result.answers) std::printf("%s\n", a.c_str());
        return 0;
      }
      const auto& s = result.stats;
      nlohmann::json j = {
          {"answers", result.answers},
          {"context_tokens", s.context_tokens},
          {"kv_bytes_full", s.kv_bytes_full},
          {"kv_bytes", s.kv_bytes},
          {"kv_bytes_peak", s.kv_bytes_peak},
          {"peak_kv_entries_per_head", s.peak_kv_entries_per_head},
          {"prefill_ms", s.prefill_ms},
          {"compression_ms", s.compression_ms},
          {"decode_ms", s.decode_ms},
          {"generated_tokens", s.generated_tokens},
          {"conversation", args->conversation},
          {"decode_tokens_per_s", s.decode_ms > 0 ? s.generated_tokens * 1000.0 / s.decode_ms : 0.0},
      };
      j.update(source);
      std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
