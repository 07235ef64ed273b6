// Seeded standard normal draws for the presses that sketch with random matrices (CUR's projection,
// Leverage's Gaussian sketch): the same numbers on every platform, unlike std::normal_distribution.
// Thread-safety: one object per press; not shared between threads.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>

namespace kvpress {

class GaussianDraws {
 public:
  explicit GaussianDraws(uint64_t seed) : rng_(seed) {}
  void reseed(uint64_t seed) {
    rng_.seed(seed);
    has_spare_ = false;
  }
  // One N(0, 1) draw (Box-Muller on 53-bit uniforms, u1 in (0, 1] so the log is finite).
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (double)((rng_() >> 11) + 1) * 0x1.0p-53, u2 = (double)(rng_() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)), a = 6.283185307179586 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// Start of the draws of presses with no seed parameter: kvpress draws from torch's global generator,
// which its evaluation seeds with 42; reset() restarts it for each context so runs are reproducible.
inline constexpr uint64_t kSketchSeed = 42;

}  // namespace kvpress
