// FinchPress (spec §2.13) against an independent re-derivation (press_reference_channels.cpp): the
// kept positions from the question-window scores (normalised or not) at ratios 0.25, 0.5 and 0.9 on
// tiny llama/qwen2/qwen3 models, chunk-wise selection, and the re-rotation of kept keys to 0..n-1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kv_rows_util.h"
#include "press/press_registry.h"
#include "press_reference.h"
#include "press_reference_channels.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};
constexpr int64_t kContext = 80, kQuestion = 12;

std::unique_ptr<Model> model_for(const std::string& arch) {
  TinyModelSpec spec;
  spec.arch = arch;
  spec.seed = 17;
  return make_tiny_model(spec);
}

class FinchScores : public ::testing::TestWithParam<std::string> {};

TEST_P(FinchScores, KeepsTheReferenceTopEntries) {
  const auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext, 4);
  for (bool normalize : {true, false}) {
    for (double ratio : kRatios) {
      SCOPED_TRACE(std::string("normalize ") + (normalize ? "true" : "false") + " ratio " + std::to_string(ratio));
      auto press = make_press(std::string("finch:rerotate_keys=false,normalize_scores=") + (normalize ? "true" : "false"),
                              ratio);
      const auto run = prefill(*model, ids, press.get(), pool, {}, {}, kQuestion);
      for (int64_t l = 0; l < c.n_layers; ++l) {
        const auto ref = ref_finch_scores(run.snapshots[l], c, kQuestion, normalize);
        for (int64_t h = 0; h < c.n_heads_kv; ++h) {
          const auto kept = kept_positions(run.cache, l, h);
          expect_top_selection(ref[h], kept, ref_kept_count(kContext, ratio), 1e-6,
                               "layer " + std::to_string(l) + " head " + std::to_string(h));
          // The question (window) is always kept when the budget allows.
          if (ref_kept_count(kContext, ratio) >= kQuestion)
            for (int64_t j = kContext - kQuestion; j < kContext; ++j)
              EXPECT_TRUE(std::binary_search(kept.begin(), kept.end(), (int32_t)j)) << "question token " << j;
        }
      }
    }
  }
}

TEST_P(FinchScores, ChunksKeepTheirOwnShare) {
  const auto model = model_for(GetParam());
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext, 6);
  const int64_t L = 30;  // > 12 / (1 - 0.5); chunks of 30, 30 and 20
  auto press = make_press("finch:chunk_length=30,rerotate_keys=false", 0.5);
  const auto run = prefill(*model, ids, press.get(), pool, {}, {}, kQuestion);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto ref = ref_finch_scores(run.snapshots[l], c, kQuestion, true);
    for (int64_t h = 0; h < c.n_heads_kv; ++h) {
      const auto kept = kept_positions(run.cache, l, h);
      EXPECT_EQ((int64_t)kept.size(), 15 + 15 + 10);
      for (int64_t begin = 0; begin < kContext; begin += L) {
        const int64_t len = std::min(L, kContext - begin);
        std::vector<double> chunk(ref[h].begin() + begin, ref[h].begin() + begin + len);
        std::vector<int32_t> in_chunk;
        for (int32_t p : kept)
          if (p >= begin && p < begin + len) in_chunk.push_back((int32_t)(p - begin));
        expect_top_selection(chunk, in_chunk, std::max<int64_t>(1, ref_kept_count(len, 0.5)), 1e-6,
                             "layer " + std::to_string(l) + " chunk " + std::to_string(begin));
      }
    }
  }
  // kvpress asserts chunk_length > window / (1 - ratio).
  auto small = make_press("finch:chunk_length=20", 0.5);
  EXPECT_THROW(prefill(*model, ids, small.get(), pool, {}, {}, kQuestion), Error);
}

TEST_P(FinchScores, RerotatesKeptKeysToContiguousPositions) {
  const auto model = model_for(GetParam());
  const auto& c = model->config();
  const int64_t d = c.head_dim;
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(kContext, 9);
  for (double ratio : {0.25, 0.5}) {
    SCOPED_TRACE("ratio " + std::to_string(ratio));
    auto plain = make_press("finch:rerotate_keys=false", ratio);
    auto rerotated = make_press("finch", ratio);
    EXPECT_FALSE(plain->rerotates_keys());
    EXPECT_TRUE(rerotated->rerotates_keys());
    const KvTypes f32{KvType::F32, KvType::F32};  // the rotated keys are encoded again: f32 keeps them exact
    const auto a = prefill(*model, ids, plain.get(), pool, {}, f32, kQuestion);
    const auto b = prefill(*model, ids, rerotated.get(), pool, {}, f32, kQuestion);
    for (int64_t l = 0; l < c.n_layers; ++l)
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        const auto kept = kept_positions(a.cache, l, h);  // the original positions, ascending
        const auto renumbered = kept_positions(b.cache, l, h);
        ASSERT_EQ(renumbered.size(), kept.size());
        const auto keys = decoded(b.cache.keys(l, h)), values = decoded(b.cache.values(l, h));
        for (size_t i = 0; i < kept.size(); ++i) {
          ASSERT_EQ(renumbered[i], (int32_t)i);
          // The key encoded at kept[i], rotated by (i - kept[i]): RoPE's key at position i.
          std::vector<double> expect(&a.snapshots[l].keys[h][kept[i] * d], &a.snapshots[l].keys[h][(kept[i] + 1) * d]);
          ref_rotate(expect, c, (int64_t)i - kept[i]);
          for (int64_t e = 0; e < d; ++e) {
            ASSERT_NEAR(keys[i * d + e], expect[e], 1e-4) << "layer " << l << " head " << h << " entry " << i;
            ASSERT_EQ(values[i * d + e], a.snapshots[l].values[h][kept[i] * d + e]);
          }
        }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, FinchScores, ::testing::Values("llama", "qwen2", "qwen3"));

TEST(FinchPress, NeedsTheQuestion) {
  const auto model = model_for("llama");
  ThreadPool pool(2);
  auto press = make_press("finch", 0.5);
  EXPECT_EQ(press->name(), "finch:chunk_length=none,normalize_scores=true,rerotate_keys=true");
  EXPECT_TRUE(press->reads_question_window());
  try {
    prefill(*model, tiny_token_ids(40, 2), press.get(), pool);
    ADD_FAILURE() << "finch without a question was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("query-aware"), std::string::npos) << e.what();
  }
  // Ratio 0 changes nothing, even without a question (kvpress returns first).
  auto none = make_press("finch", 0.0);
  const auto run = prefill(*model, tiny_token_ids(40, 2), none.get(), pool);
  EXPECT_EQ(run.cache.length(0, 0), 40);
}

}  // namespace
}  // namespace kvpress::testing
