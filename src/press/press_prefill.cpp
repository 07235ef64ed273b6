#include "press/press_prefill.h"

#include <algorithm>
#include <chrono>

#include "press/press.h"

namespace kvpress {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

PressPrefill::PressPrefill(Press* press, Phase phase) : press_(press), phase_(phase) {}

int64_t PressPrefill::window_tokens() const {
  if (!press_) return 0;
  const int64_t rows = press_->needs().query_rows;
  if (press_->reads_question_window()) return std::max(rows == ObservationNeeds::kAll ? 0 : rows, question_tokens);
  return rows == ObservationNeeds::kAll ? 0 : rows;
}

void PressPrefill::attach(ForwardOptions& fwd) {
  press_ms_ = 0;
  const bool decoding = phase_ == Phase::Decoding;
  // The press this phase calls: a prefill-only press is idle while decoding, and the other way round.
  Press* active = press_ && (decoding ? press_->acts_on_decoding() : press_->acts_on_prefill()) ? press_ : nullptr;
  layer_observer_ = [this, active, decoding](const LayerPrefill& layer) {
    if (before_compress) before_compress(layer);
    const auto t0 = Clock::now();
    if (compress)
      compress(layer);
    else if (active)
      decoding ? active->compress_decoding(layer) : active->compress(layer);
    press_ms_ += ms_since(t0);
    if (after_compress) after_compress(layer);
  };
  chunk_observer_ = [this, active, decoding](const LayerChunk& chunk) {
    const auto t0 = Clock::now();
    decoding ? active->observe_decoding(chunk) : active->observe(chunk);
    press_ms_ += ms_since(t0);
  };
  ObservationNeeds needs = extra_needs;
  if (press_ && !decoding) press_->reset();
  if (active) {
    needs = combined_needs(needs, decoding ? active->decoding_needs() : active->needs());
    if (!decoding && active->reads_question_window()) needs.query_rows = std::max(needs.query_rows, question_tokens);
    fwd.chunk_observer = &chunk_observer_;
  }
  fwd.needs = needs;
  if (active || before_compress || compress || after_compress) fwd.observer = &layer_observer_;
}

void PressPrefill::finish(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> ids) {
  if (!press_ || phase_ != Phase::Prefill || !press_->acts_on_prefill()) return;
  const auto t0 = Clock::now();
  press_->after_prefill({model, cache, pool, ids});
  press_ms_ += ms_since(t0);
}

}  // namespace kvpress
