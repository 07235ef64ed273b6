// Fidelity metrics: exact values on hand-made distributions, and invariants on a reference model.
#include "pipeline/fidelity.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "model/model.h"
#include "pipeline/context_session.h"
#include "pipeline/prompt.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"
#include "test_paths.h"

namespace kvpress {
namespace {

std::vector<float> logs(std::initializer_list<double> probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back((float)std::log(p));
  return out;
}

TEST(Fidelity, HandMadeDistributions) {
  // Step 0: P = (1/2, 1/4, 1/4), Q = (1/4, 1/2, 1/4): KL = 1/2 ln 2 + 1/4 ln(1/2) = 1/4 ln 2, argmax differs.
  // Step 1: identical rows: KL 0, argmax agrees. Answer (0, 2): LLR = ln(1/4) - ln(1/2) + 0 = -ln 2.
  std::vector<float> full = logs({0.5, 0.25, 0.25, 0.125, 0.125, 0.75});
  std::vector<float> comp = logs({0.25, 0.5, 0.25, 0.125, 0.125, 0.75});
  const std::vector<int32_t> answer = {0, 2};
  const FidelityStats s = compare_log_probs(full, comp, answer, 3);
  const double ln2 = std::log(2.0);
  EXPECT_EQ(s.n_steps, 2);
  EXPECT_NEAR(s.kl_mean, 0.125 * ln2, 1e-7);
  EXPECT_NEAR(s.kl_max, 0.25 * ln2, 1e-7);
  EXPECT_DOUBLE_EQ(s.top1_agreement, 0.5);
  EXPECT_NEAR(s.log_likelihood_ratio, -ln2, 1e-7);

  // Swapped roles: KL(Q||P) = 1/4 ln(1/2) + 1/2 ln 2 = 1/4 ln 2 (equal for this pair), the LLR changes sign.
  const FidelityStats r = compare_log_probs(comp, full, answer, 3);
  EXPECT_NEAR(r.log_likelihood_ratio, ln2, 1e-7);
  EXPECT_NEAR(r.kl_mean, 0.125 * ln2, 1e-7);
}

TEST(Fidelity, AsymmetricKl) {
  // P = (0.9, 0.1), Q = (0.5, 0.5): KL(P||Q) = 0.9 ln 1.8 + 0.1 ln 0.2; KL(Q||P) = 0.5 ln(5/9) + 0.5 ln 5.
  const auto p = logs({0.9, 0.1}), q = logs({0.5, 0.5});
  const std::vector<int32_t> answer = {1};
  EXPECT_NEAR(compare_log_probs(p, q, answer, 2).kl_mean, 0.9 * std::log(1.8) + 0.1 * std::log(0.2), 1e-7);
  EXPECT_NEAR(compare_log_probs(q, p, answer, 2).kl_mean, 0.5 * std::log(5.0 / 9.0) + 0.5 * std::log(5.0), 1e-7);
  // Ties in Q: argmax takes the first maximum (as greedy decoding does), which is P's argmax here.
  EXPECT_DOUBLE_EQ(compare_log_probs(p, q, answer, 2).top1_agreement, 1.0);
}

TEST(Fidelity, EmptyAnswerAndBadInput) {
  const FidelityStats s = compare_log_probs({}, {}, {}, 5);
  EXPECT_EQ(s.n_steps, 0);
  EXPECT_EQ(s.kl_mean, 0.0);
  EXPECT_EQ(s.top1_agreement, 1.0);
  EXPECT_EQ(s.log_likelihood_ratio, 0.0);
  const auto row = logs({0.5, 0.5});
  const std::vector<int32_t> ok = {1}, bad = {2};
  EXPECT_THROW(compare_log_probs(row, logs({1.0}), ok, 2), Error);
  EXPECT_THROW(compare_log_probs(row, row, bad, 2), Error);
  EXPECT_THROW(compare_log_probs(row, row, ok, 0), Error);
}

class FidelityModel : public ::testing::Test {
 protected:
  void SetUp() override {
    KVPRESS_REQUIRE_SHARED("reference/llama-gqa-Q8_0.gguf");
    model_ = Model::load((testing::shared_dir() / "reference/llama-gqa-Q8_0.gguf").string());
    const PromptParts parts = split_prompt(*model_,
                                           "The grass is green. The sky is blue. The sun is yellow. Here we go. "
                                           "There and back again. The pass key is 71432. Remember it. The grass is "
                                           "green. The sky is blue. The sun is yellow. Here we go.",
                                           true);
    ctx_ = context_ids(*model_, parts);
    q_ = question_ids(*model_, parts, "What is the pass key?", "The pass key is");
    // The uncompressed greedy answer, as the eval runner forces it.
    ContextSession s(*model_, pool_);
    s.prefill(ctx_, nullptr);
    GenerateOptions gen;
    gen.max_new_tokens = 8;
    gen.stop_at_end_of_generation = false;
    answer_ = s.ask(q_, gen).tokens;
    ASSERT_EQ(answer_.size(), 8u);
  }
  ThreadPool pool_{2};
  std::unique_ptr<Model> model_;
  std::vector<int32_t> ctx_, q_, answer_;
};

TEST_F(FidelityModel, UncompressedAgreesWithItself) {
  const FidelityStats s = measure_fidelity(*model_, ctx_, q_, answer_, nullptr, pool_);
  EXPECT_EQ(s.n_steps, 8);
  EXPECT_EQ(s.kl_mean, 0.0);
  EXPECT_EQ(s.top1_agreement, 1.0);
  EXPECT_EQ(s.log_likelihood_ratio, 0.0);
  // A press at ratio 0 keeps every entry: the same distributions up to summation order.
  auto keep_all = make_press("knorm", 0.0);
  const FidelityStats k = measure_fidelity(*model_, ctx_, q_, answer_, keep_all.get(), pool_);
  EXPECT_LT(k.kl_mean, 1e-6);
  EXPECT_EQ(k.top1_agreement, 1.0);
  EXPECT_NEAR(k.log_likelihood_ratio, 0.0, 1e-4);
}

TEST_F(FidelityModel, TeacherForcingFollowsGreedyDecoding) {
  // The forced rows of the uncompressed run predict the greedy answer: argmax of row i is answer[i]
  // (an off-by-one in the forced positions would break this).
  ContextSession s(*model_, pool_);
  s.prefill(ctx_, nullptr);
  const auto lp = s.forced_log_probs(q_, answer_);
  const int64_t V = model_->config().n_vocab;
  for (size_t i = 0; i < answer_.size(); ++i) {
    const float* row = lp.data() + i * V;
    EXPECT_EQ(std::max_element(row, row + V) - row, answer_[i]) << "step " << i;
  }
}

TEST_F(FidelityModel, CompressionMovesTheDistribution) {
  auto press = make_press("knorm", 0.75);
  const FidelityStats s = measure_fidelity(*model_, ctx_, q_, answer_, press.get(), pool_);
  EXPECT_EQ(s.n_steps, 8);
  EXPECT_GT(s.kl_mean, 1e-6);
  EXPECT_TRUE(std::isfinite(s.kl_mean));
  EXPECT_GE(s.kl_max, s.kl_mean);
  EXPECT_GE(s.top1_agreement, 0.0);
  EXPECT_LE(s.top1_agreement, 1.0);
  // Deterministic: the same press on the same input gives bit-identical statistics.
  const FidelityStats again = measure_fidelity(*model_, ctx_, q_, answer_, press.get(), pool_);
  EXPECT_EQ(again.kl_mean, s.kl_mean);
  EXPECT_EQ(again.log_likelihood_ratio, s.log_likelihood_ratio);
}

}  // namespace
}  // namespace kvpress
