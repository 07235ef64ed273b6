// Memory read bandwidth probe: each thread sums disjoint 64 KiB chunks of one large buffer.
#include "runtime/read_bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "runtime/thread_pool.h"

namespace kvpress {

double measure_read_bandwidth(ThreadPool& pool, int64_t bytes) {
  constexpr int64_t kChunk = 64 * 1024 / 8;  // words per chunk
  const int64_t n_words = std::max<int64_t>(kChunk, bytes / 8 / kChunk * kChunk);
  std::vector<uint64_t> buffer((size_t)n_words);
  for (int64_t i = 0; i < n_words; ++i) buffer[(size_t)i] = (uint64_t)i * 0x9E3779B97F4A7C15ull;  // touch every page
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {  // the first pass warms the threads up and is not counted
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n_words / kChunk, 1, [&](int64_t begin, int64_t end, int) {
      uint64_t acc[4] = {0, 0, 0, 0};  // integer sums vectorise without reassociation flags
      for (int64_t c = begin; c < end; ++c) {
        const uint64_t* p = buffer.data() + c * kChunk;
        for (int64_t i = 0; i < kChunk; i += 4)
          for (int l = 0; l < 4; ++l) acc[l] += p[i + l];
      }
      sink.fetch_add(acc[0] ^ acc[1] ^ acc[2] ^ acc[3], std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass > 0) best = std::max(best, (double)(n_words * 8) / s);
  }
  return sink.load() == 42 ? best * 1.0 : best;  // sink keeps the sums alive
}

}  // namespace kvpress
