// JSON-lines datasets: field forms and defaults, file:line errors for malformed lines, round trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/jsonl_dataset.h"

namespace kvpress {
namespace {

std::string error_of(std::string_view text) {
  try {
    parse_jsonl_records(text, "data.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonlDataset, ReadsFieldsAndDefaults) {
  const std::string text =
      "\xEF\xBB\xBF{\"context\": \"C1\", \"question\": \"Q1\", \"answer_prefix\": \"A:\", \"answers\": [\"x\", \"y\"], "
      "\"task\": \"niah_single_1\", \"max_new_tokens\": 16}\r\n"
      "\n"
      "{\"context\": \"C2\", \"answer\": \"only\"}\n"
      "   \n"
      "{\"context\": \"C3\", \"answer\": [7, \"z\"], \"max_new_tokens\": 32.0, \"all_classes\": [\"a\", \"b\"], "
      "\"length\": 5000, \"needle\": \"N\", \"needle_depth\": 50, \"unknown\": {\"ignored\": true}}\n"
      "{\"context\": \"C4\", \"answers\": null, \"question\": null}";
  const std::vector<TaskRecord> r = parse_jsonl_records(text, "good.jsonl");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].context, "C1");
  EXPECT_EQ(r[0].question, "Q1");
  EXPECT_EQ(r[0].answer_prefix, "A:");
  EXPECT_EQ(r[0].answers, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r[0].task, "niah_single_1");
  EXPECT_EQ(r[0].max_new_tokens, 16);
  // Defaults: empty question/prefix, task "jsonl", 128 new tokens.
  EXPECT_EQ(r[1].question, "");
  EXPECT_EQ(r[1].answer_prefix, "");
  EXPECT_EQ(r[1].answers, (std::vector<std::string>{"only"}));
  EXPECT_EQ(r[1].task, kJsonlDefaultTask);
  EXPECT_EQ(r[1].max_new_tokens, kJsonlDefaultMaxNewTokens);
  EXPECT_EQ(r[1].needle_depth, -1);
  EXPECT_EQ(r[2].answers, (std::vector<std::string>{"7", "z"}));
  EXPECT_EQ(r[2].max_new_tokens, 32);
  EXPECT_EQ(r[2].all_classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r[2].length, 5000);
  EXPECT_EQ(r[2].needle, "N");
  EXPECT_EQ(r[2].needle_depth, 50);
  EXPECT_TRUE(r[3].answers.empty());
  EXPECT_EQ(r[3].question, "");
}

TEST(JsonlDataset, MalformedLinesNameFileAndLine) {
  const std::string ok = "{\"context\": \"c\"}\n";
  EXPECT_NE(error_of(ok + ok + "{\"context\": \"c\"\n").find("data.jsonl:3: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(ok + "{\"question\": \"q\"}").find("data.jsonl:2: missing required field 'context'"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("data.jsonl:1: expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{\"context\": 5}").find("data.jsonl:1: field 'context' must be a string"), std::string::npos);
  EXPECT_NE(error_of(ok + "\n{\"context\": \"c\", \"question\": 1}").find("data.jsonl:3: field 'question'"), std::string::npos);
  EXPECT_NE(error_of("{\"context\": \"c\", \"answers\": [{\"a\": 1}]}").find("field 'answers' must hold strings"),
            std::string::npos);
  EXPECT_NE(error_of("{\"context\": \"c\", \"max_new_tokens\": \"12\"}").find("field 'max_new_tokens' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of("{\"context\": \"c\", \"max_new_tokens\": 0}").find("data.jsonl:1: field 'max_new_tokens'"),
            std::string::npos);
  EXPECT_NE(error_of("{\"context\": \"c\", \"max_new_tokens\": 1.5}").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("{\"context\": \"c\", \"all_classes\": \"a\"}").find("field 'all_classes'"), std::string::npos);
  // Found by fuzz_jsonl: a number too large for a double is nlohmann's out_of_range, not a parse_error,
  // and escaped as an uncaught exception.
  EXPECT_NE(error_of(ok + "{\"context\": \"c\", \"length\": 1e310}").find("data.jsonl:2: invalid JSON"), std::string::npos);
}

TEST(JsonlDataset, NegativeNeedleDepthRoundTrips) {
  // Found by fuzz_jsonl's round-trip check: a depth below -1 was read but not written back.
  const auto r = parse_jsonl_records("{\"context\": \"c\", \"needle_depth\": -5}", "x.jsonl");
  ASSERT_EQ(r.size(), 1u);
  const auto back = parse_jsonl_records(to_jsonl_line(r[0]), "back.jsonl");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].needle_depth, -5);
}

TEST(JsonlDataset, RoundTripThroughAFile) {
  TaskRecord a;
  a.context = "line one\nline \"two\" \xC3\xA9";
  a.question = "Q?";
  a.answer_prefix = "Answer:";
  a.answers = {"x", "y"};
  a.task = "vt";
  a.max_new_tokens = 30;
  TaskRecord b = a;
  b.needle = "needle";
  b.needle_depth = 0;
  b.length = 4096;
  b.all_classes = {"c1"};
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "kvpress_eval_roundtrip.jsonl";
  write_jsonl_records(path, {a, b});
  const std::vector<TaskRecord> back = load_jsonl_records(path);
  std::filesystem::remove(path);
  ASSERT_EQ(back.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const TaskRecord& want = i == 0 ? a : b;
    EXPECT_EQ(back[i].context, want.context);
    EXPECT_EQ(back[i].question, want.question);
    EXPECT_EQ(back[i].answer_prefix, want.answer_prefix);
    EXPECT_EQ(back[i].answers, want.answers);
    EXPECT_EQ(back[i].task, want.task);
    EXPECT_EQ(back[i].max_new_tokens, want.max_new_tokens);
    EXPECT_EQ(back[i].needle, want.needle);
    EXPECT_EQ(back[i].needle_depth, want.needle_depth);
    EXPECT_EQ(back[i].length, want.length);
    EXPECT_EQ(back[i].all_classes, want.all_classes);
  }
  EXPECT_THROW(load_jsonl_records(path), Error);  // gone now
}

}  // namespace
}  // namespace kvpress
