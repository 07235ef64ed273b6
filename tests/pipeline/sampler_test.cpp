// Sampling: greedy ties, top-k / top-p restriction, seeded determinism, option validation.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "pipeline/sampler.h"

namespace kvpress {
namespace {

TEST(Sampler, GreedyTakesFirstMaximum) {
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(argmax(logits), 1);
  Sampler s(SamplingOptions{});
  EXPECT_EQ(s.next(logits), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  const std::vector<float> logits = {0.1f, 0.3f, 3.0f, 0.2f};
  Sampler s(SamplingOptions{1.0f, 1, 1.0f, 42});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.next(logits), 2);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingMass) {
  // softmax(log p) = p: masses 0.6, 0.3, 0.1 -> top_p 0.85 keeps the first two tokens only.
  const std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  Sampler s(SamplingOptions{1.0f, 0, 0.85f, 7});
  std::set<int32_t> seen;
  for (int i = 0; i < 300; ++i) seen.insert(s.next(logits));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampler, SameSeedSameDraws) {
  const std::vector<float> logits = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f};
  Sampler a(SamplingOptions{1.0f, 0, 1.0f, 9}), b(SamplingOptions{1.0f, 0, 1.0f, 9});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.next(logits), b.next(logits));
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler(SamplingOptions{-1.0f, 0, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler(SamplingOptions{1.0f, -2, 1.0f, 0}), Error);
  EXPECT_THROW(Sampler(SamplingOptions{1.0f, 0, 0.0f, 0}), Error);
  EXPECT_THROW(Sampler(SamplingOptions{1.0f, 0, 1.5f, 0}), Error);
}

}  // namespace
}  // namespace kvpress
