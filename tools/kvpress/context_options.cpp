// The context options of answer and compress, and their checks.
#include "context_options.h"

#include "core/error.h"
#include "eval/eval_config.h"

namespace kvpress::cli {

void add_context_options(CLI::App* cmd, ContextArgs& args, bool context_required) {
  cmd->add_option("--model", args.model, "GGUF model file")->required();
  auto* context = cmd->add_option("--context-file", args.context_file, "text file with the context");
  if (context_required) context->required();
  auto* press = cmd->add_option("--press", args.press, "press specification (see `kvpress presses`); needs "
                                "--compression-ratio, except decoding presses (decoding_knorm, cam_knorm, ...: "
                                "sized by target_size)")->capture_default_str();
  args.ratio_option = cmd->add_option("--compression-ratio", args.ratio, "fraction of KV pairs removed, in [0, 1); "
                                      "needs --press")->capture_default_str();
  auto* max_length = cmd->add_option("--max-context-length", args.max_context_length,
                                     "truncate the context to N tokens (0 = no limit)")
                         ->check(at_least(0))->capture_default_str();
  add_prefill_chunk_option(cmd, args.prefill_chunk);
  auto* no_template = cmd->add_flag("--no-chat-template", args.no_chat_template, "do not use the model's chat template");
  cmd->add_option("--threads", args.threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  add_kv_type_options(cmd, args.kv);
  add_progress_options(cmd, args.progress);
  args.shaping = {context, press, args.ratio_option, max_length, cmd->get_option("--prefill-chunk"), no_template,
                  cmd->get_option("--kv-type"), cmd->get_option("--kv-type-k"), cmd->get_option("--kv-type-v")};
}

PressConfig checked_press(const ContextArgs& args) {
  const PressConfig press = PressConfig::from_spec(args.press, args.ratio);
  if (press.is_none() && args.ratio > 0)
    fail("--compression-ratio ", eval::ratio_key(args.ratio), " does nothing without --press (e.g. --press knorm "
         "--compression-ratio ", eval::ratio_key(args.ratio), ")");
  if (press.compresses_prefill() && args.ratio_option->count() == 0)
    fail("--press ", args.press, " needs --compression-ratio (the fraction of KV pairs to remove, e.g. 0.5)");
  return press;
}

SessionOptions session_options(const ContextArgs& args, PrefillMeter& meter) {
  SessionOptions o;
  o.kv_types = args.kv.resolve();
  if (args.max_context_length > 0) o.max_context_length = args.max_context_length;
  o.use_chat_template = !args.no_chat_template;
  o.prefill_chunk = args.prefill_chunk;
  o.on_prefill_progress = meter.callback();
  return o;
}

void refuse_with_cache(const ContextArgs& args, const std::vector<CLI::Option*>& more) {
  std::vector<CLI::Option*> all = args.shaping;
  all.insert(all.end(), more.begin(), more.end());
  for (const CLI::Option* o : all)
    if (o->count() > 0)
      fail(o->get_name(), " cannot be combined with --cache: the cache file already holds the compressed context "
           "(its press, ratio, KV types and prompt were set by `kvpress compress`)");
}

}  // namespace kvpress::cli
