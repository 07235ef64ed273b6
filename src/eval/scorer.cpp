// The scorer registry: groups rows by task and applies each benchmark's metric as kvpress does.
#include "eval/scorer.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "eval/metrics.h"
#include "eval/rouge.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

using nlohmann::json;

struct Row {
  const TaskRecord* record;
  const std::string* prediction;
};

// Rows grouped by task, tasks in sorted order (pandas groupby).
std::map<std::string, std::vector<Row>> by_task(const std::vector<Row>& rows) {
  std::map<std::string, std::vector<Row>> groups;
  for (const Row& r : rows) groups[r.record->task].push_back(r);
  return groups;
}

constexpr std::string_view kLongBenchQaF1[] = {"narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa",
                                               "musique", "triviaqa"};
constexpr std::string_view kLongBenchRouge[] = {"gov_report", "qmsum", "multi_news", "samsum"};
constexpr std::string_view kLongBenchUnsupported[] = {"multifieldqa_zh", "dureader", "vcsum", "lcc", "repobench-p"};
constexpr std::string_view kLongBenchOther[] = {"trec", "lsht", "passage_retrieval_en", "passage_retrieval_zh",
                                                "passage_count"};
constexpr std::string_view kLoogleTasks[] = {"shortdep_qa", "longdep_qa", "shortdep_cloze", "longdep_summarization"};
constexpr std::string_view kInfiniteBenchTasks[] = {"kv_retrieval", "kv_retrieval_prefix", "kv_retrieval_both",
                                                    "passkey", "number_string", "code_run", "code_debug",
                                                    "longdialogue_qa_eng", "longbook_qa_eng", "longbook_choice_eng",
                                                    "longbook_qa_chn", "math_find", "math_calc", "longbook_sum_eng"};

template <std::size_t N>
bool in(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

bool is_longbench(std::string_view t) {
  return in(kLongBenchQaF1, t) || in(kLongBenchRouge, t) || in(kLongBenchUnsupported, t) || in(kLongBenchOther, t);
}

// One LongBench row score: max over ground truths of dataset2metric[task](prediction, gt).
double longbench_metric(std::string_view task, std::string_view prediction, const std::string& gt,
                        const TaskRecord& record) {
  if (in(kLongBenchQaF1, task)) return qa_f1_score(prediction, gt);
  if (in(kLongBenchRouge, task)) return rouge_l_f_score(prediction, gt);
  if (task == "trec" || task == "lsht") return classification_score(prediction, gt, record.all_classes);
  if (task == "passage_retrieval_en") return retrieval_score(prediction, gt);
  if (task == "passage_retrieval_zh") return retrieval_zh_score(prediction, gt);
  if (task == "passage_count") return count_score(prediction, gt);
  fail("LongBench metric for '", task, "' is not implemented (Chinese jieba metrics and code similarity are not ported)");
}

bool first_line_task(std::string_view t) { return t == "trec" || t == "triviaqa" || t == "samsum" || t == "lsht"; }

double longbench_row(std::string_view task, const Row& row, bool e_variant) {
  std::string pred = *row.prediction;
  if (e_variant) {
    // scorer_e: prediction.lstrip("\n").split("\n")[0], no further lstrip.
    if (first_line_task(task)) {
      pred.erase(0, pred.find_first_not_of('\n') == std::string::npos ? pred.size() : pred.find_first_not_of('\n'));
      pred = pred.substr(0, pred.find('\n'));
    }
  } else {
    if (first_line_task(task)) pred = text::lstrip(pred).substr(0, text::lstrip(pred).find('\n'));
    pred = text::lstrip(pred);
  }
  double score = 0;
  for (const std::string& gt : row.record->answers) score = std::max(score, longbench_metric(task, pred, gt, *row.record));
  return score;
}

json score_ruler(const std::vector<Row>& rows) {
  json out = json::object();
  for (const auto& [task, group] : by_task(rows)) {
    std::vector<std::string> preds;
    std::vector<std::vector<std::string>> refs;
    for (const Row& r : group) {
      preds.push_back(clean_ruler_prediction(*r.prediction));
      refs.push_back(r.record->answers);
    }
    const bool part = task.rfind("qa", 0) == 0;  // task.split("_")[0] == "qa"
    const bool qa_family = part && (task.size() == 2 || task[2] == '_');
    out[task] = {{"string_match", qa_family ? string_match_part(preds, refs) : string_match_all(preds, refs)}};
  }
  return out;
}

json rouge_json(const RougeScore& s) { return {{"r", s.r}, {"p", s.p}, {"f", s.f}}; }

json score_niah(const std::vector<Row>& rows) {
  json out = json::array();
  for (const Row& r : rows) {
    std::string needle = r.record->needle;
    if (needle.empty() && !r.record->answers.empty()) needle = r.record->answers.front();
    if (needle.empty()) fail("needle_in_haystack scorer: record of task '", r.record->task, "' has no needle");
    const RougeScores s = rouge_scores(text::strip(needle), text::strip(*r.prediction));
    out.push_back({{"rouge-1", rouge_json(s.rouge_1)}, {"rouge-2", rouge_json(s.rouge_2)}, {"rouge-l", rouge_json(s.rouge_l)}});
  }
  return out;
}

json score_longbench(const std::vector<Row>& rows, bool e_variant) {
  json out = json::object();
  for (const auto& [task_name, group] : by_task(rows)) {
    std::string task = task_name;
    if (e_variant && task.size() > 2 && task.ends_with("-e")) task.resize(task.size() - 2);
    if (!is_longbench(task)) fail("'", task_name, "' is not a LongBench dataset name");
    if (!e_variant) {
      double total = 0;
      for (const Row& r : group) total += longbench_row(task, r, false);
      out[task_name] = text::py_round(100 * total / static_cast<double>(group.size()), 2);
      continue;
    }
    std::map<std::string, std::vector<double>> buckets{{"0-4k", {}}, {"4-8k", {}}, {"8k+", {}}};
    for (const Row& r : group) {
      const int len = r.record->length;
      buckets[len < 4000 ? "0-4k" : len < 8000 ? "4-8k" : "8k+"].push_back(longbench_row(task, r, true));
    }
    json b = json::object();
    for (const auto& [name, scores] : buckets) {
      if (scores.empty()) {
        b[name] = nullptr;  // numpy's mean of nothing is nan
        continue;
      }
      double sum = 0;
      for (double s : scores) sum += s;
      b[name] = text::py_round(100 * (sum / static_cast<double>(scores.size())), 2);
    }
    out[task_name] = b;
  }
  return out;
}

const std::string& first_answer(const Row& r) {
  if (r.record->answers.empty()) fail("record of task '", r.record->task, "' has no answer");
  return r.record->answers.front();
}

json score_loogle(const std::vector<Row>& rows) {
  json out = json::object();
  for (const auto& [task, group] : by_task(rows)) {
    if (task == "shortdep_cloze") {
      long long em = 0, em_n = 0, pm = 0, pm_n = 0;
      for (const Row& r : group) {
        const MatchCount e = loogle_exact_match(first_answer(r), *r.prediction);
        const MatchCount p = loogle_partial_match(first_answer(r), *r.prediction);
        em += e.matched, em_n += e.total, pm += p.matched, pm_n += p.total;
      }
      out[task] = {{"exact_match", text::py_round(static_cast<double>(em) / static_cast<double>(em_n), 4)},
                   {"partial_match", text::py_round(static_cast<double>(pm) / static_cast<double>(pm_n), 4)}};
      continue;
    }
    double r1 = 0, r2 = 0, rl = 0;
    for (const Row& r : group) {
      const RougeScores s = rouge_scores(*r.prediction, first_answer(r));  // hyps = prediction, refs = answer
      r1 += s.rouge_1.r, r2 += s.rouge_2.r, rl += s.rouge_l.r;
    }
    const auto n = static_cast<double>(group.size());
    out[task] = {{"rouge-1", r1 / n}, {"rouge-2", r2 / n}, {"rouge-l", rl / n}};
  }
  return out;
}

double infinitebench_row(std::string_view task, const Row& r) {
  const std::string& pred = *r.prediction;
  const auto& labels = r.record->answers;
  if (task == "kv_retrieval" || task == "kv_retrieval_prefix" || task == "kv_retrieval_both")
    return infinitebench_kv_retrieval(pred, first_answer(r)) ? 1.0 : 0.0;
  if (task == "passkey" || task == "number_string") return infinitebench_passkey(pred, first_answer(r)) ? 1.0 : 0.0;
  if (task == "code_run") return infinitebench_code_run(pred, first_answer(r)) ? 1.0 : 0.0;
  if (task == "longdialogue_qa_eng") return infinitebench_longdialogue(pred, labels) ? 1.0 : 0.0;
  if (task == "longbook_qa_eng") return infinitebench_qa_f1(pred, labels);
  fail("InfiniteBench metric for '", task, "' is not implemented");
}

json score_infinitebench(const std::vector<Row>& rows) {
  json out = json::object();
  for (const auto& [task, group] : by_task(rows)) {
    double sum = 0;
    for (const Row& r : group) sum += infinitebench_row(task, r);
    out[task] = sum / static_cast<double>(group.size());
  }
  return out;
}

json score_rows(std::string_view scorer, const std::vector<Row>& rows);

json score_auto(const std::vector<Row>& rows) {
  std::map<std::string, std::vector<Row>> groups;
  for (const Row& r : rows) groups[infer_scorer(r.record->task)].push_back(r);
  json out = json::object();
  for (const auto& [name, group] : groups) out[name] = score_rows(name, group);
  return out;
}

json score_rows(std::string_view scorer, const std::vector<Row>& rows) {
  if (scorer == "ruler") return score_ruler(rows);
  if (scorer == "needle_in_haystack" || scorer == "niah") return score_niah(rows);
  if (scorer == "longbench") return score_longbench(rows, false);
  if (scorer == "longbench-e") return score_longbench(rows, true);
  if (scorer == "loogle") return score_loogle(rows);
  if (scorer == "infinitebench") return score_infinitebench(rows);
  if (scorer == "zero_scrolls") return json::object();
  if (scorer == "auto") return score_auto(rows);
  std::string valid;
  for (std::string_view n : scorer_names()) valid += (valid.empty() ? "" : ", ") + std::string(n);
  fail("unknown scorer '", scorer, "' (expected one of: ", valid, ")");
}

}  // namespace

const std::vector<std::string_view>& scorer_names() {
  static const std::vector<std::string_view> names = {"ruler", "needle_in_haystack", "niah", "longbench", "longbench-e",
                                                      "loogle", "infinitebench", "zero_scrolls", "auto"};
  return names;
}

std::string infer_scorer(std::string_view task) {
  if (task == "niah") return "needle_in_haystack";
  if (task.starts_with("niah_") || task == "vt" || task == "cwe" || task == "fwe" || task.starts_with("qa_"))
    return "ruler";
  if (is_longbench(task)) return "longbench";
  if (task.ends_with("-e") && is_longbench(task.substr(0, task.size() - 2))) return "longbench-e";
  if (in(kLoogleTasks, task)) return "loogle";
  if (in(kInfiniteBenchTasks, task)) return "infinitebench";
  fail("cannot tell which benchmark task '", task, "' belongs to; name a scorer explicitly");
}

std::string scorer_for_dataset(std::string_view spec) {
  const std::string_view kind = spec.substr(0, spec.find(':'));
  if (kind == "ruler") return "ruler";
  if (kind == "niah") return "needle_in_haystack";
  if (kind == "jsonl") return "auto";
  fail("unknown dataset kind '", kind, "' in '", spec, "' (expected ruler:, niah: or jsonl:)");
}

nlohmann::json score_predictions(std::string_view scorer, std::span<const TaskRecord> records,
                                 std::span<const std::string> predictions) {
  if (records.size() != predictions.size())
    fail("scorer ", scorer, ": ", predictions.size(), " predictions for ", records.size(), " records");
  std::vector<Row> rows;
  rows.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) rows.push_back({&records[i], &predictions[i]});
  if (rows.empty() && scorer != "zero_scrolls") fail("scorer ", scorer, ": no records to score");
  return score_rows(scorer, rows);
}

}  // namespace kvpress
