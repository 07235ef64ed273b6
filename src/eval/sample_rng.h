// Deterministic random numbers for the task generators: std::mt19937_64 (whose output the standard fixes)
// seeded from (seed, task, sample index, stream), with our own uniform/shuffle/sample helpers so results do
// not depend on the standard library's distributions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace kvpress {

// SplitMix64 finalizer: a bijective 64-bit mix, used to derive independent seeds.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a over the bytes, then mix64: stable across platforms, compilers and runs.
inline uint64_t stable_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

// One random stream. Generators use several streams per sample (keys and values on one, positions on
// another) so that keys stay identical while the haystack size is searched. Not thread-safe; cheap to make.
class SampleRng {
 public:
  SampleRng(uint64_t seed, uint64_t task_hash, uint64_t index, uint64_t stream)
      : engine_(mix64(mix64(mix64(mix64(seed) ^ task_hash) ^ index) ^ (stream * 0x632be59bd9b4e019ULL))) {}

  uint64_t next() { return engine_(); }

  // Uniform in [0, n), n >= 1, by rejection (no modulo bias).
  uint64_t below(uint64_t n) {
    KV_CHECK(n >= 1);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // accept r < limit (a multiple of n)
    uint64_t r = next();
    while (r >= limit) r = next();
    return r % n;
  }

  // Uniform in [lo, hi], inclusive.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    KV_CHECK(lo <= hi);
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(next());
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + below(span + 1));
  }

  // Fisher-Yates.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }

  // k distinct values of [0, n) in draw order (like Python's random.sample(range(n), k)).
  std::vector<std::size_t> sample_indices(std::size_t n, std::size_t k) {
    KV_CHECK(k <= n);
    std::vector<std::size_t> out;
    out.reserve(k);
    if (k <= 64 && k * 4 <= n) {  // few draws from a large range: rejection beats materialising [0, n)
      while (out.size() < k) {
        const std::size_t x = static_cast<std::size_t>(below(n));
        bool seen = false;
        for (std::size_t y : out) seen = seen || (y == x);
        if (!seen) out.push_back(x);
      }
      return out;
    }
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    for (std::size_t i = 0; i < k; ++i) {  // partial Fisher-Yates from the front
      const std::size_t j = i + static_cast<std::size_t>(below(n - i));
      std::swap(all[i], all[j]);
      out.push_back(all[i]);
    }
    return out;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace kvpress
