// Reference scores in double for the scorer presses of spec §2.9, §2.18 and §2.22, written from the
// spec's text (not from src/press).
#include "press_reference_scorers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvpress::testing {
namespace {

// Python's round(): to nearest, ties to even.
double round_half_even(double x) {
  const double f = std::floor(x), diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

}  // namespace

int64_t ref_pyramidkv_budget(int64_t S_tokens, double ratio, int64_t layer, int64_t n_layers, int64_t window_size,
                             int64_t beta) {
  const double S = (double)S_tokens, w = (double)window_size;
  const double M = w + S * (1.0 - ratio);
  double lo = (M - w) / (double)beta, hi = 2.0 * (M - w) - lo;
  if (hi >= S - w) {
    hi = S - w;
    lo = 2.0 * (M - w) - hi;
  }
  if (!(S >= hi && hi >= lo && lo >= w)) return (int64_t)round_half_even(S * (1.0 - ratio));
  const double step = (hi - lo) / (double)(n_layers - 1);
  return (int64_t)round_half_even(hi - (double)layer * step);
}

}  // namespace kvpress::testing
