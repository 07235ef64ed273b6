// Picks and runs the metric for a dataset the way kvpress's SCORER_REGISTRY does, returning metrics.json's
// content as JSON.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/task_record.h"

namespace kvpress {

// Scorer names: kvpress's registry keys we implement ("ruler", "needle_in_haystack", "longbench",
// "longbench-e", "loogle", "infinitebench", "zero_scrolls") plus "niah" (= needle_in_haystack) and "auto"
// (pick per task with infer_scorer).
const std::vector<std::string_view>& scorer_names();

// The scorer a task name belongs to: RULER names (niah_*, vt, cwe, fwe, qa_*) -> "ruler"; "niah" ->
// "needle_in_haystack"; LongBench dataset names -> "longbench" (with "-e" -> "longbench-e"); LooGLE and
// InfiniteBench task names likewise. Throws Error for other names.
std::string infer_scorer(std::string_view task);

// The scorer for a dataset spec's kind: "ruler:..." -> "ruler", "niah:..." -> "needle_in_haystack",
// "jsonl:..." -> "auto".
std::string scorer_for_dataset(std::string_view dataset_spec);

// Scores predictions[i] against records[i] (equal lengths). Output shapes follow kvpress:
//   ruler:          {task: {"string_match": x}}  (x in [0, 100], 2 decimals; qa* tasks use string_match_part)
//   needle_in_haystack: [{"rouge-1": {"r","p","f"}, "rouge-2": ..., "rouge-l": ...}, ...] one per row, with
//                   the needle (stripped) as hypothesis and the prediction (stripped) as reference
//   longbench:      {task: x}  (100 x mean of the best score over answers, 2 decimals)
//   longbench-e:    {task: {"0-4k": x, "4-8k": x, "8k+": x}}  (by TaskRecord::length; null when empty)
//   loogle:         {task: {"exact_match", "partial_match"}} for shortdep_cloze; otherwise
//                   {task: {"rouge-1", "rouge-2", "rouge-l"}} recall means (BLEU/METEOR/BERTScore not computed)
//   infinitebench:  {task: mean score in [0, 1]}
//   zero_scrolls:   {}  (no answers, no metric)
//   auto:           {scorer: <that scorer's output>} over the rows grouped by infer_scorer(task)
// kvpress scores one task per run for longbench/infinitebench (a bare number); we group by task instead.
// Throws Error for an unknown scorer, a task whose metric we do not implement, or mismatched sizes.
nlohmann::json score_predictions(std::string_view scorer, std::span<const TaskRecord> records,
                                 std::span<const std::string> predictions);

}  // namespace kvpress
