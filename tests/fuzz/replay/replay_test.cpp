// Replays tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/ through each target's check
// (a property violation aborts with its description, an unexpected exception fails the test).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <vector>

#include "fuzz_check.h"
#include "kvpress/kvpress.h"
#include "test_paths.h"

namespace kvpress::fuzz {
namespace {

struct Target {
  const char* name;
  void (*check)(Bytes);
};

const Target kTargets[] = {{"gguf", check_gguf},   {"tokenizer", check_tokenizer},   {"chat_template", check_chat_template},
                           {"jsonl", check_jsonl}, {"press_spec", check_press_spec}, {"press_run", check_press_run},
                           {"kv_cache_file", check_kv_cache_file}, {"server_request", check_server_request}};

std::vector<std::filesystem::path> inputs(const std::string& kind, const std::string& target) {
  const auto dir = kvpress::testing::source_dir() / "tests" / "fuzz" / kind / target;
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(dir))
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }  // names the target in test output

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, SeedCorpusAndRegressionsPassTheCheck) {
  const Target& t = GetParam();
  const auto corpus = inputs("corpus", t.name);
  EXPECT_FALSE(corpus.empty()) << "no seed corpus in tests/fuzz/corpus/" << t.name;
  auto all = corpus;
  const auto kept = inputs("regressions", t.name);
  all.insert(all.end(), kept.begin(), kept.end());
  for (const auto& path : all) {
    SCOPED_TRACE(path.string());
    const std::vector<uint8_t> bytes = read_bytes(path);
    EXPECT_NO_THROW(t.check(bytes));
  }
}

// The kv_cache_file seeds must be valid caches of the check's tiny model, or the fuzzer starts from files
// rejected at the model binding. If the tiny model fixture changes, write them again:
//   build-fuzz/tests/fuzz/fuzz_kv_cache_file_seeds tests/fuzz/corpus/kv_cache_file
TEST(FuzzReplayKvCacheFile, SeedsAreValidCachesOfTheTinyModel) {
  for (const auto& path : inputs("corpus", "kv_cache_file")) {
    const std::vector<uint8_t> bytes = read_bytes(path);
    EXPECT_NO_THROW(Session::load_bytes(kv_cache_file_engine(), bytes, path.string()))
        << "regenerate the seeds: build-fuzz/tests/fuzz/fuzz_kv_cache_file_seeds tests/fuzz/corpus/kv_cache_file";
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kvpress::fuzz
