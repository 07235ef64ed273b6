// Next-token choice from logits: greedy, or temperature / top-k / top-p sampling with a seed.
#pragma once
#include <cstdint>
#include <random>
#include <span>

#include "kvpress/sampling.h"

namespace kvpress {

// Index of the largest value; ties go to the lowest index.
int32_t argmax(std::span<const float> values);

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  int32_t next(std::span<const float> logits);

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace kvpress
