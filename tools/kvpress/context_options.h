// Options shared by the commands that compress a context file into a cache (answer, compress): the
// model, the context, the press and ratio, the cache's storage, chunking and threads, with one help style.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "kvpress/press.h"
#include "kvpress/session.h"
#include "prefill_meter.h"

namespace kvpress::cli {

struct ContextArgs {
  std::string model, context_file, press = "none";
  double ratio = 0.0;
  int64_t max_context_length = 0, prefill_chunk = 0;
  bool no_chat_template = false;
  int threads = default_threads();
  KvTypeArgs kv;
  ProgressArgs progress;
  // Set by add_context_options: the options that shape the cache (answer refuses them with --cache).
  std::vector<CLI::Option*> shaping;
  CLI::Option* ratio_option = nullptr;
};

// Adds --model, --context-file (required when context_required), --press, --compression-ratio,
// --max-context-length, --prefill-chunk, --no-chat-template, --threads, the KV type and progress options.
void add_context_options(CLI::App* cmd, ContextArgs& args, bool context_required);

// The press, checked before anything is loaded: a ratio without a press, or a press without a ratio,
// would silently compress nothing, so both are refused.
PressConfig checked_press(const ContextArgs& args);

// The session options the arguments ask for (progress on stderr through `meter`).
SessionOptions session_options(const ContextArgs& args, PrefillMeter& meter);

// Fails naming the first cache-shaping option given together with `--cache`: the file holds those.
void refuse_with_cache(const ContextArgs& args, const std::vector<CLI::Option*>& more);

}  // namespace kvpress::cli
