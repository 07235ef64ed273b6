// Subcommands of the kvpress CLI: each registers its options and returns the action to run.
#pragma once
#include <functional>

#include <CLI/CLI.hpp>

namespace kvpress::cli {

using Action = std::function<int()>;

// Each adds one subcommand to `app` and sets `action` when that subcommand is chosen.
void add_logits_command(CLI::App& app, Action& action);
void add_tokenize_command(CLI::App& app, Action& action);
void add_generate_command(CLI::App& app, Action& action);
void add_info_command(CLI::App& app, Action& action);
void add_answer_command(CLI::App& app, Action& action);
void add_compress_command(CLI::App& app, Action& action);
void add_inspect_command(CLI::App& app, Action& action);
void add_presses_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_ruler_gen_command(CLI::App& app, Action& action);
void add_demo_command(CLI::App& app, Action& action);
void add_make_model_command(CLI::App& app, Action& action);
void add_serve_command(CLI::App& app, Action& action);
void add_query_stats_command(CLI::App& app, Action& action);

}  // namespace kvpress::cli
