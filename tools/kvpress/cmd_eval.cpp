// `kvpress eval`: score presses x compression ratios on a dataset (kvpress's evaluate.py), or merge
// result folders into one leaderboard with --report.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "eval/eval_config.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "eval/progress_bar.h"
#include "install_paths.h"
#include "kvpress/engine.h"

namespace kvpress::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_sigint(int) {
  g_stop.store(true);
  static const char kMsg[] = "\nkvpress eval: interrupted, finishing the current item (Ctrl-C again to abort)\n";
  (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
}

// First Ctrl-C: stop after the current item; the handler then resets, so a second one kills at once.
void install_sigint_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
}

int run_report(const std::vector<std::string>& dirs_in, const std::string& out) {
  std::vector<std::filesystem::path> dirs(dirs_in.begin(), dirs_in.end());
  const eval::MergedReport r = eval::merge_reports(dirs);
  std::printf("%s", r.markdown.c_str());
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    const std::filesystem::path o(out);
    eval::write_file_atomic(o / "leaderboard.md", r.markdown);
    eval::write_file_atomic(o / "leaderboard.json", r.table.dump(2) + "\n");
    eval::write_file_atomic(o / eval::kScorePlotFile, r.score_svg);
    if (!r.kl_svg.empty()) eval::write_file_atomic(o / eval::kFidelityPlotFile, r.kl_svg);
    std::fprintf(stderr, "kvpress eval: wrote %s/{leaderboard.md,leaderboard.json,%s%s}\n", out.c_str(),
                 eval::kScorePlotFile, r.kl_svg.empty() ? "" : ",kl_vs_ratio.svg");
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, dataset, out, split = "test", data_dir;
    std::vector<std::string> presses, ratios, report;
    size_t samples = 0;
    uint64_t seed = 42;
    int64_t max_context_length = 0, max_new_tokens = 0;
    bool query_aware = false, no_chat_template = false, no_fidelity = false, resume = false, quiet = false;
    int threads = default_threads();
    int64_t prefill_chunk = 0;
    KvTypeArgs kv;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Evaluate presses x compression ratios on a dataset (or merge results)");
  cmd->add_option("--model", args->model, "GGUF model file");
  cmd->add_option("--dataset", args->dataset,
                  "ruler:<tasks|all>:<lengths> | niah:<lengths>:<depths> | jsonl:<file> (kvpress record fields)");
  cmd->add_option("--press", args->presses, "press specifications, comma-separated or repeated; no_press = baseline");
  cmd->add_option("--compression-ratio", args->ratios, "ratios in [0, 1), comma-separated or repeated");
  auto* samples = cmd->add_option("--samples", args->samples,
                                  "ruler: samples per task and length (default 10); jsonl: a seeded subset (default all)")
                      ->check(at_least(1));
  cmd->add_option("--seed", args->seed, "seed of the generated tasks and the jsonl subset")
      ->check(at_least(0))->capture_default_str();
  cmd->add_option("--split", args->split, "ruler keys/values: train, test or all")->capture_default_str();
  add_data_dir_option(cmd, args->data_dir);
  cmd->add_flag("--query-aware", args->query_aware, "compress the question with the context (kvpress query_aware)");
  cmd->add_option("--max-context-length", args->max_context_length, "truncate contexts to N tokens (0 = no limit)")
      ->check(at_least(0))->capture_default_str();
  auto* max_new = cmd->add_option("--max-new-tokens", args->max_new_tokens,
                                  "override each record's max_new_tokens (default: the record's, else 128)")
                      ->check(at_least(0));
  cmd->add_flag("--no-chat-template", args->no_chat_template, "do not use the model's chat template");
  cmd->add_flag("--no-fidelity", args->no_fidelity, "skip the KL / top-1 / likelihood comparison with the baseline");
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "no progress bar on stderr");
  add_kv_type_options(cmd, args->kv);
  add_prefill_chunk_option(cmd, args->prefill_chunk);
  cmd->add_option("--out", args->out, "output folder (with --report: where the merged files go)");
  cmd->add_flag("--resume", args->resume, "continue the run in --out, skipping finished items");
  cmd->add_option("--report", args->report, "merge the metrics.json of these result folders into one leaderboard");
  cmd->callback([&action, args, samples, max_new] {
    action = [args, samples, max_new]() -> int {
      if (!args->report.empty()) return run_report(args->report, args->out);
      if (args->model.empty()) fail("--model is required");
      if (args->dataset.empty()) fail("--dataset is required (e.g. ruler:all:4k)");
      if (args->out.empty()) fail("--out is required");
      eval::EvalConfig c;
      c.model_path = args->model;
      c.dataset = args->dataset;
      for (const auto& p : args->presses)
        for (auto& s : eval::split_press_list(p)) c.presses.push_back(s);
      for (const auto& r : args->ratios)
        for (double v : eval::parse_ratio_list(r)) c.ratios.push_back(v);
      if (samples->count() > 0) c.samples = args->samples;
      c.seed = args->seed;
      c.split = args->split;
      c.query_aware = args->query_aware;
      if (args->max_context_length > 0) c.max_context_length = args->max_context_length;
      if (max_new->count() > 0) c.max_new_tokens = args->max_new_tokens;
      c.use_chat_template = !args->no_chat_template;
      c.fidelity = !args->no_fidelity;
      // Only the generated datasets read the essays.
      const bool needs_essays = c.dataset.starts_with("ruler:") || c.dataset.starts_with("niah:");
      c.data_dir = needs_essays ? data_dir_or_default(args->data_dir) : std::filesystem::path(args->data_dir);
      c.out_dir = args->out;
      c.resume = args->resume;
      c.kv_types = args->kv.resolve();
      c.prefill_chunk = args->prefill_chunk;
      eval::plan_runs(c);  // bad presses or ratios fail before the model loads

      const Engine engine = Engine::load(c.model_path, {args->threads});
      eval::ProgressBar bar(stderr, isatty(STDERR_FILENO) != 0);
      eval::EvalHooks hooks;
      if (!args->quiet) hooks.on_progress = [&bar](const eval::EvalProgress& p) { bar.update(p); };
      hooks.stop = &g_stop;
      install_sigint_handler();
      const eval::EvalOutcome o = eval::run_eval(c, engine, hooks);
      signal(SIGINT, SIG_DFL);
      bar.finish();
      for (const auto& w : o.warnings) std::fprintf(stderr, "kvpress eval: warning: %s\n", w.c_str());
      std::printf("%s", eval::summary_markdown(o.metrics).c_str());
      std::fprintf(stderr, "kvpress eval: %lld items run, %lld skipped (already done), %lld answers written to %s\n",
                   (long long)o.items_run, (long long)o.items_skipped, (long long)o.rows_written,
                   (std::filesystem::path(c.out_dir) / eval::kPredictionsFile).c_str());
      if (o.interrupted) {
        std::fprintf(stderr, "kvpress eval: interrupted; continue with the same command plus --resume\n");
        return 130;
      }
      return 0;
    };
  });
}

}  // namespace kvpress::cli
