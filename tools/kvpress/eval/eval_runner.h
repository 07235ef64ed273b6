// The evaluation loop of `kvpress eval` as a library function: each context is prefilled once per
// (press, ratio) and its questions answered on that cache (kvpress's evaluate.py flow, spec §6.2), with
// line-by-line predictions, resume, interruption and the output files.
// Thread-safety: as the Engine's (runs may share one engine; their compute takes turns).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_record.h"
#include "eval_config.h"

namespace kvpress {
class Engine;
}  // namespace kvpress

namespace kvpress::eval {

// An item is one (context group, press, ratio): one compressed prefill and its questions.
struct EvalProgress {
  int64_t done = 0;       // items finished, skipped ones included
  int64_t skipped = 0;    // finished in an earlier run (--resume)
  int64_t total = 0;
  double elapsed_s = 0;   // since this run started
  std::string current;    // "knorm@0.5 sample 3", the item just finished
};

struct EvalHooks {
  std::function<void(const EvalProgress&)> on_progress;  // after every item (and once at the start)
  // Checked after every item; when set the loop stops and the outputs are written for what is done.
  const std::atomic<bool>* stop = nullptr;
};

struct EvalOutcome {
  int64_t items_total = 0, items_run = 0, items_skipped = 0;
  int64_t rows_written = 0;           // prediction lines appended by this run
  bool interrupted = false;
  bool complete = false;              // every item of the plan is in predictions.jsonl
  nlohmann::json metrics;             // what metrics.json holds
  std::vector<std::string> warnings;  // truncations, a dropped incomplete line, ...
};

// Output files in config.out_dir.
inline constexpr const char* kPredictionsFile = "predictions.jsonl";
inline constexpr const char* kMetricsFile = "metrics.json";
inline constexpr const char* kSummaryFile = "summary.md";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kScorePlotFile = "score_vs_ratio.svg";
inline constexpr const char* kFidelityPlotFile = "kl_vs_ratio.svg";
inline constexpr const char* kNiahHeatmapFile = "niah_heatmap.svg";

// The dataset of a config, tokenised with the model's tokenizer (ruler/niah) and, for jsonl with
// config.samples, a seeded subset in file order.
std::vector<TaskRecord> load_eval_dataset(const EvalConfig& config, const Engine& engine);

// Runs (or, with config.resume, continues) the evaluation and writes predictions.jsonl (one flushed line
// per answer), config.json, metrics.json, summary.md and the plots. `engine` must hold the file named by
// config.model_path. Throws Error for bad options, a non-empty folder without resume, or a resume whose
// config.json differs (check_resume_compatible).
EvalOutcome run_eval(const EvalConfig& config, const Engine& engine, const EvalHooks& hooks = {});

// Rewrites metrics.json, summary.md and the plots from the rows in predictions.jsonl.
nlohmann::json write_outputs(const EvalConfig& config, const std::vector<TaskRecord>& records,
                             const std::vector<PressRun>& runs);

}  // namespace kvpress::eval
