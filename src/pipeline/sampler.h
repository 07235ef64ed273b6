// Next-token choice from logits: greedy, or temperature / top-k / top-p sampling with a seed.
#pragma once
#include <cstdint>
#include <random>
#include <span>

namespace kvpress {

struct SamplingOptions {
  float temperature = 0.0f;  // 0 = greedy (argmax)
  int32_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  uint64_t seed = 0;

  void validate() const;  // throws Error naming the bad option
};

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
