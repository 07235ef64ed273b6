#include "press/decoding_press.h"

#include <algorithm>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "press/press_args.h"
#include "press/score_utils.h"

namespace kvpress {

double find_decoding_ratio(int64_t n_entries, int64_t target) {
  if (n_entries <= target) return 0.0;
  const double S = (double)n_entries;
  double r = 1.0 - (double)target / S, lo = 0.0, hi = 1.0;
  for (int i = 0; i < 20; ++i) {
    const int64_t n = (int64_t)(S * (1.0 - r));
    if (n == target) break;
    if (n > target) {
      lo = r;
      r = (r + hi) / 2;
    } else {
      hi = r;
      r = (lo + r) / 2;
    }
  }
  return r;
}

DecodingPress::Options DecodingPress::read_options(PressArgs& args, const std::string& kind) {
  Options o;
  o.compression_interval = args.integer("compression_interval", o.compression_interval, 1, 1 << 30);
  // compression_ratio_decoding's target_compression_ratio is the press's compression ratio
  // (--compression-ratio, or the ratio of PressConfig), so it is not a parameter here.
  if (kind == "compression_ratio_decoding")
    o.target_compression_ratio = 0.0;
  else
    o.target_size = args.integer("target_size", o.target_size, 1, int64_t(1) << 40);
  o.hidden_states_buffer_size = args.integer("hidden_states_buffer_size", o.hidden_states_buffer_size, 0, 1 << 30);
  return o;
}

DecodingPress::DecodingPress(std::string kind, std::unique_ptr<Press> base, const Options& options)
    : kind_(std::move(kind)), base_(std::move(base)), o_(options) {
  if (!base_->acts_on_prefill() || base_->acts_on_decoding())
    fail("press '", kind_, "' needs a prefill press inside (e.g. ", kind_, "(knorm)); '", base_->name(),
         "' already compresses while decoding");
  if (base_->acts_after_prefill())
    fail("press '", kind_, "' cannot wrap '", base_->name(),
         "': it acts once after the whole prefill (extra passes over the context), not on a decoding cache");
  if (base_->needs().hidden_normed)
    fail("press '", kind_, "' cannot wrap '", base_->name(),
         "': it reads the hidden states of every token, and only the last passes' queries are kept while decoding");
  if (const ScorerPress* scorer = base_->scorer(); scorer && !scorer->keeps_ratio_budget())
    fail("press '", kind_, "' cannot wrap '", base_->name(),
         "': its per-layer budget does not follow the ratio that leaves target_size entries (kvpress does not "
         "support it while decoding either)");
  if (base_->compression_ratio() != 0.0) base_->set_compression_ratio(0.0);  // set from target_size (kvpress warns)
}

std::string DecodingPress::name() const {
  std::string s = kind_ + "(" + base_->name() + "):compression_interval=" + std::to_string(o_.compression_interval);
  if (o_.target_compression_ratio < 0) s += ",target_size=" + std::to_string(o_.target_size);
  return s + ",hidden_states_buffer_size=" + std::to_string(o_.hidden_states_buffer_size);
}

double DecodingPress::compression_ratio() const {
  return o_.target_compression_ratio >= 0 ? o_.target_compression_ratio : 0.0;
}

void DecodingPress::set_compression_ratio(double ratio) {
  validate_compression_ratio(ratio);
  if (o_.target_compression_ratio >= 0) {
    o_.target_compression_ratio = ratio;
    return;
  }
  if (ratio != 0.0)
    fail("press '", kind_, "' keeps target_size=", o_.target_size,
         " entries per head while decoding, so a compression ratio (", format_number(ratio),
         ") would be ignored; use compression_ratio_decoding(PRESS):target_compression_ratio=R for a ratio");
}

void DecodingPress::reset() {
  states_.clear();
  base_->reset();
}

void DecodingPress::observe_decoding(const LayerChunk& chunk) {
  if ((int64_t)states_.size() <= chunk.layer) states_.resize((size_t)chunk.layer + 1);
  LayerState& st = states_[(size_t)chunk.layer];
  if (chunk.first == 0) st.passes.emplace_back();
  Buffer& b = st.passes.back();
  const auto& c = chunk.model.config();
  const int64_t row = c.n_heads * c.head_dim;
  b.pre_rope.insert(b.pre_rope.end(), chunk.queries_pre_rope, chunk.queries_pre_rope + chunk.n * row);
  b.positions.insert(b.positions.end(), chunk.positions, chunk.positions + chunk.n);
  // Post-RoPE rows as the pass's own attention used them (RoPE at each token's position).
  const size_t at = b.post_rope.size();
  b.post_rope.insert(b.post_rope.end(), chunk.queries_pre_rope, chunk.queries_pre_rope + chunk.n * row);
  for (int64_t t = 0; t < chunk.n; ++t)
    chunk.model.rope().apply(b.post_rope.data() + at + t * row, c.n_heads, chunk.positions[t]);
}

int64_t DecodingPress::target_for(const LayerPrefill& layer) const {
  if (o_.target_compression_ratio < 0) return o_.target_size;
  int32_t last = 0;
  for (int64_t t = 0; t < layer.n_tokens; ++t) last = std::max(last, layer.positions[t]);
  const int64_t seen = (int64_t)last + 1;
  return std::max<int64_t>(1, (int64_t)((double)seen * (1.0 - o_.target_compression_ratio)));
}

bool DecodingPress::triggers(const LayerState& state, const LayerPrefill& layer, int64_t, int64_t target) const {
  return state.steps >= o_.compression_interval || layer.n_tokens >= target;
}

DecodingPress::Buffer DecodingPress::concatenated(const LayerState& state) const {
  Buffer all;
  for (const Buffer& b : state.passes) {
    all.pre_rope.insert(all.pre_rope.end(), b.pre_rope.begin(), b.pre_rope.end());
    all.post_rope.insert(all.post_rope.end(), b.post_rope.begin(), b.post_rope.end());
    all.positions.insert(all.positions.end(), b.positions.begin(), b.positions.end());
  }
  return all;
}

LayerPrefill DecodingPress::buffered_pass(const LayerPrefill& layer, const Buffer& rows) const {
  return LayerPrefill{layer.model, layer.layer,      rows.rows(),          0,           nullptr,
                      rows.post_rope.data(), rows.rows(), rows.positions.data(), layer.cache, layer.pool};
}

void DecodingPress::observe_buffer(const LayerPrefill& layer, const Buffer& rows) {
  base_->observe(LayerChunk{layer.model, layer.layer, rows.rows(), 0, rows.rows(), rows.pre_rope.data(),
                            rows.positions.data(), layer.pool});
}

void DecodingPress::compress_to(LayerState& state, const LayerPrefill& layer, int64_t entries, int64_t target) {
  const double ratio = find_decoding_ratio(entries, target);
  if (ratio <= 0.0) return;
  const Buffer rows = concatenated(state);
  observe_buffer(layer, rows);
  at_ratio(*base_, ratio, [&] { base_->compress(buffered_pass(layer, rows)); });
}

void DecodingPress::at_ratio(Press& press, double ratio, const std::function<void()>& f) {
  press.set_compression_ratio(ratio);
  try {
    f();
  } catch (...) {
    press.set_compression_ratio(0.0);
    throw;
  }
  press.set_compression_ratio(0.0);
}

void DecodingPress::compress_decoding(const LayerPrefill& layer) {
  if ((int64_t)states_.size() <= layer.layer) states_.resize((size_t)layer.layer + 1);
  LayerState& st = states_[(size_t)layer.layer];
  KV_CHECK(!st.passes.empty());  // observe_decoding buffered this pass
  st.steps += 1;
  on_pass(st, layer);
  // Heads differ in length after an AdaKV base: the mean head is sized, as kvpress's masked cache.
  int64_t entries = 0;
  for (int64_t h = 0; h < layer.cache.n_heads_kv(); ++h) entries += layer.cache.length(layer.layer, h);
  entries /= layer.cache.n_heads_kv();
  const int64_t target = target_for(layer);
  if (triggers(st, layer, entries, target)) {
    compress_to(st, layer, entries, target);
    st.steps = 0;
    st.passes.clear();
  }
  while ((int64_t)st.passes.size() > o_.hidden_states_buffer_size) st.passes.pop_front();
}

}  // namespace kvpress
