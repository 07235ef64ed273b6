// Pieces shared by wrappers around one scorer press (criticalkv, chunkkv, chunk, block, key_rerotation,
// merging, per_layer_compression, dms): the proxying base class, taking the inner scorer from the
// spec, and a scratch pass over a subset of a layer's entries for wrappers that score pieces of it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "press/press.h"

namespace kvpress {

class PressArgs;

// A wrapper whose ratio, reset, needs and chunk observation are its scorer's (kvpress proxies
// compression_ratio to the inner press). Subclasses implement name() and compress().
class ScorerWrapper : public Press {
 public:
  explicit ScorerWrapper(std::unique_ptr<ScorerPress> scorer) : scorer_(std::move(scorer)) {}
  double compression_ratio() const override { return scorer_->compression_ratio(); }
  void set_compression_ratio(double ratio) override { scorer_->set_compression_ratio(ratio); }
  void reset() override { scorer_->reset(); }
  ObservationNeeds needs() const override { return scorer_->needs(); }
  void observe(const LayerChunk& chunk) override { scorer_->observe(chunk); }
  ScorerPress* scorer() override { return scorer_.get(); }

 protected:
  ScorerPress& inner() const { return *scorer_; }

 private:
  std::unique_ptr<ScorerPress> scorer_;
};

// The one inner press of the wrapper being built from `args`, which must be a scorer (kvpress asserts
// isinstance(press, ScorerPress)); nullptr while the registry only describes the wrapper. With
// default_spec, the inner press may be left out and is then make_press(default_spec).
std::unique_ptr<ScorerPress> take_scorer(PressArgs& args, const char* default_spec = nullptr);

// A layer's prefill restricted to some of its entries, for scorers run on a piece of the context
// (chunk, block): a scratch cache holding, per KV head h, the entries entries[h] of layer.layer (their
// encoded rows copied as stored), so that index j of head h in the piece is entry entries[h][j] of the
// layer. The scorer sees the piece as a whole pass of n tokens: hidden rows `hidden` [n, n_embd] (or
// none), the queries of the piece's last tokens when the layer kept them (query_first: index in the
// layer's pass of the piece's first token, or -1 when the piece is not a run of the pass's tokens), and
// the pre-RoPE queries of `hidden` fed to its observe() (statistics presses score from those).
class SubPass {
 public:
  SubPass(const LayerPrefill& layer, const std::vector<std::vector<int64_t>>& entries, const float* hidden,
          int64_t query_first, ScorerPress& scorer);
  const LayerPrefill& prefill() const { return prefill_; }

 private:
  KvCache cache_;
  std::vector<int32_t> positions_;
  std::vector<float> pre_rope_;
  LayerPrefill prefill_;
};

}  // namespace kvpress
