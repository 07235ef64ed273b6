// A forward pass with a press: the one place that wires a press into Model::forward (what the pass
// keeps for it, its chunk observation, compression after each layer, the time spent in it).
#pragma once
#include <span>

#include "model/model.h"

namespace kvpress {

class Press;

class PressPrefill {
 public:
  enum class Phase { Prefill, Decoding };
  // `press` may be null (no compression; the callbacks still run). Prefill: the press's compress and
  // observe (presses that act only while decoding are not called); Decoding: its decoding hooks.
  explicit PressPrefill(Press* press, Phase phase = Phase::Prefill);
  PressPrefill(const PressPrefill&) = delete;
  PressPrefill& operator=(const PressPrefill&) = delete;

  LayerObserver before_compress;  // optional: sees each layer's full cache first (tests snapshot it)
  LayerObserver compress;         // optional: replaces press->compress (inspect records the scores)
  LayerObserver after_compress;   // optional: progress reports
  ObservationNeeds extra_needs{0, false};  // what the callbacks read besides the press
  int64_t question_tokens = 0;  // query-aware: the context's last tokens that are the question (else 0)
  // The last tokens the press reads the queries of: its needs' query rows, or the question for a press
  // that reads it as its window (0 without a press).
  int64_t window_tokens() const;

  // Sets fwd's observers and needs (calls press->reset() at prefill); this object must outlive the
  // forward call.
  void attach(ForwardOptions& fwd);
  // After the last prefill pass over `ids` (positions 0..): the press's after_prefill (Prefill phase
  // only), timed with the rest of the press.
  void finish(const Model& model, KvCache& cache, ThreadPool& pool, std::span<const int32_t> ids);
  // Milliseconds inside the press (chunk observation and compression) since attach.
  double press_ms() const { return press_ms_; }
  Press* press() const { return press_; }

 private:
  Press* press_;
  Phase phase_;
  LayerObserver layer_observer_;
  ChunkObserver chunk_observer_;
  double press_ms_ = 0;
};

}  // namespace kvpress
