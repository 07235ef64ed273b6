// `kvpress compress` and `kvpress answer --cache`: the saved cache answers as prefilling again does, the
// options that would be ignored are refused, and damaged files or failed writes give one-line errors.
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;
using kvpress::testing::CliRun;
using kvpress::testing::count_lines;
using kvpress::testing::ScratchDir;

CliRun run(const std::string& args) { return kvpress::testing::run_cli(args); }

std::string model() { return (kvpress::testing::source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

std::string write_context(const ScratchDir& dir) {
  const std::string path = dir / "context.txt";
  std::ofstream out(path);
  out << "A special magic number is hidden within the following text.\n";
  for (int i = 0; i < 8; ++i) out << "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  out << "One of the special magic numbers for quiet-river is: 4417290.\n";
  for (int i = 0; i < 8; ++i) out << "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  return path;
}

const std::string kQuestions = " --question 'What is the special magic number for quiet-river?' --question 'Sky?'"
                               " --max-new-tokens 10";

TEST(CliCache, CompressThenAnswerFromTheCacheGivesTheAnswersOfAPrefill) {
  ScratchDir dir("cli_cache");
  const std::string context = write_context(dir), cache = dir / "ctx.kvc";
  for (const std::string& shape : std::vector<std::string>{" --press snapkv --compression-ratio 0.5 --kv-type q8_0",
                                  " --press expected_attention --compression-ratio 0.5 --kv-type-k q4_0"}) {
    SCOPED_TRACE(shape);
    const CliRun c = run("compress --model " + model() + " --context-file " + context + shape + " --out " + cache);
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_EQ(count_lines(c.out), 1u) << c.out;
    EXPECT_NE(c.out.find(std::to_string(fs::file_size(cache)) + " file bytes"), std::string::npos) << c.out;
    const CliRun from_cache = run("answer --model " + model() + " --cache " + cache + kQuestions);
    const CliRun prefilled = run("answer --model " + model() + " --context-file " + context + shape + kQuestions);
    ASSERT_EQ(from_cache.exit_code, 0) << from_cache.err;
    ASSERT_EQ(prefilled.exit_code, 0) << prefilled.err;
    EXPECT_EQ(count_lines(from_cache.out), 2u);
    EXPECT_EQ(from_cache.out, prefilled.out);
  }
}

TEST(CliCache, AnswerJsonFromTheCacheReportsTheFileAndTheSameFields) {
  ScratchDir dir("cli_cache_json");
  const std::string context = write_context(dir), cache = dir / "ctx.kvc";
  const std::string shape = " --press knorm --compression-ratio 0.5 --kv-type bf16";
  ASSERT_EQ(run("compress --model " + model() + " --context-file " + context + shape + " --out " + cache).exit_code, 0);
  const CliRun a = run("answer --model " + model() + " --cache " + cache + kQuestions + " --json");
  const CliRun b = run("answer --model " + model() + " --context-file " + context + shape + kQuestions + " --json");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  for (const auto& [key, value] : jb.items()) EXPECT_TRUE(ja.contains(key)) << key;
  for (const char* key : {"answers", "press", "compression_ratio", "kv_type_k", "kv_type_v", "context_tokens",
                          "kv_bytes", "kv_bytes_full", "generated_tokens"})
    EXPECT_EQ(ja[key], jb[key]) << key;
  EXPECT_EQ(ja["prefill_ms"], 0.0);
  EXPECT_EQ(ja["cache"], cache);
}

TEST(CliCache, OptionsTheFileAlreadyFixesAreRefusedWithCache) {
  ScratchDir dir("cli_cache_refuse");
  const std::string context = write_context(dir), cache = dir / "ctx.kvc";
  ASSERT_EQ(run("compress --model " + model() + " --context-file " + context + " --out " + cache).exit_code, 0);
  for (const std::string& extra : std::vector<std::string>{"--press knorm", "--compression-ratio 0.5", "--context-file " + context,
                                  "--kv-type q8_0", "--kv-type-v f32", "--prefill-chunk 64", "--max-context-length 10",
                                  "--no-chat-template", "--query-aware"}) {
    SCOPED_TRACE(extra);
    const CliRun r = run("answer --model " + model() + " --cache " + cache + " --question x " + extra);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("cannot be combined with --cache"), std::string::npos) << r.err;
  }
  const CliRun neither = run("answer --model " + model() + " --question x");
  EXPECT_NE(neither.err.find("needs --context-file F"), std::string::npos) << neither.err;
}

TEST(CliCache, DamagedFilesAndFailedWritesGiveOneLineAndLeaveNothing) {
  ScratchDir dir("cli_cache_damage");
  const std::string context = write_context(dir), cache = dir / "ctx.kvc";
  ASSERT_EQ(run("compress --model " + model() + " --context-file " + context + " --out " + cache).exit_code, 0);
  fs::resize_file(cache, fs::file_size(cache) / 2);
  const CliRun truncated = run("answer --model " + model() + " --cache " + cache + " --question x");
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_EQ(count_lines(truncated.err), 1u) << truncated.err;
  EXPECT_NE(truncated.err.find("truncated cache file"), std::string::npos) << truncated.err;

  const fs::path other = kvpress::testing::shared_dir() / "reference" / "llama-gqa.gguf";
  if (fs::exists(other)) {  // a second model from ../shared/reference when present
    ASSERT_EQ(run("compress --model " + model() + " --context-file " + context + " --out " + cache).exit_code, 0);
    const CliRun r = run("answer --model " + other.string() + " --cache " + cache + " --question x");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("the cache was made for another model: n_layers 4 in the file, 3 in"), std::string::npos)
        << r.err;
  }

  const std::string out = dir / "new.kvc";
  const CliRun bad_press = run("compress --model " + model() + " --context-file " + context +
                               " --press nosuchpress --compression-ratio 0.5 --out " + out);
  EXPECT_EQ(bad_press.exit_code, 1);
  EXPECT_EQ(count_lines(bad_press.err), 1u) << bad_press.err;
  const CliRun bad_dir = run("compress --model " + model() + " --context-file " + context + " --out " +
                             (dir / "missing/new.kvc"));
  EXPECT_EQ(bad_dir.exit_code, 1);
  EXPECT_EQ(count_lines(bad_dir.err), 1u) << bad_dir.err;
  size_t n_files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++n_files;
  EXPECT_EQ(n_files, 2u);  // context.txt and ctx.kvc: nothing half-written
}

}  // namespace
