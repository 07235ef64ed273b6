// Public API: how the next token is chosen from the logits (greedy by default).
#pragma once
#include <cstdint>

namespace kvpress {

struct SamplingOptions {
  float temperature = 0.0f;  // 0 = greedy (argmax, ties to the lowest id)
  int32_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  uint64_t seed = 0;

  void validate() const;  // throws Error naming the bad option
};

}  // namespace kvpress
