// One line of predictions.jsonl (an answer of one press at one ratio), reading the file back for
// --resume, and the aggregation of all lines into metrics.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_record.h"
#include "eval_config.h"
#include "pipeline/fidelity.h"

namespace kvpress::eval {

struct PredictionRow {
  int64_t sample = 0;            // index of the record in the loaded dataset
  std::string task;
  std::string press;             // as in PressRun::press
  double ratio = 0;
  std::string prediction;
  std::vector<std::string> gold;
  std::optional<double> score;   // this row's primary score in [0, 100] (see row_score); none without a metric
  int64_t context_tokens = 0;    // after truncation
  int64_t question_tokens = 0;
  int64_t kv_bytes = 0;          // the context's cache after compression
  int64_t kv_bytes_full = 0;     // ... and without
  std::vector<int32_t> answer_ids;
  double prefill_ms = 0;         // of the context this row shares with its group (compression excluded)
  double compression_ms = 0;
  double decode_ms = 0;          // this question and its answer
  double fidelity_ms = 0;
  std::optional<FidelityStats> fidelity;  // compressed runs with fidelity on
  int length = 0;                // TaskRecord::length (target length) when set
  int needle_depth = -1;         // niah

  // Items are identified by (sample, press, ratio).
  std::string key() const;
};

std::string item_key(int64_t sample, std::string_view press, double ratio);

nlohmann::json row_to_json(const PredictionRow& row);
// Throws Error naming the missing or mistyped field.
PredictionRow row_from_json(const nlohmann::json& j);

// Reads predictions.jsonl. A line that does not parse is tolerated only as the last line (a run killed
// while writing it) and reported in `dropped_tail`; duplicates keep the last line for each key.
struct LoadedRows {
  std::vector<PredictionRow> rows;
  bool dropped_tail = false;
};
LoadedRows load_predictions(const std::filesystem::path& path);

// Primary score in [0, 100] of one prediction, from the metric of its dataset (spec §6.4):
//   ruler: string_match_all (string_match_part for qa_* tasks) x 100;
//   needle_in_haystack: ROUGE-1 F of the kvpress rouge call (needle as hypothesis) x 100;
//   longbench: the task metric x 100; loogle: exact_match (cloze) or ROUGE-L recall x 100;
//   infinitebench: the task score x 100. `scorer` as scorer_for_dataset; "auto" picks per task.
// nullopt for zero_scrolls, records without answers, or a task we have no metric for.
std::optional<double> row_score(std::string_view scorer, const TaskRecord& record, const std::string& prediction);

// metrics.json: per press and ratio (in `runs` order) the kvpress scorer output over that run's rows,
// per-task mean row scores, their average, fidelity means, cache sizes and timings; NIAH adds the
// depth x length grid. `records` is the dataset the rows' sample indices refer to.
nlohmann::json compute_metrics(std::string_view dataset_spec, std::span<const TaskRecord> records,
                               std::span<const PredictionRow> rows, std::span<const PressRun> runs);

}  // namespace kvpress::eval
