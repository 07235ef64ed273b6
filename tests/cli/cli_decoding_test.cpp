// Decoding presses and conversations from the command line: `generate --press` keeps the cache bounded
// and reports it, `answer --conversation` keeps every turn, and the combinations kvpress refuses fail
// with one line.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_paths.h"

namespace {

using kvpress::testing::CliRun;
using kvpress::testing::count_lines;
using kvpress::testing::ScratchDir;

CliRun run(const std::string& args) { return kvpress::testing::run_cli(args); }
std::string model() { return (kvpress::testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

TEST(CliDecoding, GenerateWithADecodingPressReportsTheBoundedPeak) {
  const std::string common = "generate --model " + model() + " --prompt 'The grass is green.' --max-new-tokens 300 --json";
  const CliRun full = run(common);
  const CliRun pressed = run(common + " --press decoding_knorm:target_size=64,compression_interval=16");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  ASSERT_EQ(pressed.exit_code, 0) << pressed.err;
  const auto f = nlohmann::json::parse(full.out), p = nlohmann::json::parse(pressed.out);
  EXPECT_EQ(f["generated_tokens"], 300);
  EXPECT_EQ(p["generated_tokens"], 300);
  EXPECT_EQ(p["peak_kv_entries_per_head"], 64 + 16);
  EXPECT_EQ(f["peak_kv_entries_per_head"], f["prompt_tokens"].get<int64_t>() + 299);
  EXPECT_LT(p["kv_bytes_peak"].get<int64_t>(), f["kv_bytes_peak"].get<int64_t>());
  EXPECT_EQ(p["press"], "decoding_knorm:target_size=64,compression_interval=16");
}

TEST(CliDecoding, ConversationKeepsTheTurnsAndRefusedCombinationsFail) {
  ScratchDir dir("cli_decoding");
  const std::string context = dir / "context.txt";
  {
    std::ofstream out(context);
    for (int i = 0; i < 30; ++i) out << "The grass is green. The sky is blue. The sun is yellow.\n";
  }
  const std::string base = "answer --model " + model() + " --context-file " + context +
                           " --question 'Sky?' --question 'Grass?' --max-new-tokens 5 --json";
  const CliRun chat = run(base + " --conversation");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  const auto j = nlohmann::json::parse(chat.out);
  EXPECT_EQ(j["answers"].size(), 2u);
  EXPECT_EQ(j["conversation"], true);
  // Both turns (questions and answers) stayed in the cache: its peak is past the context.
  EXPECT_GT(j["peak_kv_entries_per_head"].get<int64_t>(), j["context_tokens"].get<int64_t>() + 10);
  const CliRun separate = run(base);
  ASSERT_EQ(separate.exit_code, 0) << separate.err;
  EXPECT_EQ(nlohmann::json::parse(separate.out)["answers"][0], j["answers"][0]);  // the first turn is a plain ask

  for (const std::string& bad : {base + " --press decoding_knorm", base + " --conversation --query-aware",
                                 base + " --press decoding_knorm --compression-ratio 0.5"}) {
    SCOPED_TRACE(bad);
    const CliRun r = run(bad);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

}  // namespace
