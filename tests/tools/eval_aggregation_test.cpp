// The runner's aggregation on hand-made predictions: per-row scores, per-task and average scores, the
// kvpress-shaped metrics, fidelity means, cache sizes, the NIAH grid, and predictions.jsonl reading.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval_rows.h"

namespace kvpress::eval {
namespace {

TaskRecord rec(std::string task, std::vector<std::string> answers) {
  TaskRecord r;
  r.context = "ctx";
  r.task = std::move(task);
  r.answers = std::move(answers);
  return r;
}

PredictionRow row(int64_t sample, const std::vector<TaskRecord>& recs, std::string press, double ratio,
                  std::string prediction) {
  PredictionRow r;
  r.sample = sample;
  r.task = recs[(size_t)sample].task;
  r.press = std::move(press);
  r.ratio = ratio;
  r.prediction = std::move(prediction);
  r.gold = recs[(size_t)sample].answers;
  r.score = row_score("ruler", recs[(size_t)sample], r.prediction);
  r.context_tokens = 100;
  r.kv_bytes_full = 200;
  r.kv_bytes = r.press == "no_press" ? 200 : 100;
  return r;
}

const std::vector<TaskRecord> kRuler = {rec("niah_single_1", {"1234"}), rec("niah_single_1", {"5678"}),
                                        rec("vt", {"X", "Y", "Z", "W"}), rec("qa_1", {"paris", "Paris city"})};

TEST(EvalAggregation, RowScores) {
  EXPECT_DOUBLE_EQ(*row_score("ruler", kRuler[0], " The number is 1234.\n"), 100.0);
  EXPECT_DOUBLE_EQ(*row_score("ruler", kRuler[1], "none"), 0.0);
  EXPECT_DOUBLE_EQ(*row_score("ruler", kRuler[2], "x and y"), 50.0);       // all: 2 of 4, case-insensitive
  EXPECT_DOUBLE_EQ(*row_score("ruler", kRuler[3], "I think PARIS"), 100.0);  // qa: part (any reference)
  EXPECT_FALSE(row_score("ruler", rec("vt", {}), "x"));                       // nothing to compare with

  TaskRecord niah = rec("niah", {"unused"});
  niah.needle = "\nThe best thing is a sandwich.\n";
  // ROUGE-1 F with p = r = 1: 2pr / (p + r + 1e-8).
  EXPECT_NEAR(*row_score("needle_in_haystack", niah, "The best thing is a sandwich."), 100 * 2 / (2 + 1e-8), 1e-9);
  EXPECT_DOUBLE_EQ(*row_score("needle_in_haystack", niah, "zzz"), 0.0);
  // auto: the scorer follows the task name.
  EXPECT_DOUBLE_EQ(*row_score("auto", rec("passage_count", {"3"}), "3"), 100.0);
  EXPECT_DOUBLE_EQ(*row_score("auto", rec("passkey", {"12345"}), "The key is 12345."), 100.0);
  EXPECT_DOUBLE_EQ(*row_score("auto", rec("passkey", {"12345"}), "The key is 1234."), 0.0);
  EXPECT_DOUBLE_EQ(*row_score("auto", rec("niah_single_2", {"77"}), "77"), 100.0);
  EXPECT_FALSE(row_score("auto", rec("jsonl", {"a"}), "a"));  // unknown task: no metric
  EXPECT_FALSE(row_score("zero_scrolls", rec("gov_report", {}), "a"));
}

TEST(EvalAggregation, PerTaskPerPressPerRatio) {
  std::vector<PredictionRow> rows;
  for (int64_t i = 0; i < 4; ++i) {
    std::string all;  // every reference: a perfect answer
    for (const auto& a : kRuler[(size_t)i].answers) all += a + " ";
    rows.push_back(row(i, kRuler, "no_press", 0.0, all));
  }
  const char* preds[] = {" The number is 1234.\n", "none", "x and y", "I think PARIS"};
  for (int64_t i = 0; i < 4; ++i) rows.push_back(row(i, kRuler, "knorm", 0.5, preds[i]));
  rows.push_back(row(2, kRuler, "knorm", 0.25, "X Y Z W"));  // an incomplete run: 1 of 4 rows
  // Fidelity: two rows with steps, one empty answer (LLR only), one without measurement.
  rows[4].fidelity = FidelityStats{4, 0.1, 0.3, 0.75, -1.0};
  rows[5].fidelity = FidelityStats{2, 0.3, 0.5, 0.5, -3.0};
  rows[6].fidelity = FidelityStats{0, 0.0, 0.0, 1.0, 0.0};
  rows[4].kv_bytes = 50;
  rows[5].kv_bytes = 50;

  const std::vector<PressRun> runs = {{"no_press", 0.0}, {"knorm", 0.25}, {"knorm", 0.5}};
  const auto m = compute_metrics("ruler:niah_single_1,vt:4k", kRuler, rows, runs);
  EXPECT_EQ(m["scorer"], "ruler");
  EXPECT_EQ(m["n_records"], 4);
  EXPECT_FALSE(m["complete"].get<bool>());
  const auto& res = m["results"];
  ASSERT_EQ(res.size(), 3u);

  const auto& base = res[0];
  EXPECT_EQ(base["press"], "no_press");
  EXPECT_TRUE(base["complete"].get<bool>());
  EXPECT_DOUBLE_EQ(base["score"].get<double>(), 100.0);
  EXPECT_TRUE(base["fidelity"].is_null());
  EXPECT_DOUBLE_EQ(base["kv_kept_fraction"].get<double>(), 1.0);

  const auto& quarter = res[1];  // plan order: 0.25 before 0.5
  EXPECT_EQ(quarter["ratio"], 0.25);
  EXPECT_EQ(quarter["n"], 1);
  EXPECT_FALSE(quarter["complete"].get<bool>());
  EXPECT_DOUBLE_EQ(quarter["score"].get<double>(), 100.0);
  EXPECT_EQ(quarter["kvpress_metrics"], nlohmann::json({{"vt", {{"string_match", 100.0}}}}));

  const auto& half = res[2];
  EXPECT_EQ(half["n"], 4);
  EXPECT_TRUE(half["complete"].get<bool>());
  EXPECT_DOUBLE_EQ(half["tasks"]["niah_single_1"]["score"].get<double>(), 50.0);
  EXPECT_EQ(half["tasks"]["niah_single_1"]["n"], 2);
  EXPECT_DOUBLE_EQ(half["tasks"]["vt"]["score"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(half["tasks"]["qa_1"]["score"].get<double>(), 100.0);
  EXPECT_NEAR(half["score"].get<double>(), 200.0 / 3.0, 1e-12);  // mean over the three tasks
  // kvpress's scorer on the same rows: string_match_all for niah/vt, string_match_part for qa.
  EXPECT_EQ(half["kvpress_metrics"], nlohmann::json({{"niah_single_1", {{"string_match", 50.0}}},
                                                     {"qa_1", {{"string_match", 100.0}}},
                                                     {"vt", {{"string_match", 50.0}}}}));
  const auto& f = half["fidelity"];
  EXPECT_EQ(f["n"], 3);
  EXPECT_EQ(f["n_steps"], 6);
  EXPECT_NEAR(f["kl_mean"].get<double>(), 0.2, 1e-12);  // rows with steps only
  EXPECT_DOUBLE_EQ(f["kl_max"].get<double>(), 0.5);
  EXPECT_NEAR(f["top1_agreement"].get<double>(), 0.625, 1e-12);
  EXPECT_NEAR(f["log_likelihood_ratio_mean"].get<double>(), -4.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(half["kv_bytes_mean"].get<double>(), 75.0);
  EXPECT_DOUBLE_EQ(half["kv_kept_fraction"].get<double>(), 0.375);
  EXPECT_DOUBLE_EQ(half["context_tokens_mean"].get<double>(), 100.0);

  // A run found in the file but not in the plan is reported after the plan's runs.
  rows.push_back(row(0, kRuler, "tova", 0.5, "1234"));
  const auto m2 = compute_metrics("ruler:niah_single_1:4k", kRuler, rows, runs);
  ASSERT_EQ(m2["results"].size(), 4u);
  EXPECT_EQ(m2["results"][3]["press"], "tova");
  // A sample outside the dataset is an error, not a silent skip.
  rows.push_back(row(0, kRuler, "tova", 0.25, "1234"));
  rows.back().sample = 9;
  EXPECT_THROW(compute_metrics("ruler:vt:4k", kRuler, rows, runs), Error);
}

TEST(EvalAggregation, NiahGrid) {
  std::vector<TaskRecord> recs;
  std::vector<PredictionRow> rows;
  const int lengths[] = {256, 512}, depths[] = {0, 50};
  for (int l : lengths)
    for (int d : depths) {
      TaskRecord r = rec("niah", {"a sandwich"});
      r.needle = "eat a sandwich";
      r.length = l;
      r.needle_depth = d;
      recs.push_back(r);
    }
  for (size_t i = 0; i < recs.size(); ++i) {
    PredictionRow p;
    p.sample = (int64_t)i;
    p.task = "niah";
    p.press = "knorm";
    p.ratio = 0.5;
    p.prediction = i == 3 ? "nothing" : "eat a sandwich";
    p.score = row_score("needle_in_haystack", recs[i], p.prediction);
    p.length = recs[i].length;
    p.needle_depth = recs[i].needle_depth;
    if (i != 1) rows.push_back(p);  // (256, 50) missing
  }
  const auto m = compute_metrics("niah:256,512:0,50", recs, rows, std::vector<PressRun>{{"knorm", 0.5}});
  const auto& g = m["results"][0]["niah_grid"];
  EXPECT_EQ(g["lengths"], nlohmann::json({256, 512}));
  EXPECT_EQ(g["depths"], nlohmann::json({0, 50}));
  EXPECT_NEAR(g["scores"][0][0].get<double>(), 100.0, 1e-5);  // depth 0, length 256
  EXPECT_TRUE(g["scores"][1][0].is_null());                   // depth 50, length 256: no row
  EXPECT_DOUBLE_EQ(g["scores"][1][1].get<double>(), 0.0);     // depth 50, length 512: wrong answer
  EXPECT_TRUE(m["results"][0]["kvpress_metrics"].is_array());  // kvpress returns the per-row rouge list
  EXPECT_EQ(m["results"][0]["kvpress_metrics"].size(), 3u);
}

TEST(EvalAggregation, PredictionFileRoundTripAndTolerance) {
  const auto dir = std::filesystem::temp_directory_path() / ("kvpress_eval_rows_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "predictions.jsonl";
  PredictionRow a = row(0, kRuler, "knorm", 0.5, "caf\xc3\xa9 \"1234\"\n");
  a.answer_ids = {5, 6, 7};
  a.fidelity = FidelityStats{3, 0.5, 1.5, 2.0 / 3.0, -0.25};
  a.length = 4096;
  PredictionRow b = row(1, kRuler, "no_press", 0.0, "x");
  PredictionRow b2 = b;
  b2.prediction = "y";  // a later duplicate of the same item wins
  {
    std::ofstream out(path);
    out << row_to_json(a).dump() << "\n" << row_to_json(b).dump() << "\n\n" << row_to_json(b2).dump() << "\n"
        << R"({"sample": 2, "task": "v)";  // killed while writing
  }
  LoadedRows loaded = load_predictions(path);
  EXPECT_TRUE(loaded.dropped_tail);
  ASSERT_EQ(loaded.rows.size(), 2u);
  const PredictionRow& ra = loaded.rows[0];
  EXPECT_EQ(ra.prediction, a.prediction);
  EXPECT_EQ(ra.answer_ids, a.answer_ids);
  EXPECT_EQ(ra.score, a.score);
  ASSERT_TRUE(ra.fidelity);
  EXPECT_EQ(ra.fidelity->kl_max, 1.5);
  EXPECT_EQ(ra.fidelity->top1_agreement, 2.0 / 3.0);
  EXPECT_EQ(ra.length, 4096);
  EXPECT_EQ(ra.key(), a.key());
  EXPECT_EQ(loaded.rows[1].prediction, "y");
  EXPECT_FALSE(loaded.rows[1].fidelity);

  {  // a broken line in the middle is not an interruption: refuse
    std::ofstream out(path);
    out << "{not json}\n" << row_to_json(a).dump() << "\n";
  }
  EXPECT_THROW(load_predictions(path), Error);
  EXPECT_TRUE(load_predictions(dir / "absent.jsonl").rows.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kvpress::eval
