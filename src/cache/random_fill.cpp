#include "cache/random_fill.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace kvpress {

void fill_random(KvCache& cache, int64_t n_context, int64_t n_kept, uint64_t seed) {
  if (n_kept <= 0 || n_kept > n_context)
    fail("a random cache needs 0 < kept entries <= context tokens, got ", n_kept, " of ", n_context);
  const int64_t row = cache.n_heads_kv() * cache.head_dim();
  constexpr int64_t kChunk = 4096;
  std::vector<float> k((size_t)(std::min(kChunk, n_kept) * row)), v(k.size());
  std::vector<int32_t> pos((size_t)std::min(kChunk, n_kept));
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&state] {  // xorshift64*: cheap, the values do not matter
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    return (float)((state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
  };
  for (int64_t l = 0; l < cache.n_layers(); ++l) {
    cache.reserve(l, n_kept);
    for (int64_t t0 = 0; t0 < n_kept; t0 += kChunk) {
      const int64_t c = std::min(kChunk, n_kept - t0);
      for (int64_t i = 0; i < c * row; ++i) k[i] = next(), v[i] = next();
      for (int64_t t = 0; t < c; ++t) pos[t] = (int32_t)((t0 + t) * n_context / n_kept);
      cache.append(l, c, k.data(), v.data(), pos.data());
    }
  }
}

}  // namespace kvpress
