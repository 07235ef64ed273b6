// KV cache built for compression: storage per (layer, KV head), each head with its own length,
// every entry remembering its original token position. Keys are stored after RoPE, so pruning
// never re-rotates. Thread-safety: none; one session uses one cache.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace kvpress {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_heads_kv, int64_t head_dim);

  int64_t n_layers() const { return n_layers_; }
  int64_t n_heads_kv() const { return n_heads_kv_; }
  int64_t head_dim() const { return head_dim_; }

  int64_t length(int64_t layer, int64_t head) const { return (int64_t)store(layer, head).positions.size(); }
  const float* keys(int64_t layer, int64_t head) const { return store(layer, head).keys.data(); }      // [length, head_dim]
  const float* values(int64_t layer, int64_t head) const { return store(layer, head).values.data(); }  // [length, head_dim]
  const int32_t* positions(int64_t layer, int64_t head) const { return store(layer, head).positions.data(); }
  float* mutable_keys(int64_t layer, int64_t head) { return store(layer, head).keys.data(); }
  float* mutable_values(int64_t layer, int64_t head) { return store(layer, head).values.data(); }

  // Reserves room for n more entries in every head of one layer (avoids growth overshoot).
  void reserve(int64_t layer, int64_t n_more);
  // Appends n_tokens entries to every head of `layer`. k and v: [n_tokens, n_heads_kv * head_dim].
  void append(int64_t layer, int64_t n_tokens, const float* k, const float* v, const int32_t* positions);

  // Keeps only the entries at `indices` (strictly ascending, < length) of one head, in that order,
  // and releases the memory of the dropped ones.
  void keep(int64_t layer, int64_t head, std::span<const int64_t> indices);

  // Lengths of every (layer, head), to return to later with truncate().
  std::vector<int64_t> lengths() const;
  // Drops entries appended after the snapshot; earlier entries are untouched (bit-exact restore).
  void truncate(const std::vector<int64_t>& snapshot);
  void clear();

  // Exact bytes held by kept entries: sum over layers and heads of length * entry_bytes().
  int64_t bytes() const;
  int64_t entry_bytes() const { return 2 * head_dim_ * (int64_t)sizeof(float); }
  int64_t total_entries() const;

 private:
  struct HeadStore {
    std::vector<float> keys;
    std::vector<float> values;
    std::vector<int32_t> positions;
  };
  HeadStore& store(int64_t layer, int64_t head) { return heads_[layer * n_heads_kv_ + head]; }
  const HeadStore& store(int64_t layer, int64_t head) const { return heads_[layer * n_heads_kv_ + head]; }

  int64_t n_layers_, n_heads_kv_, head_dim_;
  std::vector<HeadStore> heads_;  // [n_layers * n_heads_kv]
};

}  // namespace kvpress
