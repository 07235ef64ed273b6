// kvpress: command-line entry point. Library errors become one line on stderr and exit code 1.
#include <malloc.h>

#include <cstdio>
#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "version.h"

int main(int argc, char** argv) {
  // Large buffers (KV cache heads) always get their own mapping, so memory a press frees goes back to
  // the OS at once; glibc's default threshold grows after frees and would keep it in the heap.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  CLI::App app{"kvpress — KV-cache compression for GGUF language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return kvpress::cli::version_text(); },
                       "print the version, git commit, build type and CPU features in use");
  kvpress::cli::Action action;
  kvpress::cli::add_info_command(app, action);
  kvpress::cli::add_tokenize_command(app, action);
  kvpress::cli::add_logits_command(app, action);
  kvpress::cli::add_generate_command(app, action);
  kvpress::cli::add_answer_command(app, action);
  kvpress::cli::add_compress_command(app, action);
  kvpress::cli::add_inspect_command(app, action);
  kvpress::cli::add_presses_command(app, action);
  kvpress::cli::add_bench_command(app, action);
  kvpress::cli::add_eval_command(app, action);
  kvpress::cli::add_query_stats_command(app, action);
  kvpress::cli::add_ruler_gen_command(app, action);
  kvpress::cli::add_demo_command(app, action);
  kvpress::cli::add_make_model_command(app, action);
  kvpress::cli::add_serve_command(app, action);
  // llama-bench spells the KV types -ctk / -ctv; CLI11 takes one-letter short options only.
  std::vector<std::string> words(argv + 1, argv + argc);
  if (!words.empty() && words[0] == "bench")
    for (auto& w : words) w = w == "-ctk" ? "--kv-type-k" : w == "-ctv" ? "--kv-type-v" : w;
  std::reverse(words.begin(), words.end());  // CLI11 takes the arguments last-first
  try {
    app.parse(words);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kvpress: %s (see kvpress --help)\n", e.what());
    return 2;
  }
  try {
    return action ? action() : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvpress: error: %s\n", e.what());
    return 1;
  }
}
