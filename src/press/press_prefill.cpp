#include "press/press_prefill.h"

#include <chrono>

#include "press/press.h"

namespace kvpress {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

PressPrefill::PressPrefill(Press* press) : press_(press) {}

void PressPrefill::attach(ForwardOptions& fwd) {
  press_ms_ = 0;
  layer_observer_ = [this](const LayerPrefill& layer) {
    if (before_compress) before_compress(layer);
    const auto t0 = Clock::now();
    if (compress)
      compress(layer);
    else if (press_)
      press_->compress(layer);
    press_ms_ += ms_since(t0);
    if (after_compress) after_compress(layer);
  };
  chunk_observer_ = [this](const LayerChunk& chunk) {
    const auto t0 = Clock::now();
    press_->observe(chunk);
    press_ms_ += ms_since(t0);
  };
  ObservationNeeds needs = extra_needs;
  if (press_) {
    press_->reset();
    needs = combined_needs(needs, press_->needs());
    fwd.chunk_observer = &chunk_observer_;
  }
  fwd.needs = needs;
  if (press_ || before_compress || compress || after_compress) fwd.observer = &layer_observer_;
}

}  // namespace kvpress
