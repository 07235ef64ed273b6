// RandomPress: uniform random scores, the baseline every press must beat (spec §2.8).
#include <optional>
#include <random>

#include "cache/kv_cache.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {
namespace {

// 24 random bits -> a float in [0, 1): portable, unlike std::uniform_real_distribution.
float uniform01(std::mt19937_64& rng) { return (float)(rng() >> 40) * (1.0f / 16777216.0f); }

// Without a seed the draws continue across layers from this fixed start (kvpress uses the global
// torch generator, seeded with 42 by its evaluation), restarted by reset() for each context.
constexpr uint64_t kUnseededStart = 42;

}  // namespace

class RandomPress final : public ScorerPress {
 public:
  explicit RandomPress(std::optional<uint64_t> seed) : ScorerPress(0.0), seed_(seed), rng_(kUnseededStart) {}
  ObservationNeeds needs() const override { return {0, false}; }  // the cache only
  std::string name() const override { return seed_ ? "random:seed=" + std::to_string(*seed_) : "random"; }
  void reset() override { rng_.seed(kUnseededStart); }

  void score(const LayerPrefill& layer, HeadScores& scores) override {
    scores.resize(layer.cache.n_heads_kv(), uniform_head_length(layer.cache, layer.layer, "random"));
    // With a seed, a fresh generator per call: the same draws in every layer (as kvpress).
    std::mt19937_64 seeded(seed_.value_or(0));
    std::mt19937_64& rng = seed_ ? seeded : rng_;
    for (float& v : scores.values) v = uniform01(rng);
  }

 private:
  std::optional<uint64_t> seed_;
  std::mt19937_64 rng_;
};

template <>
std::unique_ptr<Press> create_press<RandomPress>(PressArgs& args) {
  const auto seed = args.optional_unsigned("seed");
  if (args.describing()) return nullptr;
  return std::make_unique<RandomPress>(seed);
}

}  // namespace kvpress
