// The evaluation loop: group rows by context, prefill once per (press, ratio), answer, score, measure
// fidelity against the uncompressed run, append one flushed line per answer.
#include "eval_runner.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>

#include "core/error.h"
#include "eval/scorer.h"
#include "eval_report.h"
#include "eval_rows.h"
#include "kvpress/session.h"
#include "pipeline/fidelity.h"
#include "svg_plot.h"

namespace kvpress::eval {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Rows sharing one prefill: kvpress groups by identical context (we also split on the answer prefix,
// which kvpress asserts is equal inside a group). Query-aware: every row alone, question in the context.
struct Unit {
  std::string context;
  std::string answer_prefix;
  std::vector<size_t> records;
  std::vector<std::string> questions;
  std::string question_in_context;  // query-aware: appended to the context by the session
};

std::vector<Unit> make_units(const std::vector<TaskRecord>& records, bool query_aware) {
  std::vector<Unit> units;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (size_t i = 0; i < records.size(); ++i) {
    const TaskRecord& r = records[i];
    if (query_aware) {
      units.push_back({r.context, r.answer_prefix, {i}, {""}, r.question});
      continue;
    }
    auto [it, inserted] = index.emplace(std::make_pair(r.context, r.answer_prefix), units.size());
    if (inserted) units.push_back({r.context, r.answer_prefix, {}, {}});
    units[it->second].records.push_back(i);
    units[it->second].questions.push_back(r.question);
  }
  return units;
}

std::string dump_line(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

class LineWriter {
 public:
  explicit LineWriter(const std::filesystem::path& path) : out_(path, std::ios::binary | std::ios::app) {
    if (!out_) fail(path.string(), ": cannot open for appending");
    path_ = path.string();
  }
  void write(const PredictionRow& row) {
    out_ << dump_line(row_to_json(row)) << '\n';
    out_.flush();  // a finished answer survives an interruption
    if (!out_) fail(path_, ": write failed");
  }

 private:
  std::ofstream out_;
  std::string path_;
};

bool has_results(const std::filesystem::path& dir) {
  return std::filesystem::exists(dir / kPredictionsFile) || std::filesystem::exists(dir / kMetricsFile);
}

}  // namespace

nlohmann::json write_outputs(const EvalConfig& config, const std::vector<TaskRecord>& records,
                             const std::vector<PressRun>& runs) {
  const auto& dir = config.out_dir;
  const LoadedRows loaded = load_predictions(dir / kPredictionsFile);
  nlohmann::json metrics = compute_metrics(config.dataset, records, loaded.rows, runs);
  metrics["config"] = config_to_json(config);
  write_file_atomic(dir / kMetricsFile, metrics.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  write_file_atomic(dir / kSummaryFile, summary_markdown(metrics));
  write_file_atomic(dir / kScorePlotFile, score_plot_svg({metrics}, {""}));
  if (has_fidelity(metrics)) write_file_atomic(dir / kFidelityPlotFile, kl_plot_svg({metrics}, {""}));
  if (config.dataset.starts_with("niah:")) write_file_atomic(dir / kNiahHeatmapFile, niah_heatmap_from_metrics(metrics));
  return metrics;
}

EvalOutcome run_eval(const EvalConfig& config_in, const Engine& engine, const EvalHooks& hooks) {
  const auto t_start = Clock::now();
  // Recorded as used: a model without a chat template gets plain prompts whatever the option says.
  EvalConfig config = config_in;
  config.use_chat_template = config_in.use_chat_template && engine.info().has_chat_template;
  if (config.out_dir.empty()) fail("--out: an output folder is required");
  if (config.max_context_length && *config.max_context_length <= 0) fail("--max-context-length must be positive");
  if (config.max_new_tokens && *config.max_new_tokens < 0) fail("--max-new-tokens must be >= 0");
  const std::vector<PressRun> runs = plan_runs(config);
  const std::string scorer = scorer_for_dataset(config.dataset);
  const auto& dir = config.out_dir;
  const nlohmann::json config_json = config_to_json(config);

  EvalOutcome outcome;
  std::set<std::string> done;
  std::map<std::string, std::vector<int32_t>> baseline_ids;  // item key of the baseline row -> its answer
  if (has_results(dir)) {
    if (!config.resume)
      fail("--out ", dir.string(), " already holds results; pass --resume to continue that run or choose another folder");
    if (!std::filesystem::exists(dir / kConfigFile))
      fail("--resume: ", (dir / kConfigFile).string(), " is missing, so the earlier options are unknown");
    std::ifstream in(dir / kConfigFile);
    nlohmann::json previous;
    try {
      previous = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail((dir / kConfigFile).string(), ": not valid JSON (", e.what(), ")");
    }
    check_resume_compatible(previous, config_json);
    LoadedRows loaded = load_predictions(dir / kPredictionsFile);
    if (loaded.dropped_tail) {
      // Rewrite without the broken line so appended lines start on a fresh line.
      std::string text;
      for (const auto& r : loaded.rows) text += dump_line(row_to_json(r)) + "\n";
      write_file_atomic(dir / kPredictionsFile, text);
      outcome.warnings.push_back("dropped an incomplete last line of predictions.jsonl (interrupted write)");
    }
    for (const auto& r : loaded.rows) {
      done.insert(r.key());
      if (r.press == kNoPress) baseline_ids[r.key()] = r.answer_ids;
    }
  }
  // A bad dataset fails before the folder and config.json exist.
  const std::vector<TaskRecord> records = load_eval_dataset(config, engine);
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / kConfigFile, config_json.dump(2) + "\n");
  for (const auto& r : done) {
    const int64_t sample = std::stoll(r.substr(0, r.find('|')));
    if (sample >= (int64_t)records.size())
      fail("--resume: predictions.jsonl has sample ", sample, " but the dataset has ", records.size(), " records");
  }
  const std::vector<Unit> units = make_units(records, config.query_aware);
  outcome.items_total = (int64_t)(units.size() * runs.size());

  EvalProgress progress;
  progress.total = outcome.items_total;
  auto pending = [&](const Unit& u, const PressRun& run) {
    return std::any_of(u.records.begin(), u.records.end(),
                       [&](size_t i) { return !done.count(item_key((int64_t)i, run.press, run.ratio)); });
  };
  for (const Unit& u : units)
    for (const PressRun& run : runs) progress.skipped += !pending(u, run);
  progress.done = outcome.items_skipped = progress.skipped;
  if (hooks.on_progress) hooks.on_progress(progress);
  auto finish_item = [&](const PressRun& run, size_t unit_index) {
    ++outcome.items_run;
    ++progress.done;
    progress.elapsed_s = std::chrono::duration<double>(Clock::now() - t_start).count();
    progress.current = run.press + "@" + ratio_key(run.ratio) + " context " + std::to_string(unit_index + 1) + "/" +
                       std::to_string(units.size());
    if (hooks.on_progress) hooks.on_progress(progress);
    return hooks.stop && hooks.stop->load();
  };

  LineWriter writer(dir / kPredictionsFile);
  const int64_t n_ctx = engine.info().n_ctx_train;
  int64_t n_over_context = 0;  // contexts longer than the model's context_length (one warning at the end)
  const int64_t n_vocab = engine.info().n_vocab;
  SessionOptions session_options;
  session_options.kv_types = config.kv_types;
  session_options.max_context_length = config.max_context_length;
  session_options.use_chat_template = config.use_chat_template;
  try {
    for (size_t ui = 0; ui < units.size() && !outcome.interrupted; ++ui) {
      const Unit& u = units[ui];
      std::vector<const PressRun*> todo;
      for (const PressRun& run : runs)
        if (pending(u, run)) todo.push_back(&run);
      if (todo.empty()) continue;

      // Every session of the unit prompts the same context: its warnings are told once.
      bool unit_seen = false;
      auto open_session = [&](const PressConfig& press) {
        SessionOptions o = session_options;
        o.prefill_chunk = press.is_none() ? 0 : config.prefill_chunk;  // only compressed runs read in chunks
        o.question_in_context = u.question_in_context;
        Session s = Session::from_text(engine, u.context, press, o);
        if (!unit_seen) {
          for (const std::string& w : s.warnings())
            if (w.starts_with("context truncated"))
              outcome.warnings.push_back("sample " + std::to_string(u.records.front()) + ": " + w);
          if (n_ctx > 0 && s.stats().context_tokens > n_ctx) ++n_over_context;
          unit_seen = true;
        }
        return s;
      };
      auto ask_options = [&](size_t k) {
        AskOptions ask;
        const int rec_max = records[u.records[k]].max_new_tokens;
        ask.answer_prefix = u.answer_prefix;
        ask.max_new_tokens = config.max_new_tokens.value_or(rec_max > 0 ? rec_max : 128);
        return ask;
      };
      auto base_row = [&](size_t k, const PressRun& run, const Session& s) {
        const TaskRecord& rec = records[u.records[k]];
        const PrefillStats& stats = s.stats();
        PredictionRow row;
        row.sample = (int64_t)u.records[k];
        row.task = rec.task;
        row.press = run.press;
        row.ratio = run.ratio;
        row.gold = rec.answers;
        row.context_tokens = stats.context_tokens;
        row.kv_bytes = stats.kv_bytes;
        row.kv_bytes_full = stats.kv_bytes_full;
        row.prefill_ms = stats.prefill_ms;
        row.compression_ms = stats.compression_ms;
        row.length = rec.length;
        row.needle_depth = rec.needle_depth;
        return row;
      };
      auto answer_into = [&](PredictionRow& row, size_t k, Session& s) {
        const Answer a = s.ask(u.questions[k], ask_options(k));
        row.question_tokens = a.question_tokens;
        row.decode_ms = a.decode_ms;
        row.answer_ids = a.ids;
        row.prediction = a.text;
        row.score = row_score(scorer, records[u.records[k]], row.prediction);
      };

      // The uncompressed run: the baseline rows and, for fidelity, the log-probabilities of its answers.
      const bool baseline_todo = todo.front()->is_baseline();
      const bool fidelity_todo = config.fidelity && todo.size() > (baseline_todo ? 1u : 0u);
      std::vector<std::vector<float>> full_lp(u.records.size());
      std::vector<std::vector<int32_t>> answers(u.records.size());
      if (baseline_todo || fidelity_todo) {
        Session full = open_session(PressConfig());
        for (size_t k = 0; k < u.records.size(); ++k) {
          const std::string key = item_key((int64_t)u.records[k], kNoPress, 0.0);
          if (done.count(key)) {
            answers[k] = baseline_ids.at(key);
            continue;
          }
          PredictionRow row = base_row(k, *todo.front(), full);
          answer_into(row, k, full);
          answers[k] = row.answer_ids;
          writer.write(row);
          ++outcome.rows_written;
          done.insert(key);
        }
        if (fidelity_todo)
          for (size_t k = 0; k < u.records.size(); ++k)
            full_lp[k] = full.answer_log_probs(u.questions[k], u.answer_prefix, answers[k]);
        if (baseline_todo && finish_item(*todo.front(), ui)) {
          outcome.interrupted = true;
          break;
        }
      }

      for (const PressRun* run : todo) {
        if (run->is_baseline()) continue;
        const PressConfig press = PressConfig::from_spec(run->press, run->ratio);
        // A press compressing while decoding changes the context's cache as it answers: a fresh
        // prefill per question (kvpress allows one question per decoding press), no teacher forcing.
        const bool per_question = press.compresses_while_decoding();
        std::optional<Session> shared;
        if (!per_question) shared.emplace(open_session(press));
        for (size_t k = 0; k < u.records.size(); ++k) {
          const std::string key = item_key((int64_t)u.records[k], run->press, run->ratio);
          if (done.count(key)) continue;
          std::optional<Session> own;
          if (per_question) own.emplace(open_session(press));
          Session& s = per_question ? *own : *shared;
          PredictionRow row = base_row(k, *run, s);
          answer_into(row, k, s);
          if (config.fidelity && !per_question) {
            const auto t0 = Clock::now();
            const std::vector<float> lp = s.answer_log_probs(u.questions[k], u.answer_prefix, answers[k]);
            row.fidelity = compare_log_probs(full_lp[k], lp, answers[k], n_vocab);
            row.fidelity_ms = ms_since(t0);
          }
          writer.write(row);
          ++outcome.rows_written;
          done.insert(key);
        }
        if (finish_item(*run, ui)) {
          outcome.interrupted = true;
          break;
        }
      }
    }
  } catch (...) {
    write_outputs(config, records, runs);  // what finished stays usable
    throw;
  }
  if (n_over_context > 0)
    outcome.warnings.push_back(std::to_string(n_over_context) + " of " + std::to_string(units.size()) +
                               " contexts are longer than the model's context_length of " + std::to_string(n_ctx) +
                               " tokens (--max-context-length " + std::to_string(n_ctx) + " truncates them)");
  outcome.metrics = write_outputs(config, records, runs);
  outcome.complete = outcome.metrics.value("complete", false);
  return outcome;
}

}  // namespace kvpress::eval
