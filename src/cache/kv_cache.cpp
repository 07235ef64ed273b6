// KV cache storage: encoding on append, compaction of encoded rows, snapshots and byte accounting.
#include "cache/kv_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "kernels/kernels.h"

namespace kvpress {

void KvRows::read(int64_t begin, int64_t n, float* out) const {
  KV_CHECK(begin >= 0 && n >= 0 && begin + n <= n_rows);
  if (n > 0) kernels::dequantize_row(type, row(begin), out, n * n_cols);  // rows are one contiguous run
}

const float* KvRows::row_f32(int64_t j, float* scratch) const {
  if (const float* f = f32()) return f + j * n_cols;
  read(j, 1, scratch);
  return scratch;
}

KvCache::KvCache(int64_t n_layers, int64_t n_heads_kv, int64_t head_dim, KvTypes types)
    : n_layers_(n_layers), n_heads_kv_(n_heads_kv), head_dim_(head_dim), types_(types),
      key_type_(ggml_type_of(types.k)), value_type_(ggml_type_of(types.v)),
      key_row_bytes_(kv_row_bytes(types.k, head_dim)), value_row_bytes_(kv_row_bytes(types.v, head_dim)),
      heads_((size_t)(n_layers * n_heads_kv)) {
  KV_CHECK(n_layers > 0 && n_heads_kv > 0 && head_dim > 0);
}

KvRows KvCache::keys(int64_t layer, int64_t head) const {
  const auto& s = store(layer, head);
  return {{key_type_, s.keys.data(), (int64_t)s.positions.size(), head_dim_, key_row_bytes_}};
}

KvRows KvCache::values(int64_t layer, int64_t head) const {
  const auto& s = store(layer, head);
  return {{value_type_, s.values.data(), (int64_t)s.positions.size(), head_dim_, value_row_bytes_}};
}

void KvCache::reserve(int64_t layer, int64_t n_more) {
  for (int64_t h = 0; h < n_heads_kv_; ++h) {
    auto& s = store(layer, h);
    const size_t size = s.positions.size(), needed = size + (size_t)n_more;
    if (needed <= s.positions.capacity()) continue;
    // A prefill into an empty head reserves exactly; growing a filled head (decoding one token at a
    // time) adds an eighth, so the rows are copied once per size/8 tokens instead of at every token,
    // and at most 1/8 of a head's storage is ever unused.
    const size_t n = size == 0 ? needed : std::max(needed, size + size / 8 + 16);
    s.keys.reserve(n * key_row_bytes_);
    s.values.reserve(n * value_row_bytes_);
    s.positions.reserve(n);
  }
}

void KvCache::append(int64_t layer, int64_t n_tokens, const float* k, const float* v, const int32_t* positions) {
  KV_CHECK(layer >= 0 && layer < n_layers_);
  const int64_t row = n_heads_kv_ * head_dim_;
  for (int64_t h = 0; h < n_heads_kv_; ++h) {
    auto& s = store(layer, h);
    const size_t n0 = s.positions.size();
    s.keys.resize((n0 + n_tokens) * key_row_bytes_);
    s.values.resize((n0 + n_tokens) * value_row_bytes_);
    for (int64_t t = 0; t < n_tokens; ++t) {
      kernels::quantize_row(key_type_, k + t * row + h * head_dim_, &s.keys[(n0 + t) * key_row_bytes_], head_dim_);
      kernels::quantize_row(value_type_, v + t * row + h * head_dim_, &s.values[(n0 + t) * value_row_bytes_],
                            head_dim_);
    }
    s.positions.insert(s.positions.end(), positions, positions + n_tokens);
    peak_entries_per_head_ = std::max(peak_entries_per_head_, (int64_t)s.positions.size());
  }
  peak_bytes_ = std::max(peak_bytes_, bytes());
}

void KvCache::reset_peaks() {
  peak_entries_per_head_ = 0;
  for (const auto& s : heads_) peak_entries_per_head_ = std::max(peak_entries_per_head_, (int64_t)s.positions.size());
  peak_bytes_ = bytes();
}

void KvCache::write_keys(int64_t layer, int64_t head, int64_t begin, int64_t n, const float* rows) {
  auto& s = store(layer, head);
  KV_CHECK(begin >= 0 && n >= 0 && begin + n <= (int64_t)s.positions.size());
  for (int64_t j = 0; j < n; ++j)
    kernels::quantize_row(key_type_, rows + j * head_dim_, &s.keys[(begin + j) * key_row_bytes_], head_dim_);
}

void KvCache::write_values(int64_t layer, int64_t head, int64_t begin, int64_t n, const float* rows) {
  auto& s = store(layer, head);
  KV_CHECK(begin >= 0 && n >= 0 && begin + n <= (int64_t)s.positions.size());
  for (int64_t j = 0; j < n; ++j)
    kernels::quantize_row(value_type_, rows + j * head_dim_, &s.values[(begin + j) * value_row_bytes_], head_dim_);
}

void KvCache::assign_encoded(int64_t layer, int64_t head, int64_t n, const uint8_t* key_rows,
                             const uint8_t* value_rows, const uint8_t* positions_le) {
  static_assert(std::endian::native == std::endian::little, "cache files store int32 little-endian");
  KV_CHECK(layer >= 0 && layer < n_layers_ && head >= 0 && head < n_heads_kv_ && n >= 0);
  HeadStore s;
  s.keys.assign(key_rows, key_rows + n * key_row_bytes_);
  s.values.assign(value_rows, value_rows + n * value_row_bytes_);
  s.positions.resize((size_t)n);
  if (n > 0) std::memcpy(s.positions.data(), positions_le, (size_t)n * sizeof(int32_t));
  store(layer, head) = std::move(s);
  peak_entries_per_head_ = std::max(peak_entries_per_head_, n);
  peak_bytes_ = std::max(peak_bytes_, bytes());
}

void KvCache::keep(int64_t layer, int64_t head, std::span<const int64_t> indices) {
  auto& s = store(layer, head);
  const int64_t n = (int64_t)s.positions.size();
  HeadStore kept;
  kept.keys.resize(indices.size() * key_row_bytes_);
  kept.values.resize(indices.size() * value_row_bytes_);
  kept.positions.resize(indices.size());
  int64_t previous = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t j = indices[i];
    KV_CHECK(j > previous && j < n);
    previous = j;
    std::memcpy(&kept.keys[i * key_row_bytes_], &s.keys[j * key_row_bytes_], key_row_bytes_);
    std::memcpy(&kept.values[i * value_row_bytes_], &s.values[j * value_row_bytes_], value_row_bytes_);
    kept.positions[i] = s.positions[j];
  }
  s = std::move(kept);  // the old buffers are freed here
}

std::vector<int64_t> KvCache::lengths() const {
  std::vector<int64_t> out;
  out.reserve(heads_.size());
  for (const auto& s : heads_) out.push_back((int64_t)s.positions.size());
  return out;
}

void KvCache::truncate(const std::vector<int64_t>& snapshot) {
  KV_CHECK(snapshot.size() == heads_.size());
  for (size_t i = 0; i < heads_.size(); ++i) {
    auto& s = heads_[i];
    KV_CHECK(snapshot[i] <= (int64_t)s.positions.size());
    s.keys.resize(snapshot[i] * key_row_bytes_);
    s.values.resize(snapshot[i] * value_row_bytes_);
    s.positions.resize(snapshot[i]);
  }
}

void KvCache::clear() {
  for (auto& s : heads_) s = HeadStore{};
}

int64_t KvCache::total_entries() const {
  int64_t n = 0;
  for (const auto& s : heads_) n += (int64_t)s.positions.size();
  return n;
}

int64_t KvCache::bytes() const { return total_entries() * entry_bytes(); }

}  // namespace kvpress
