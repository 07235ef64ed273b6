// End-to-end `kvpress eval` on a tiny reference model: every output file with its schema, one prefill per
// context group, resume after an interruption giving the same metrics, refusals, NIAH heatmap, the CLI.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/jsonl_dataset.h"
#include "eval_rows.h"
#include "eval_runner.h"
#include "kvpress/engine.h"
#include "test_paths.h"
#include "xml_check.h"

namespace kvpress::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kModel = "reference/llama-gqa-Q8_0.gguf";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> lines_of(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

// A score as summary.md and leaderboard.md print it.
std::string two(const json& v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
  return buf;
}

// Everything but timings, which differ between runs.
json without_timings(json m) {
  m.erase("config");
  for (auto& e : m["results"])
    for (const char* k : {"prefill_ms_mean", "compression_ms_mean", "decode_ms_mean", "fidelity_ms_mean"}) e.erase(k);
  return m;
}

class EvalRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(testing::shared_dir() / kModel)) return;
    engine_ = new Engine(Engine::load((testing::shared_dir() / kModel).string(), {1}));  // tiny model: threads cost more than they give
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  void SetUp() override {
    KVPRESS_REQUIRE_SHARED(kModel);
    root_ = fs::temp_directory_path() /
            ("kvpress_eval_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }
  // 2 tasks x `samples` samples at 512 tokens; 2 presses x 2 ratios plus the baseline; short answers.
  EvalConfig tiny(const std::string& name, size_t samples = 2) const {
    EvalConfig c;
    c.model_path = (testing::shared_dir() / kModel).string();
    c.dataset = "ruler:niah_single_1,niah_single_3:512";
    c.presses = {"knorm", "streaming_llm"};
    c.ratios = {0.25, 0.5};
    c.samples = samples;
    c.max_new_tokens = 6;
    c.data_dir = testing::source_dir() / "data";
    c.out_dir = root_ / name;
    return c;
  }

  static Engine* engine_;
  fs::path root_;
};
Engine* EvalRun::engine_ = nullptr;

TEST_F(EvalRun, WritesEveryFileWithItsSchema) {
  const EvalConfig c = tiny("run");
  const EvalOutcome o = run_eval(c, *engine_);
  EXPECT_TRUE(o.complete);
  EXPECT_FALSE(o.interrupted);
  EXPECT_EQ(o.items_total, 4 * 5);  // 4 contexts x (no_press + 2 presses x 2 ratios)
  EXPECT_EQ(o.items_run, 20);
  EXPECT_EQ(o.rows_written, 20);
  for (const char* f : {kPredictionsFile, kMetricsFile, kSummaryFile, kConfigFile, kScorePlotFile, kFidelityPlotFile})
    EXPECT_TRUE(fs::exists(c.out_dir / f)) << f;
  EXPECT_FALSE(fs::exists(c.out_dir / kNiahHeatmapFile));

  // predictions.jsonl: one line per answer with every field.
  const auto lines = lines_of(c.out_dir / kPredictionsFile);
  ASSERT_EQ(lines.size(), 20u);
  std::map<std::string, int> per_run;
  for (const json& l : lines) {
    for (const char* k : {"sample", "task", "press", "ratio", "prediction", "gold", "score", "context_tokens",
                          "question_tokens", "kv_bytes", "kv_bytes_full", "answer_ids", "prefill_ms", "compression_ms",
                          "decode_ms", "fidelity_ms", "fidelity", "length", "needle_depth"})
      ASSERT_TRUE(l.contains(k)) << k << " missing in " << l.dump();
    EXPECT_TRUE(l["prediction"].is_string());
    EXPECT_TRUE(l["score"].is_number());
    EXPECT_GE(l["score"].get<double>(), 0.0);
    EXPECT_LE(l["score"].get<double>(), 100.0);
    EXPECT_EQ(l["length"], 512);
    EXPECT_LE(l["answer_ids"].size(), 6u);
    EXPECT_LE(l["context_tokens"].get<int64_t>() + l["question_tokens"].get<int64_t>(), 512 + 64);
    const double ratio = l["ratio"].get<double>();
    const auto full = l["kv_bytes_full"].get<int64_t>(), kept = l["kv_bytes"].get<int64_t>();
    EXPECT_EQ(full, l["context_tokens"].get<int64_t>() * engine_->kv_bytes_per_token());
    // Per (layer, head) int(T * (1 - ratio)) entries are kept.
    const int64_t T = l["context_tokens"].get<int64_t>();
    EXPECT_EQ(kept, (int64_t)((double)T * (1.0 - ratio)) * engine_->kv_bytes_per_token()) << l.dump();
    if (l["press"] == "no_press") {
      EXPECT_EQ(ratio, 0.0);
      EXPECT_TRUE(l["fidelity"].is_null());
    } else {
      ASSERT_TRUE(l["fidelity"].is_object());
      // The baseline's answer is forced: as many steps as it has tokens.
      EXPECT_GE(l["fidelity"]["kl_mean"].get<double>(), 0.0);
      EXPECT_GE(l["fidelity"]["top1_agreement"].get<double>(), 0.0);
      EXPECT_LE(l["fidelity"]["top1_agreement"].get<double>(), 1.0);
    }
    per_run[l["press"].get<std::string>() + "@" + ratio_key(ratio)]++;
  }
  EXPECT_EQ(per_run, (std::map<std::string, int>{
                         {"no_press@0", 4}, {"knorm@0.25", 4}, {"knorm@0.5", 4}, {"streaming_llm@0.25", 4},
                         {"streaming_llm@0.5", 4}}));
  // Fidelity forces the baseline answer of the same sample: n_steps = its token count.
  std::map<int64_t, size_t> base_len;
  for (const json& l : lines)
    if (l["press"] == "no_press") base_len[l["sample"].get<int64_t>()] = l["answer_ids"].size();
  for (const json& l : lines) {
    if (l["press"] == "no_press") continue;
    EXPECT_EQ(l["fidelity"]["n_steps"].get<size_t>(), base_len.at(l["sample"].get<int64_t>()));
  }

  // metrics.json: per press and ratio, per task, consistent with the lines.
  const json m = json::parse(slurp(c.out_dir / kMetricsFile));
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["scorer"], "ruler");
  EXPECT_EQ(m["config"]["dataset"], c.dataset);
  ASSERT_EQ(m["results"].size(), 5u);
  for (const json& e : m["results"]) {
    EXPECT_EQ(e["n"], 4);
    ASSERT_TRUE(e["tasks"].contains("niah_single_1"));
    ASSERT_TRUE(e["tasks"].contains("niah_single_3"));
    ASSERT_TRUE(e["kvpress_metrics"]["niah_single_3"].contains("string_match"));
    double sum = 0;
    int n = 0;
    for (const json& l : lines)
      if (l["press"] == e["press"] && ratio_key(l["ratio"]) == ratio_key(e["ratio"]) && l["task"] == "niah_single_3")
        sum += l["score"].get<double>(), ++n;
    EXPECT_NEAR(e["tasks"]["niah_single_3"]["score"].get<double>(), sum / n, 1e-9);
    EXPECT_NEAR(e["kvpress_metrics"]["niah_single_3"]["string_match"].get<double>(), sum / n, 0.005 + 1e-9);
    if (e["press"] == "no_press") {
      EXPECT_TRUE(e["fidelity"].is_null());
    } else {
      EXPECT_EQ(e["fidelity"]["n"], 4);
    }
  }
  // summary.md names every press and ratio; the plots are valid SVG with one series per press.
  const std::string summary = slurp(c.out_dir / kSummaryFile);
  for (const char* s : {"| press | 0.25 | 0.5 |", "knorm", "streaming_llm", "no_press (baseline, ratio 0)", "Fidelity",
                        "status: complete"})
    EXPECT_NE(summary.find(s), std::string::npos) << s << "\n" << summary;
  // The score table holds the metrics' values: "| knorm | <score@0.25> | <score@0.5> |".
  const std::string knorm_row = "| knorm | " + two(m["results"][1]["score"]) + " | " + two(m["results"][2]["score"]) + " |";
  EXPECT_NE(summary.find(knorm_row), std::string::npos) << knorm_row << "\n" << summary;
  const std::string base_row = "| no_press (baseline, ratio 0) | " + two(m["results"][0]["score"]) + " | ";
  EXPECT_NE(summary.find(base_row), std::string::npos) << base_row << "\n" << summary;
  std::vector<std::string> names;
  for (const auto& el : testing::XmlChecker::parse(slurp(c.out_dir / kScorePlotFile)))
    if (el.attributes.count("class") && el.attributes.at("class") == "series") names.push_back(el.attributes.at("data-series"));
  EXPECT_EQ(names, (std::vector<std::string>{"no_press", "knorm", "streaming_llm"}));
  EXPECT_NO_THROW(testing::XmlChecker::parse(slurp(c.out_dir / kFidelityPlotFile)));
}

TEST_F(EvalRun, ResumeAfterInterruptionGivesTheSameMetrics) {
  const EvalConfig whole = tiny("whole", 1);
  run_eval(whole, *engine_);

  EvalConfig part = tiny("part", 1);
  std::atomic<bool> stop{false};
  EvalHooks hooks;
  hooks.stop = &stop;
  hooks.on_progress = [&](const EvalProgress& p) { stop = p.done >= 4; };  // "Ctrl-C" during the 4th item
  const EvalOutcome first = run_eval(part, *engine_, hooks);
  EXPECT_TRUE(first.interrupted);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.items_run, 4);
  // The files of an interrupted run are valid and say so.
  const json partial = json::parse(slurp(part.out_dir / kMetricsFile));
  EXPECT_FALSE(partial["complete"].get<bool>());
  EXPECT_NE(slurp(part.out_dir / kSummaryFile).find("INCOMPLETE"), std::string::npos);
  EXPECT_NO_THROW(testing::XmlChecker::parse(slurp(part.out_dir / kScorePlotFile)));
  const size_t written = lines_of(part.out_dir / kPredictionsFile).size();
  EXPECT_EQ((int64_t)written, first.rows_written);
  {  // and a line cut short by a kill is dropped on resume
    std::ofstream out(part.out_dir / kPredictionsFile, std::ios::app);
    out << R"({"sample": 1, "task": "niah_single_3", "pre)";
  }

  // Without --resume the folder is refused; with different options too.
  EXPECT_THROW(run_eval(part, *engine_), Error);
  part.resume = true;
  EvalConfig other = part;
  other.seed = 7;
  EXPECT_THROW(run_eval(other, *engine_), Error);

  int64_t first_done = -1;
  hooks.on_progress = [&](const EvalProgress& p) {
    if (first_done < 0) first_done = p.done;
  };
  stop = false;
  const EvalOutcome second = run_eval(part, *engine_, hooks);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(first_done, second.items_skipped);
  EXPECT_EQ(second.items_skipped + second.items_run, 10);
  EXPECT_EQ((int64_t)written + second.rows_written, 10);
  EXPECT_EQ(second.warnings.size(), 1u);
  const auto lines = lines_of(part.out_dir / kPredictionsFile);  // parses: the broken tail is gone
  EXPECT_EQ(lines.size(), 10u);

  const json a = without_timings(json::parse(slurp(whole.out_dir / kMetricsFile)));
  const json b = without_timings(json::parse(slurp(part.out_dir / kMetricsFile)));
  EXPECT_EQ(a, b) << a.dump(1) << "\n---\n" << b.dump(1);
  // The answers themselves are identical, item by item.
  std::map<std::string, json> by_key;
  for (const json& l : lines_of(whole.out_dir / kPredictionsFile)) by_key[row_from_json(l).key()] = l;
  for (const json& l : lines) {
    const json& w = by_key.at(row_from_json(l).key());
    EXPECT_EQ(w["answer_ids"], l["answer_ids"]);
    EXPECT_EQ(w["fidelity"], l["fidelity"]);
  }
  // A second resume has nothing to do.
  const EvalOutcome third = run_eval(part, *engine_);
  EXPECT_EQ(third.items_run, 0);
  EXPECT_EQ(third.items_skipped, 10);
}

TEST_F(EvalRun, SharedContextIsPrefilledOnceAndQueryAwareCompressesTheQuestion) {
  // Two questions on one context (one prefill per press and ratio), one on another.
  auto record = [](std::string context, std::string question, std::string prefix, std::string answer) {
    TaskRecord r;
    r.context = std::move(context);
    r.question = std::move(question);
    r.answer_prefix = std::move(prefix);
    r.answers = {std::move(answer)};
    r.task = "passkey";
    r.max_new_tokens = 4;
    return r;
  };
  const std::string ctx = "The pass key is 4711. The grass is green. The sky is blue. The sun is yellow. Here we go.";
  const std::vector<TaskRecord> recs = {record(ctx, "What is the pass key?", "Answer:", "4711"),
                                        record(ctx, "What colour is the grass?", "Answer:", "green"),
                                        record("Another context: the number is 99.", "What is the number?", "Answer:", "99")};
  write_jsonl_records(root_ / "data.jsonl", recs);
  EvalConfig c = tiny("jsonl");
  c.dataset = "jsonl:" + (root_ / "data.jsonl").string();
  c.presses = {"knorm"};
  c.ratios = {0.5};
  c.samples.reset();
  c.max_new_tokens.reset();
  const EvalOutcome o = run_eval(c, *engine_);
  EXPECT_EQ(o.items_total, 2 * 2);  // 2 contexts x (baseline + knorm@0.5)
  const auto lines = lines_of(c.out_dir / kPredictionsFile);
  ASSERT_EQ(lines.size(), 6u);
  std::map<std::pair<std::string, int64_t>, json> by;
  for (const json& l : lines) by[{l["press"].get<std::string>(), l["sample"].get<int64_t>()}] = l;
  for (const std::string p : {"no_press", "knorm"}) {
    // The same session: identical prefill timing and cache, different questions.
    const json& q0 = by[std::make_pair(p, int64_t{0})];
    const json& q1 = by[std::make_pair(p, int64_t{1})];
    EXPECT_EQ(q0["prefill_ms"], q1["prefill_ms"]);
    EXPECT_EQ(q0["kv_bytes"], q1["kv_bytes"]);
    EXPECT_NE(q0["question_tokens"], q1["question_tokens"]);
    EXPECT_LE(q0["answer_ids"].size(), 4u);  // the record's max_new_tokens
  }
  const json m = json::parse(slurp(c.out_dir / kMetricsFile));
  EXPECT_EQ(m["scorer"], "auto");
  EXPECT_TRUE(m["results"][0]["kvpress_metrics"].contains("infinitebench"));

  EvalConfig q = c;
  q.out_dir = root_ / "query_aware";
  q.query_aware = true;
  run_eval(q, *engine_);
  const auto qa = lines_of(q.out_dir / kPredictionsFile);
  ASSERT_EQ(qa.size(), 6u);
  for (const json& l : qa) {
    const json& plain = by[{l["press"].get<std::string>(), l["sample"].get<int64_t>()}];
    // The question moved into the (compressed) context; what remains is the suffix and answer prefix.
    EXPECT_GT(l["context_tokens"].get<int64_t>(), plain["context_tokens"].get<int64_t>());
    EXPECT_LT(l["question_tokens"].get<int64_t>(), plain["question_tokens"].get<int64_t>());
  }
}

TEST_F(EvalRun, NiahHeatmap) {
  EvalConfig c = tiny("niah");
  c.dataset = "niah:400,500:0,50,100";
  c.presses = {"knorm"};
  c.ratios = {0.5};
  c.fidelity = false;  // no baseline unless listed
  const EvalOutcome o = run_eval(c, *engine_);
  EXPECT_EQ(o.items_total, 6);
  const json m = json::parse(slurp(c.out_dir / kMetricsFile));
  ASSERT_EQ(m["results"].size(), 1u);
  EXPECT_EQ(m["results"][0]["niah_grid"]["lengths"], json({400, 500}));
  EXPECT_EQ(m["results"][0]["niah_grid"]["depths"], json({0, 50, 100}));
  EXPECT_FALSE(fs::exists(c.out_dir / kFidelityPlotFile));
  int cells = 0, panels = 0;
  for (const auto& el : testing::XmlChecker::parse(slurp(c.out_dir / kNiahHeatmapFile))) {
    if (!el.attributes.count("class")) continue;
    cells += el.attributes.at("class") == "cell";
    panels += el.attributes.at("class") == "panel";
  }
  EXPECT_EQ(panels, 1);
  EXPECT_EQ(cells, 6);
}

TEST_F(EvalRun, CommandLineRunAndReport) {
  const fs::path a = root_ / "a", b = root_ / "b", merged = root_ / "merged";
  const std::string base = std::string(KVPRESS_BIN) + " eval --model " + (testing::shared_dir() / kModel).string() +
                           " --data-dir " + (testing::source_dir() / "data").string() +
                           " --dataset ruler:niah_single_2:512 --samples 1 --max-new-tokens 4 --threads 1";
  const std::string run_a = base + " --press knorm,snapkv:window_size=8,kernel_size=3 --compression-ratio 0.5 --out " +
                            a.string() + " > " + (root_ / "a.md").string() + " 2> " + (root_ / "a.err").string();
  ASSERT_EQ(std::system(run_a.c_str()), 0) << slurp(root_ / "a.err");
  // stdout holds the summary; stderr is not a terminal, so progress comes as whole lines.
  EXPECT_NE(slurp(root_ / "a.md").find("snapkv:window_size=8,kernel_size=3"), std::string::npos);
  EXPECT_NE(slurp(root_ / "a.err").find("2/3 (66%)"), std::string::npos) << slurp(root_ / "a.err");
  const std::string run_b = base + " --press tova --compression-ratio 0.25 --compression-ratio 0.5 --no-fidelity --out " +
                            b.string() + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(run_b.c_str()), 0);
  // Same folder again without --resume: a one-line error, exit 1.
  EXPECT_EQ(WEXITSTATUS(std::system((run_b).c_str())), 1);

  const std::string report = std::string(KVPRESS_BIN) + " eval --report " + a.string() + " " + b.string() +
                             " --out " + merged.string() + " > " + (root_ / "report.md").string() + " 2> " +
                             (root_ / "report.err").string();
  ASSERT_EQ(std::system(report.c_str()), 0) << slurp(root_ / "report.err");
  const std::string md = slurp(merged / "leaderboard.md");
  EXPECT_EQ(md, slurp(root_ / "report.md"));  // printed and written alike
  // tova ran at both ratios, knorm only at 0.5: its 0.25 cell is empty.
  for (const char* s : {"| press | 0.25 | 0.5 |", "| knorm | – | ", "no_press"})
    EXPECT_NE(md.find(s), std::string::npos) << s << "\n" << md;
  std::vector<std::string> names;
  for (const auto& el : testing::XmlChecker::parse(slurp(merged / kScorePlotFile)))
    if (el.attributes.count("class") && el.attributes.at("class") == "series") names.push_back(el.attributes.at("data-series"));
  EXPECT_EQ(names, (std::vector<std::string>{"no_press", "knorm", "snapkv:window_size=8,kernel_size=3", "tova"}));
  const json table = json::parse(slurp(merged / "leaderboard.json"));
  ASSERT_EQ(table["series"].size(), 4u);
  EXPECT_EQ(table["series"][3]["name"], "tova");
  ASSERT_EQ(table["series"][3]["points"].size(), 2u);
  EXPECT_TRUE(table["series"][3]["points"][1]["score"].is_number());
  const json& tova = table["series"][3]["points"];
  const std::string tova_row = "| tova | " + two(tova[0]["score"]) + " | " + two(tova[1]["score"]) + " |";
  EXPECT_NE(md.find(tova_row), std::string::npos) << tova_row << "\n" << md;
}

}  // namespace
}  // namespace kvpress::eval
