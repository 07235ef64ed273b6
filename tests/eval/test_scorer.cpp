// The scorer dispatcher: metric choice per dataset/task and the shape of the returned metrics.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/scorer.h"

namespace kvpress {
namespace {

TaskRecord rec(std::string task, std::vector<std::string> answers) {
  TaskRecord r;
  r.task = std::move(task);
  r.answers = std::move(answers);
  return r;
}

TEST(Scorer, RulerGroupsByTaskAndUsesPartForQa) {
  const std::vector<TaskRecord> records = {rec("niah_multivalue", {"111", "222"}), rec("niah_multivalue", {"333", "444"}),
                                           rec("qa_1", {"Paris", "paris, france"}), rec("vt", {"AAAAA"})};
  // Row 1: 1 of 2 found, row 2: 2 of 2 -> 75.00. qa_1: any -> 100. vt: the control characters are
  // deleted by the cleaning, so "AA\x01AAA" becomes "AAAAA" -> 100.
  const std::vector<std::string> preds = {" 111 and 999", "444, 333\n", "It is PARIS.", "AA\x01" "AAA"};
  const nlohmann::json m = score_predictions("ruler", records, preds);
  EXPECT_DOUBLE_EQ(m["niah_multivalue"]["string_match"].get<double>(), 75.0);
  EXPECT_DOUBLE_EQ(m["qa_1"]["string_match"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(m["vt"]["string_match"].get<double>(), 100.0);
  EXPECT_EQ(m.size(), 3u);
}

TEST(Scorer, NeedleInHaystackReturnsOneRougeDictPerRow) {
  TaskRecord r = rec("niah", {"x"});
  r.needle = "\nthe cat sat on the mat\n";
  const std::vector<TaskRecord> records = {r, r};
  const std::vector<std::string> preds = {" the cat is on the mat ", ""};
  const nlohmann::json m = score_predictions("needle_in_haystack", records, preds);
  ASSERT_TRUE(m.is_array());
  ASSERT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(m[0]["rouge-1"]["r"].get<double>(), 0.8);  // see test_rouge.cpp
  EXPECT_DOUBLE_EQ(m[0]["rouge-2"]["p"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(m[1]["rouge-l"]["f"].get<double>(), 0.0);  // empty prediction
  EXPECT_EQ(score_predictions("niah", records, preds), m);
}

TEST(Scorer, LongBenchTakesBestAnswerAndFirstLineForTrec) {
  std::vector<TaskRecord> records = {rec("hotpotqa", {"dog", "the cat"}), rec("hotpotqa", {"x"}),
                                     rec("trec", {"HUM"}), rec("passage_count", {"3"})};
  records[2].all_classes = {"HUM", "LOC"};
  // hotpotqa: row 1 best F1 1.0 ("cat"), row 2 0 -> 50.00. trec: first line "HUM" only -> 100 (the LOC
  // on the second line is cut). passage_count: digit runs [3, 4] -> 50.00.
  const std::vector<std::string> preds = {"  Cat", "y", "\n HUM\nLOC", "3 or 4"};
  const nlohmann::json m = score_predictions("longbench", records, preds);
  EXPECT_DOUBLE_EQ(m["hotpotqa"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(m["trec"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(m["passage_count"].get<double>(), 50.0);
  EXPECT_THROW(score_predictions("longbench", std::vector<TaskRecord>{rec("lcc", {"x"})}, std::vector<std::string>{"x"}), Error);
}

TEST(Scorer, LongBenchEBucketsByLength) {
  std::vector<TaskRecord> records = {rec("hotpotqa-e", {"x b"}), rec("hotpotqa-e", {"c"}), rec("hotpotqa-e", {"d"})};
  records[0].length = 100;
  records[1].length = 5000;
  records[2].length = 9000;
  // Row 1: pred "b" vs "x b": p 1, r 1/2 -> f1 2/3. Rows 2/3: 1 and 0. One row per bucket.
  const std::vector<std::string> preds = {"b", "c", "x"};
  const nlohmann::json m = score_predictions("longbench-e", records, preds);
  EXPECT_DOUBLE_EQ(m["hotpotqa-e"]["0-4k"].get<double>(), 66.67);
  EXPECT_DOUBLE_EQ(m["hotpotqa-e"]["4-8k"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(m["hotpotqa-e"]["8k+"].get<double>(), 0.0);
}

TEST(Scorer, LoogleAndInfiniteBench) {
  const std::vector<TaskRecord> loogle = {rec("shortdep_cloze", {"{'<mask-0>': 'Bob Smith', '<mask-1>': 'Paris'}"}),
                                          rec("shortdep_cloze", {"{'<mask-0>': 'Ann'}"})};
  const std::vector<std::string> lp = {"{'<mask-0>': 'Bob', '<mask-1>': 'Paris'}", "Ann"};
  // exact: (1 + 0) / (2 + 1) = 0.3333; partial: (2 + 0) / (2 + 1) = 0.6667.
  const nlohmann::json l = score_predictions("loogle", loogle, lp);
  EXPECT_DOUBLE_EQ(l["shortdep_cloze"]["exact_match"].get<double>(), 0.3333);
  EXPECT_DOUBLE_EQ(l["shortdep_cloze"]["partial_match"].get<double>(), 0.6667);

  const std::vector<TaskRecord> ib = {rec("passkey", {"123"}), rec("passkey", {"456"}), rec("kv_retrieval", {"k-1"})};
  const std::vector<std::string> ip = {"It is 123.", "45 6", "{k-1}"};
  const nlohmann::json i = score_predictions("infinitebench", ib, ip);
  EXPECT_DOUBLE_EQ(i["passkey"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(i["kv_retrieval"].get<double>(), 1.0);
  EXPECT_THROW(score_predictions("infinitebench", std::vector<TaskRecord>{rec("math_calc", {"1"})}, std::vector<std::string>{"1"}),
               Error);
}

TEST(Scorer, AutoInfersTheBenchmarkPerTask) {
  EXPECT_EQ(infer_scorer("niah_single_2"), "ruler");
  EXPECT_EQ(infer_scorer("cwe"), "ruler");
  EXPECT_EQ(infer_scorer("qa_2"), "ruler");
  EXPECT_EQ(infer_scorer("niah"), "needle_in_haystack");
  EXPECT_EQ(infer_scorer("narrativeqa"), "longbench");
  EXPECT_EQ(infer_scorer("trec-e"), "longbench-e");
  EXPECT_EQ(infer_scorer("shortdep_cloze"), "loogle");
  EXPECT_EQ(infer_scorer("passkey"), "infinitebench");
  EXPECT_THROW(infer_scorer("jsonl"), Error);
  EXPECT_EQ(scorer_for_dataset("ruler:all:4k"), "ruler");
  EXPECT_EQ(scorer_for_dataset("niah:4k:50"), "needle_in_haystack");
  EXPECT_EQ(scorer_for_dataset("jsonl:/x:y.jsonl"), "auto");

  const std::vector<TaskRecord> records = {rec("vt", {"ABCDE"}), rec("passkey", {"9"})};
  const std::vector<std::string> preds = {"abcde", "9"};
  const nlohmann::json m = score_predictions("auto", records, preds);
  EXPECT_DOUBLE_EQ(m["ruler"]["vt"]["string_match"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(m["infinitebench"]["passkey"].get<double>(), 1.0);
}

TEST(Scorer, RejectsUnknownNamesAndSizeMismatch) {
  const std::vector<TaskRecord> records = {rec("vt", {"A"})};
  EXPECT_THROW(score_predictions("squad", records, std::vector<std::string>{"A"}), Error);
  EXPECT_THROW(score_predictions("ruler", records, std::vector<std::string>{}), Error);
  EXPECT_EQ(score_predictions("zero_scrolls", records, std::vector<std::string>{"A"}), nlohmann::json::object());
}

}  // namespace
}  // namespace kvpress
