// Parity with an independent reference engine (../shared/reference): every model, every case.
// F32 files: argmax >= 99%, first/last logits within 1e-2, first 8 greedy tokens exact.
// Other types: against *.deq.json (reference on exactly dequantized weights, f32 math): 2e-2, argmax >= 99%.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "model/model.h"
#include "runtime/thread_pool.h"
#include "test_paths.h"

namespace kvpress {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> reference_models() {
  std::vector<std::string> names;
  const fs::path dir = testing::shared_dir() / "reference";
  if (!fs::exists(dir)) return {"(absent)"};
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".gguf") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

int32_t argmax(std::span<const float> v) {
  return (int32_t)(std::max_element(v.begin(), v.end()) - v.begin());
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class ReferenceParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceParity, MatchesReferenceEngine) {
  KVPRESS_REQUIRE_SHARED("reference");
  const std::string name = GetParam();
  const fs::path dir = testing::shared_dir() / "reference";
  const bool is_f32 = !fs::exists(dir / (name + ".deq.json"));
  const fs::path ref_path = dir / (name + (is_f32 ? ".json" : ".deq.json"));
  const float tolerance = is_f32 ? 1e-2f : 2e-2f;
  std::ifstream in(ref_path);
  ASSERT_TRUE(in) << ref_path;
  const auto ref = nlohmann::json::parse(in);

  auto model = Model::load((dir / (name + ".gguf")).string());
  ThreadPool pool(2);
  const int64_t V = model->config().n_vocab;
  for (const auto& [case_name, c] : ref["cases"].items()) {
    SCOPED_TRACE(name + "/" + case_name);
    const auto tokens = c["tokens"].get<std::vector<int32_t>>();
    std::vector<int32_t> positions(tokens.size());
    std::iota(positions.begin(), positions.end(), 0);
    KvCache cache = model->make_cache();
    ForwardOptions opts;
    opts.logits = LogitsMode::All;
    opts.chunk_tokens = 100;  // exercise chunked prefill against the single-pass reference
    const auto logits = model->forward(tokens, positions, cache, pool, opts);
    const int64_t T = (int64_t)tokens.size();

    const auto ref_argmax = c["argmax"].get<std::vector<int32_t>>();
    ASSERT_EQ((int64_t)ref_argmax.size(), T);
    int64_t agree = 0;
    for (int64_t t = 0; t < T; ++t) agree += argmax(std::span<const float>(&logits[t * V], V)) == ref_argmax[t];
    EXPECT_GE((double)agree / T, 0.99) << agree << "/" << T << " argmax agree";

    const std::vector<float> first(logits.begin(), logits.begin() + V), last(logits.end() - V, logits.end());
    const float d_first = max_abs_diff(first, c["logits_first"].get<std::vector<float>>());
    const float d_last = max_abs_diff(last, c["logits_last"].get<std::vector<float>>());
    EXPECT_LE(d_first, tolerance);
    EXPECT_LE(d_last, tolerance);
    std::printf("  %-20s %-6s T=%-5lld argmax %lld/%lld  max|d| first %.2e last %.2e (vs %s)\n", name.c_str(),
                case_name.c_str(), (long long)T, (long long)agree, (long long)T, d_first, d_last,
                ref_path.filename().c_str());

    if (is_f32) {
      const auto ref_greedy = c["greedy"].get<std::vector<int32_t>>();
      int32_t next = argmax(std::span<const float>(last));
      int32_t pos = (int32_t)T;
      for (size_t i = 0; i < 8 && i < ref_greedy.size(); ++i) {
        ASSERT_EQ(next, ref_greedy[i]) << "greedy token " << i;
        const int32_t tok[1] = {next}, p[1] = {pos++};
        next = argmax(model->forward(tok, p, cache, pool));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, ReferenceParity, ::testing::ValuesIn(reference_models()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& ch : s)
                             if (!std::isalnum((unsigned char)ch)) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace kvpress
