// KV cache built for compression: storage per (layer, KV head), each head with its own length,
// every entry remembering its original token position. Keys are stored after RoPE, so pruning
// never re-rotates. Keys and values are stored encoded in their KvType (f32, f16, bf16, or GGUF's
// q8_0 / q4_0 blocks along head_dim), written when an entry is appended; every reader (attention,
// presses, tests) goes through KvRows, which decodes inside the reader's own loop, so no
// dequantized copy of the cache exists. Thread-safety: none; one session uses one cache.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/kernels.h"
#include "kvpress/kv_type.h"

namespace kvpress {

GgmlType ggml_type_of(KvType type);
// Bytes of one stored row of head_dim elements; throws Error when head_dim does not fit the blocks.
int64_t kv_row_bytes(KvType type, int64_t head_dim);

// The stored rows of one (layer, KV head), keys or values: a matrix of n_rows rows of n_cols = head_dim
// elements, encoded in `type`, row_bytes apart and contiguous (rows [a, b) form one encoded run).
//
// Channel-pruned keys (ThinK, spec §2.10): after KvCache::prune_key_channels the head's first n_narrow()
// entries store only their kept key channels `channels` (ascending) as `narrow` rows of narrow.n_cols
// elements: the kept channels first, then zeros up to the type's block (q8_0 / q4_0: a multiple of 32).
// Entries appended later are stored whole, as `full_rows()`. Such a view has data == nullptr (a reader
// must not address rows directly): read() and row_f32() give every entry at head_dim with the pruned
// channels 0, which is what kvpress's zeroed channels hold; attention reads the two parts itself.
struct KvRows : kernels::MatrixView {
  kernels::MatrixView narrow;                 // [n_narrow, narrow.n_cols]; n_rows == 0 unless pruned
  const int32_t* channels = nullptr;           // [n_channels] kept channel indices, ascending
  int64_t n_channels = 0;
  const uint8_t* full_data = nullptr;          // entries [n_narrow, n_rows) at head_dim, when pruned

  int64_t head_dim() const { return n_cols; }
  bool pruned() const { return narrow.n_rows > 0; }
  int64_t n_narrow() const { return narrow.n_rows; }
  // The entries stored at head_dim: all of them, or the ones after the narrow part (row i = entry n_narrow + i).
  kernels::MatrixView full_rows() const;
  // out [n, head_dim] = rows [begin, begin + n) decoded to f32.
  void read(int64_t begin, int64_t n, float* out) const;
  // Decoded row j as f32 without a copy when the storage is f32, else decoded into scratch [head_dim].
  const float* row_f32(int64_t j, float* scratch) const;
  // The f32 rows in place when stored as f32 (and not channel-pruned), else nullptr.
  const float* f32() const {
    return type == GgmlType::F32 && data ? reinterpret_cast<const float*>(data) : nullptr;
  }
};

class KvCache {
 public:
  // Throws Error when head_dim does not fit the types' blocks.
  KvCache(int64_t n_layers, int64_t n_heads_kv, int64_t head_dim, KvTypes types = {});

  int64_t n_layers() const { return n_layers_; }
  int64_t n_heads_kv() const { return n_heads_kv_; }
  int64_t head_dim() const { return head_dim_; }
  KvTypes types() const { return types_; }

  int64_t length(int64_t layer, int64_t head) const { return (int64_t)store(layer, head).positions.size(); }
  KvRows keys(int64_t layer, int64_t head) const;    // [length, head_dim]
  KvRows values(int64_t layer, int64_t head) const;  // [length, head_dim]
  const int32_t* positions(int64_t layer, int64_t head) const { return store(layer, head).positions.data(); }

  // Reserves room for n more entries in every head of one layer (avoids growth overshoot).
  void reserve(int64_t layer, int64_t n_more);
  // Appends n_tokens entries to every head of `layer`, encoding them. k and v: [n_tokens, n_heads_kv * head_dim].
  void append(int64_t layer, int64_t n_tokens, const float* k, const float* v, const int32_t* positions);
  // Re-encodes existing keys [begin, begin + n) of one head from f32 rows [n, head_dim].
  void write_keys(int64_t layer, int64_t head, int64_t begin, int64_t n, const float* rows);
  // The same for values (CAM merges evicted values into kept ones).
  void write_values(int64_t layer, int64_t head, int64_t begin, int64_t n, const float* rows);

  // Replaces the positions of one head's entries (positions.size() == length): re-rotation presses
  // move kept keys to contiguous positions (spec §1.5, §2.20).
  void set_positions(int64_t layer, int64_t head, std::span<const int32_t> positions);

  // Replaces the entries of one head by n entries given encoded, as keys(l, h) / values(l, h) store
  // them: key_rows [n, key row bytes], value_rows [n, value row bytes], positions_le n little-endian
  // int32. One copy straight into the head's storage (a loaded cache file's mapping; no alignment needed).
  void assign_encoded(int64_t layer, int64_t head, int64_t n, const uint8_t* key_rows, const uint8_t* value_rows,
                      const uint8_t* positions_le);

  // ThinK: stores the current entries of one head's keys with only `kept_channels` (ascending, unique,
  // < head_dim), the others being 0 from now on (spec §2.10); entries appended later are stored whole.
  // The narrow rows hold kept_channels.size() elements rounded up to the key type's block, the padding
  // zero. The rows are decoded and encoded again (a second rounding for q8_0 / q4_0).
  void prune_key_channels(int64_t layer, int64_t head, std::span<const int32_t> kept_channels);
  // Whether any head of `layer` (any layer when layer < 0) stores channel-pruned keys.
  bool has_pruned_keys(int64_t layer = -1) const;

  // Keeps only the entries at `indices` (strictly ascending, < length) of one head, in that order,
  // moving their encoded rows as they are, and releases the memory of the dropped ones.
  void keep(int64_t layer, int64_t head, std::span<const int64_t> indices);

  // Lengths of every (layer, head), to return to later with truncate().
  std::vector<int64_t> lengths() const;
  // Drops entries appended after the snapshot; earlier entries are untouched (bit-exact restore).
  void truncate(const std::vector<int64_t>& snapshot);
  void clear();

  // Exact bytes held by kept entries: sum over layers and heads of length * entry_bytes(), where
  // channel-pruned keys count their narrow row bytes (kv_row_bytes of the stored width).
  int64_t bytes() const;
  // Bytes of one entry stored whole.
  int64_t entry_bytes() const { return key_row_bytes_ + value_row_bytes_; }
  int64_t total_entries() const;

  // High-water marks since construction or reset_peaks(), taken after every append: the most
  // entries any one head held, and the most bytes() the whole cache held.
  int64_t peak_entries_per_head() const { return peak_entries_per_head_; }
  int64_t peak_bytes() const { return peak_bytes_; }
  void reset_peaks();

 private:
  struct HeadStore {
    std::vector<uint8_t> keys;    // [length - n_narrow, key_row_bytes]: the keys stored whole
    std::vector<uint8_t> values;  // [length, value_row_bytes]
    std::vector<int32_t> positions;
    // Channel-pruned keys of entries [0, n_narrow) (prune_key_channels).
    std::vector<uint8_t> narrow_keys;  // [n_narrow, narrow_row_bytes]
    std::vector<int32_t> key_channels;
    int64_t n_narrow = 0, narrow_cols = 0, narrow_row_bytes = 0;
    int64_t bytes(int64_t key_row_bytes, int64_t value_row_bytes) const {
      const int64_t n = (int64_t)positions.size();
      return n_narrow * narrow_row_bytes + (n - n_narrow) * key_row_bytes + n * value_row_bytes;
    }
  };
  HeadStore& store(int64_t layer, int64_t head) { return heads_[layer * n_heads_kv_ + head]; }
  const HeadStore& store(int64_t layer, int64_t head) const { return heads_[layer * n_heads_kv_ + head]; }

  int64_t n_layers_, n_heads_kv_, head_dim_;
  KvTypes types_;
  GgmlType key_type_, value_type_;
  int64_t key_row_bytes_, value_row_bytes_;
  std::vector<HeadStore> heads_;  // [n_layers * n_heads_kv]
  int64_t peak_entries_per_head_ = 0, peak_bytes_ = 0;
};

}  // namespace kvpress
