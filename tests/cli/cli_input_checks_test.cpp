// Options that used to do nothing silently, arguments of the wrong kind, error messages naming the right
// thing, and failed commands that leave no file behind.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_paths.h"

namespace kvpress::testing {
namespace {

namespace fs = std::filesystem;

std::string shipped_model() { return (source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

// A failed command: non-zero exit, one line on stderr holding `needle`, nothing on stdout.
void expect_one_line_error(const std::string& args, const std::string& needle) {
  SCOPED_TRACE(args);
  const CliRun r = run_cli(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 240u) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

class CliInputs : public ::testing::Test {
 protected:
  CliInputs() : dir_("inputs") { std::ofstream(dir_ / "ctx.txt") << "The grass is green. The sky is blue."; }
  std::string answer(const std::string& rest) const {
    return "answer --model " + shipped_model() + " --context-file " + dir_ / "ctx.txt" + " " + rest;
  }
  ScratchDir dir_;
};

TEST_F(CliInputs, RatioWithoutPressAndPressWithoutRatioAreErrors) {
  expect_one_line_error(answer("--question Q --compression-ratio 0.5"), "without --press");
  expect_one_line_error(answer("--question Q --press knorm"), "needs --compression-ratio");
}

TEST_F(CliInputs, OutOfRangeCountsAndSeedsAreRejected) {
  const std::string ev = "eval --model " + shipped_model() + " --dataset ruler:niah_single_1:512 --press knorm "
                         "--compression-ratio 0.5 --out " + dir_ / "ev";
  expect_one_line_error(ev + " --samples 0", "--samples");
  expect_one_line_error(ev + " --max-new-tokens -1", "--max-new-tokens");
  expect_one_line_error("generate --model " + shipped_model() + " --prompt hi --seed -1", "--seed");
  expect_one_line_error(answer("--max-new-tokens -1"), "'-1' is below 0");
  EXPECT_FALSE(fs::exists(dir_ / "ev"));
}

TEST_F(CliInputs, DirectoriesAreNotTextFiles) {
  expect_one_line_error("answer --model " + shipped_model() + " --context-file " + dir_.path().string() +
                            " --question Q",
                        "is a directory");
  expect_one_line_error("inspect --model " + shipped_model() + " --text-file " + dir_.path().string() +
                            " --press knorm --compression-ratio 0.5",
                        "is a directory");
  expect_one_line_error("tokenize --model " + shipped_model() + " --text-file " + dir_.path().string(),
                        "is a directory");
}

TEST_F(CliInputs, MessagesNameTheOptionAtFault) {
  expect_one_line_error("bench -m " + shipped_model() + " --context-lengths abc", "--context-lengths");
  expect_one_line_error("inspect --model " + shipped_model() + " --tokens '' --press knorm --compression-ratio 0.5",
                        "--tokens is empty");
}

// The shipped model with its tensor count raised from the true value: the directory runs into the data.
TEST_F(CliInputs, TensorCountBeyondTheFileSaysTheCountAndSizeDisagree) {
  std::string bytes = slurp(shipped_model());
  ASSERT_GT(bytes.size(), 16u);
  const uint64_t n_tensors = 225;  // the real file has fewer
  bytes.replace(8, 8, reinterpret_cast<const char*>(&n_tensors), 8);  // header: magic, version, tensor count
  std::ofstream(dir_ / "bad.gguf", std::ios::binary) << bytes;
  expect_one_line_error("info --model " + dir_ / "bad.gguf", "tensor count and the file size");
}

TEST_F(CliInputs, FailedCommandsLeaveNoFiles) {
  const std::string out = dir_ / "records.jsonl";
  // 64 tokens cannot hold a niah_single_2 sample: the generator fails after the file would have been opened.
  const CliRun r = run_cli("ruler-gen --model " + shipped_model() + " --tasks niah_single_2 --length 64 --out " + out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(out)) << r.err;
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  const std::string ev = dir_ / "ev";
  const CliRun e = run_cli("eval --model " + shipped_model() + " --dataset ruler:no_such_task:512 --press knorm "
                           "--compression-ratio 0.5 --out " + ev);
  EXPECT_NE(e.exit_code, 0);
  EXPECT_FALSE(fs::exists(fs::path(ev) / "config.json")) << e.err;
}

TEST_F(CliInputs, AnswerWithoutQuestionSaysItContinuesTheContext) {
  const CliRun r = run_cli(answer("--max-new-tokens 2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("no --question"), std::string::npos) << r.err;
}

// --prefill-chunk bounds what any head holds: (1 - r) * T + N, plus the question and answer tokens.
TEST_F(CliInputs, ChunkedPrefillBoundsPeakEntries) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Line " + std::to_string(i) + ": the grass is green and the sky is blue. ";
  std::ofstream(dir_ / "long.txt") << text;
  const std::string base = "answer --model " + shipped_model() + " --context-file " + dir_ / "long.txt" +
                           " --question 'What colour is the sky?' --max-new-tokens 3 --press knorm "
                           "--compression-ratio 0.5 --json";
  const CliRun whole = run_cli(base), chunked = run_cli(base + " --prefill-chunk 64");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ASSERT_EQ(chunked.exit_code, 0) << chunked.err;
  const auto w = nlohmann::json::parse(whole.out), c = nlohmann::json::parse(chunked.out);
  const int64_t T = c["context_tokens"];
  ASSERT_GT(T, 400);
  EXPECT_EQ(c["prefill_chunk"], 64);
  EXPECT_EQ(w["peak_kv_entries_per_head"], T);  // a whole prefill holds one full layer
  EXPECT_LE(c["peak_kv_entries_per_head"].get<int64_t>(), T / 2 + 64 + 30) << chunked.out;
  EXPECT_EQ(c["kv_bytes"], w["kv_bytes"]);  // the same number of entries is kept in the end
  EXPECT_LT(c["kv_bytes_peak"].get<int64_t>(), w["kv_bytes_peak"].get<int64_t>());
  expect_one_line_error(base + " --prefill-chunk -5", "--prefill-chunk");
}

TEST_F(CliInputs, PaperNamesAreAliases) {
  const CliRun r = run_cli("presses");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* name : {"h2o", "streamingllm", "ada_snapkv"}) EXPECT_NE(r.out.find(name), std::string::npos) << name;
  // h2o keeps exactly what observed_attention keeps.
  const std::string tokens = "1,400,401,402,403,404,405,406,407,408,409,410,411,412,413,414";
  const std::string inspect = "inspect --model " + shipped_model() + " --tokens " + tokens + " --compression-ratio 0.5 --press ";
  const CliRun h2o = run_cli(inspect + "h2o"), observed = run_cli(inspect + "observed_attention");
  ASSERT_EQ(h2o.exit_code, 0) << h2o.err;
  EXPECT_EQ(nlohmann::json::parse(h2o.out)["layers"], nlohmann::json::parse(observed.out)["layers"]);
}

}  // namespace
}  // namespace kvpress::testing
