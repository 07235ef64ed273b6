// predictions.jsonl rows: JSON round trip, tolerant reading for --resume, per-row scores and the
// aggregation into metrics.json.
#include "eval_rows.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "eval/metrics.h"
#include "eval/rouge.h"
#include "eval/scorer.h"
#include "eval/text_utils.h"

namespace kvpress::eval {
namespace {

using nlohmann::json;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json fidelity_to_json(const FidelityStats& f) {
  return {{"n_steps", f.n_steps},
          {"kl_mean", f.kl_mean},
          {"kl_max", f.kl_max},
          {"top1_agreement", f.top1_agreement},
          {"log_likelihood_ratio", f.log_likelihood_ratio}};
}

template <typename T>
T field(const json& j, const char* name) {
  if (!j.contains(name)) fail("prediction line: missing field '", name, "'");
  try {
    return j.at(name).get<T>();
  } catch (const json::exception&) {
    fail("prediction line: field '", name, "' has the wrong type (", j.at(name).dump(), ")");
  }
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / (double)v.size();
}

// The scorer of one row: a dataset's fixed scorer, or the task's under "auto".
std::string row_scorer(std::string_view scorer, const TaskRecord& record) {
  return scorer == "auto" ? infer_scorer(record.task) : std::string(scorer);
}

}  // namespace

std::string item_key(int64_t sample, std::string_view press, double ratio) {
  return std::to_string(sample) + "|" + std::string(press) + "|" + ratio_key(ratio);
}

std::string PredictionRow::key() const { return item_key(sample, press, ratio); }

json row_to_json(const PredictionRow& r) {
  return {{"sample", r.sample},
          {"task", r.task},
          {"press", r.press},
          {"ratio", r.ratio},
          {"prediction", r.prediction},
          {"gold", r.gold},
          {"score", optional_number(r.score)},
          {"context_tokens", r.context_tokens},
          {"question_tokens", r.question_tokens},
          {"kv_bytes", r.kv_bytes},
          {"kv_bytes_full", r.kv_bytes_full},
          {"answer_ids", r.answer_ids},
          {"prefill_ms", r.prefill_ms},
          {"compression_ms", r.compression_ms},
          {"decode_ms", r.decode_ms},
          {"fidelity_ms", r.fidelity_ms},
          {"fidelity", r.fidelity ? fidelity_to_json(*r.fidelity) : json(nullptr)},
          {"length", r.length},
          {"needle_depth", r.needle_depth}};
}

PredictionRow row_from_json(const json& j) {
  if (!j.is_object()) fail("prediction line: expected a JSON object");
  PredictionRow r;
  r.sample = field<int64_t>(j, "sample");
  r.task = field<std::string>(j, "task");
  r.press = field<std::string>(j, "press");
  r.ratio = field<double>(j, "ratio");
  r.prediction = field<std::string>(j, "prediction");
  r.gold = field<std::vector<std::string>>(j, "gold");
  if (!j.contains("score")) fail("prediction line: missing field 'score'");
  if (!j["score"].is_null()) r.score = field<double>(j, "score");
  r.context_tokens = field<int64_t>(j, "context_tokens");
  r.question_tokens = field<int64_t>(j, "question_tokens");
  r.kv_bytes = field<int64_t>(j, "kv_bytes");
  r.kv_bytes_full = field<int64_t>(j, "kv_bytes_full");
  r.answer_ids = field<std::vector<int32_t>>(j, "answer_ids");
  r.prefill_ms = field<double>(j, "prefill_ms");
  r.compression_ms = field<double>(j, "compression_ms");
  r.decode_ms = field<double>(j, "decode_ms");
  r.fidelity_ms = field<double>(j, "fidelity_ms");
  if (j.contains("fidelity") && !j["fidelity"].is_null()) {
    const json& f = j["fidelity"];
    FidelityStats s;
    s.n_steps = field<int64_t>(f, "n_steps");
    s.kl_mean = field<double>(f, "kl_mean");
    s.kl_max = field<double>(f, "kl_max");
    s.top1_agreement = field<double>(f, "top1_agreement");
    s.log_likelihood_ratio = field<double>(f, "log_likelihood_ratio");
    r.fidelity = s;
  }
  r.length = field<int>(j, "length");
  r.needle_depth = field<int>(j, "needle_depth");
  return r;
}

LoadedRows load_predictions(const std::filesystem::path& path) {
  LoadedRows out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!text::strip(line).empty()) lines.push_back(line);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < lines.size(); ++i) {
    PredictionRow row;
    try {
      row = row_from_json(json::parse(lines[i]));
    } catch (const std::exception& e) {
      if (i + 1 == lines.size()) {  // interrupted while writing the last line
        out.dropped_tail = true;
        break;
      }
      fail(path.string(), ":", i + 1, ": not a prediction line (", e.what(), ")");
    }
    auto [it, inserted] = index.emplace(row.key(), out.rows.size());
    if (inserted) {
      out.rows.push_back(std::move(row));
    } else {
      out.rows[it->second] = std::move(row);
    }
  }
  return out;
}

std::optional<double> row_score(std::string_view scorer, const TaskRecord& record, const std::string& prediction) {
  try {
    const std::string name = row_scorer(scorer, record);
    if (name == "ruler") {
      if (record.answers.empty()) return std::nullopt;
      const std::string pred = clean_ruler_prediction(prediction);
      const bool part = record.task == "qa" || record.task.rfind("qa_", 0) == 0;
      return 100.0 * (part ? string_match_part_row(pred, record.answers) : string_match_all_row(pred, record.answers));
    }
    if (name == "needle_in_haystack" || name == "niah") {
      std::string needle = record.needle.empty() && !record.answers.empty() ? record.answers.front() : record.needle;
      if (needle.empty()) return std::nullopt;
      return 100.0 * rouge_scores(text::strip(needle), text::strip(prediction)).rouge_1.f;
    }
    if (name == "zero_scrolls" || record.answers.empty()) return std::nullopt;
    const std::vector<std::string> preds = {prediction};
    const json out = score_predictions(name, std::span<const TaskRecord>(&record, 1), preds);
    const json& v = out.at(record.task);
    if (name == "longbench") return v.get<double>();
    if (name == "longbench-e") {
      for (const auto& [bucket, x] : v.items())
        if (!x.is_null()) return x.get<double>();
      return std::nullopt;
    }
    if (name == "loogle") return 100.0 * (v.contains("exact_match") ? v["exact_match"] : v["rouge-l"]).get<double>();
    if (name == "infinitebench") return 100.0 * v.get<double>();
  } catch (const std::exception&) {
    // A task without a metric we implement: the row stays unscored; metrics.json names the error.
  }
  return std::nullopt;
}

json compute_metrics(std::string_view dataset_spec, std::span<const TaskRecord> records,
                     std::span<const PredictionRow> rows, std::span<const PressRun> runs_in) {
  const std::string scorer = scorer_for_dataset(dataset_spec);
  const bool niah = dataset_spec.starts_with("niah:");
  // Runs in plan order, then any others found in the file (an earlier run with more presses).
  std::vector<PressRun> runs(runs_in.begin(), runs_in.end());
  for (const PredictionRow& r : rows) {
    const bool known = std::any_of(runs.begin(), runs.end(), [&](const PressRun& p) {
      return p.press == r.press && ratio_key(p.ratio) == ratio_key(r.ratio);
    });
    if (!known) runs.push_back({r.press, r.ratio});
  }

  json results = json::array();
  bool complete = true;
  for (const PressRun& run : runs) {
    std::vector<const PredictionRow*> mine;
    for (const PredictionRow& r : rows)
      if (r.press == run.press && ratio_key(r.ratio) == ratio_key(run.ratio)) mine.push_back(&r);
    std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->sample < b->sample; });
    complete = complete && mine.size() == records.size();
    if (mine.empty()) continue;

    std::vector<TaskRecord> recs;
    std::vector<std::string> preds;
    std::map<std::string, std::vector<double>> task_scores;
    std::vector<double> kl, kl_max, top1, llr, ctx, kv, kv_full, prefill, compress, decode, fid_ms;
    int64_t n_steps = 0;
    for (const PredictionRow* r : mine) {
      if (r->sample < 0 || r->sample >= (int64_t)records.size())
        fail("prediction of sample ", r->sample, " is outside the dataset's ", records.size(), " records");
      recs.push_back(records[(size_t)r->sample]);
      preds.push_back(r->prediction);
      if (r->score) task_scores[r->task].push_back(*r->score);
      if (r->fidelity) {
        llr.push_back(r->fidelity->log_likelihood_ratio);
        n_steps += r->fidelity->n_steps;
        if (r->fidelity->n_steps > 0) {
          kl.push_back(r->fidelity->kl_mean);
          kl_max.push_back(r->fidelity->kl_max);
          top1.push_back(r->fidelity->top1_agreement);
        }
      }
      ctx.push_back((double)r->context_tokens);
      kv.push_back((double)r->kv_bytes);
      kv_full.push_back((double)r->kv_bytes_full);
      prefill.push_back(r->prefill_ms);
      compress.push_back(r->compression_ms);
      decode.push_back(r->decode_ms);
      fid_ms.push_back(r->fidelity_ms);
    }
    json kvpress_metrics;
    try {
      kvpress_metrics = score_predictions(scorer, recs, preds);
    } catch (const Error& e) {
      kvpress_metrics = {{"error", e.what()}};
    }
    json tasks = json::object();
    std::vector<double> task_means;
    for (const auto& [task, scores] : task_scores) {
      tasks[task] = {{"score", mean(scores)}, {"n", scores.size()}};
      task_means.push_back(mean(scores));
    }
    json entry = {
        {"press", run.press},
        {"ratio", run.ratio},
        {"n", mine.size()},
        {"n_expected", records.size()},
        {"complete", mine.size() == records.size()},
        {"score", task_means.empty() ? json(nullptr) : json(mean(task_means))},
        {"tasks", tasks},
        {"kvpress_metrics", kvpress_metrics},
        {"fidelity", nullptr},
        {"context_tokens_mean", mean(ctx)},
        {"kv_bytes_mean", mean(kv)},
        {"kv_bytes_full_mean", mean(kv_full)},
        {"kv_kept_fraction", mean(kv_full) > 0 ? mean(kv) / mean(kv_full) : 0.0},
        {"prefill_ms_mean", mean(prefill)},
        {"compression_ms_mean", mean(compress)},
        {"decode_ms_mean", mean(decode)},
        {"fidelity_ms_mean", mean(fid_ms)},
    };
    if (!llr.empty()) {
      entry["fidelity"] = {{"n", llr.size()},
                           {"n_steps", n_steps},
                           {"kl_mean", mean(kl)},
                           {"kl_max", kl_max.empty() ? 0.0 : *std::max_element(kl_max.begin(), kl_max.end())},
                           {"top1_agreement", top1.empty() ? 1.0 : mean(top1)},
                           {"log_likelihood_ratio_mean", mean(llr)}};
    }
    if (niah) {
      std::set<int> lengths, depths;
      std::map<std::pair<int, int>, std::vector<double>> cells;  // (depth, length) -> scores
      for (const PredictionRow* r : mine) {
        lengths.insert(r->length);
        depths.insert(r->needle_depth);
        if (r->score) cells[{r->needle_depth, r->length}].push_back(*r->score);
      }
      json grid = json::array();
      for (int d : depths) {
        json line = json::array();
        for (int l : lengths) {
          auto it = cells.find({d, l});
          line.push_back(it == cells.end() ? json(nullptr) : json(mean(it->second)));
        }
        grid.push_back(line);
      }
      entry["niah_grid"] = {{"lengths", lengths}, {"depths", depths}, {"scores", grid}};
    }
    results.push_back(entry);
  }
  return {{"dataset", dataset_spec}, {"scorer", scorer}, {"n_records", records.size()},
          {"complete", complete},     {"results", results}};
}

}  // namespace kvpress::eval
