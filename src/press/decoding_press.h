// Decoding-time compression (spec §4): a wrapper that re-compresses a layer's whole cache while tokens
// are generated, with its base press, so the cache stays between target_size and target_size +
// compression_interval entries per head. The base press scores from the cache and from the queries of
// the most recent decoding passes (a buffer of hidden_states_buffer_size passes), as kvpress does.
// CAM (cam.cpp) and compression_ratio_decoding reuse the buffer and the trigger.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "press/press.h"

namespace kvpress {

class PressArgs;

// kvpress's find_ratio: the ratio for which a scorer keeps int(S * (1 - r)) == target entries, found
// by its 20-step bisection (0 when S <= target).
double find_decoding_ratio(int64_t n_entries, int64_t target);

class DecodingPress : public Press {
 public:
  struct Options {
    int64_t compression_interval = 512;
    int64_t target_size = 2048;
    int64_t hidden_states_buffer_size = 256;
    // compression_ratio_decoding: target_size = max(1, int(seen * (1 - ratio))) every pass, where seen
    // is the last position of the pass + 1 (the uncompressed token count); the ratio is the press's
    // compression ratio. Negative: not in use.
    double target_compression_ratio = -1;
  };
  // Reads the options of `args` (kind: "decoding", "compression_ratio_decoding" or "cam").
  static Options read_options(PressArgs& args, const std::string& kind);

  DecodingPress(std::string kind, std::unique_ptr<Press> base, const Options& options);

  std::string name() const override;
  // The base's ratio is set from target_size at every compression; a ratio given by the user is
  // compression_ratio_decoding's target ratio, and an error for the others (it would be ignored).
  double compression_ratio() const override;
  void set_compression_ratio(double ratio) override;
  bool acts_on_prefill() const override { return false; }
  void compress(const LayerPrefill&) override {}  // the prefill is left whole (spec §4.1)
  ObservationNeeds needs() const override { return {0, false}; }
  bool acts_on_decoding() const override { return true; }
  void reset() override;
  void observe_decoding(const LayerChunk& chunk) override;
  void compress_decoding(const LayerPrefill& layer) override;

  const Press& base() const { return *base_; }
  const Options& options() const { return o_; }

 protected:
  // The queries of the buffered passes: pre- and post-RoPE rows [n, n_heads * head_dim], positions [n].
  struct Buffer {
    std::vector<float> pre_rope, post_rope;
    std::vector<int32_t> positions;
    int64_t rows() const { return (int64_t)positions.size(); }
  };
  struct LayerState {
    std::deque<Buffer> passes;  // one entry per decoding pass (kvpress buffers forward calls)
    int64_t steps = 0;          // passes since the last compression
  };

  // Whether this pass compresses (spec §4.1: steps >= interval or T >= target).
  virtual bool triggers(const LayerState& state, const LayerPrefill& layer, int64_t entries, int64_t target) const;
  // Runs the base at the ratio that leaves `target` entries per head, on the buffered queries.
  virtual void compress_to(LayerState& state, const LayerPrefill& layer, int64_t entries, int64_t target);
  // Before the trigger check, every pass (CAM's running attention).
  virtual void on_pass(LayerState&, const LayerPrefill&) {}

  // The buffered queries as one pass, for the base: queries and positions point into `rows`.
  LayerPrefill buffered_pass(const LayerPrefill& layer, const Buffer& rows) const;
  Buffer concatenated(const LayerState& state) const;
  // Feeds the buffered queries to the base's observe() (statistics presses) as one chunk.
  void observe_buffer(const LayerPrefill& layer, const Buffer& rows);
  int64_t target_for(const LayerPrefill& layer) const;
  // Runs f with `press` at `ratio`, then puts it back to 0 (also when f throws): the base's ratio only
  // ever lives for one compression.
  static void at_ratio(Press& press, double ratio, const std::function<void()>& f);

  Press& base_press() { return *base_; }
  std::vector<LayerState>& states() { return states_; }

 private:
  std::string kind_;
  std::unique_ptr<Press> base_;
  Options o_;
  std::vector<LayerState> states_;
};

}  // namespace kvpress
