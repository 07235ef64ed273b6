// RoPE: hand-computed rotations for both pair layouts and frequency factors.
#include <cmath>

#include <gtest/gtest.h>

#include "model/rope.h"

namespace kvpress {
namespace {

ModelConfig config(RopeStyle style) {
  ModelConfig c;
  c.head_dim = 4;
  c.rope_base = 100.0f;
  c.rope_style = style;
  return c;
}

TEST(Rope, AdjacentPairsRotateByPositionTimesFrequency) {
  Rope rope(config(RopeStyle::Adjacent), {});
  // inv_freq = {100^0, 100^-0.5} = {1, 0.1}
  float x[4] = {1, 0, 1, 0};
  rope.apply(x, 1, 3);
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], std::cos(0.3), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.3), 1e-6);
}

TEST(Rope, HalvesPairIWithIPlusHalf) {
  Rope rope(config(RopeStyle::Halves), {});
  float x[4] = {1, 1, 0, 0};  // pairs (0,2) and (1,3)
  rope.apply(x, 1, 2);
  EXPECT_NEAR(x[0], std::cos(2.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(2.0), 1e-6);
  EXPECT_NEAR(x[1], std::cos(0.2), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.2), 1e-6);
}

TEST(Rope, FrequencyFactorsDivideFrequencies) {
  Rope rope(config(RopeStyle::Adjacent), {1.0f, 4.0f});
  EXPECT_DOUBLE_EQ(rope.inv_freq()[1], 0.1 / 4.0);
}

TEST(Rope, PreservesNormAndRelativeDotProducts) {
  Rope rope(config(RopeStyle::Halves), {});
  float q[4] = {0.3f, -1.2f, 0.7f, 2.0f}, k[4] = {1.1f, 0.4f, -0.5f, 0.9f};
  float q1[4], k1[4], q2[4], k2[4];
  std::copy(q, q + 4, q1); std::copy(k, k + 4, k1); std::copy(q, q + 4, q2); std::copy(k, k + 4, k2);
  rope.apply(q1, 1, 10); rope.apply(k1, 1, 7);   // distance 3
  rope.apply(q2, 1, 25); rope.apply(k2, 1, 22);  // distance 3
  auto dot = [](const float* a, const float* b) { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] + a[3]*b[3]; };
  EXPECT_NEAR(dot(q1, k1), dot(q2, k2), 1e-5);
  EXPECT_NEAR(dot(q1, q1), dot(q, q), 1e-5);
}

}  // namespace
}  // namespace kvpress
