// KV cache storage: encoding on append, compaction of encoded rows, snapshots and byte accounting.
#include "cache/kv_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "kernels/kernels.h"

namespace kvpress {

namespace {

// row [d]: the first n_channels values are those of channels[0..n) (ascending); spreads them to their
// channels in place and zeroes the others. Back to front, so that no value is overwritten before it
// moves (channels[i] >= i).
void expand_channels(float* row, const int32_t* channels, int64_t n_channels, int64_t d) {
  int64_t next = d;
  for (int64_t i = n_channels - 1; i >= 0; --i) {
    const int64_t c = channels[i];
    const float v = row[i];
    std::fill(row + c + 1, row + next, 0.0f);
    row[c] = v;
    next = c;
  }
  std::fill(row, row + next, 0.0f);
}

}  // namespace

kernels::MatrixView KvRows::full_rows() const {
  if (!pruned()) return *this;
  return {type, full_data, n_rows - n_narrow(), n_cols, row_bytes};
}

void KvRows::read(int64_t begin, int64_t n, float* out) const {
  KV_CHECK(begin >= 0 && n >= 0 && begin + n <= n_rows);
  if (n <= 0) return;
  if (!pruned()) {
    kernels::dequantize_row(type, row(begin), out, n * n_cols);  // rows are one contiguous run
    return;
  }
  const int64_t P = n_narrow(), end = begin + n;
  int64_t j = begin;
  for (; j < end && j < P; ++j) {
    float* o = out + (j - begin) * n_cols;
    kernels::dequantize_row(narrow.type, narrow.row(j), o, narrow.n_cols);  // narrow.n_cols <= n_cols
    expand_channels(o, channels, n_channels, n_cols);
  }
  if (j < end) kernels::dequantize_row(type, full_data + (j - P) * row_bytes, out + (j - begin) * n_cols, (end - j) * n_cols);
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
  KvRows r{{key_type_, s.keys.data(), (int64_t)s.positions.size(), head_dim_, key_row_bytes_}};
  if (s.n_narrow > 0) {
    r.data = nullptr;  // rows are not addressable as one matrix: read() / full_rows() / narrow
    r.full_data = s.keys.data();
    r.narrow = {key_type_, s.narrow_keys.data(), s.n_narrow, s.narrow_cols, s.narrow_row_bytes};
    r.channels = s.key_channels.data();
    r.n_channels = (int64_t)s.key_channels.size();
  }
  return r;
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
    s.keys.reserve((n - (size_t)s.n_narrow) * key_row_bytes_);
    s.values.reserve(n * value_row_bytes_);
    s.positions.reserve(n);
  }
}

void KvCache::append(int64_t layer, int64_t n_tokens, const float* k, const float* v, const int32_t* positions) {
  KV_CHECK(layer >= 0 && layer < n_layers_);
  const int64_t row = n_heads_kv_ * head_dim_;
  for (int64_t h = 0; h < n_heads_kv_; ++h) {
    auto& s = store(layer, h);
    const size_t n0 = s.positions.size(), k0 = n0 - (size_t)s.n_narrow;  // new keys are stored whole
    s.keys.resize((k0 + n_tokens) * key_row_bytes_);
    s.values.resize((n0 + n_tokens) * value_row_bytes_);
    for (int64_t t = 0; t < n_tokens; ++t) {
      kernels::quantize_row(key_type_, k + t * row + h * head_dim_, &s.keys[(k0 + t) * key_row_bytes_], head_dim_);
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
  std::vector<float> gathered((size_t)s.narrow_cols, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t e = begin + j;
    if (e >= s.n_narrow) {
      kernels::quantize_row(key_type_, rows + j * head_dim_, &s.keys[(e - s.n_narrow) * key_row_bytes_], head_dim_);
      continue;
    }
    for (size_t i = 0; i < s.key_channels.size(); ++i) gathered[i] = rows[j * head_dim_ + s.key_channels[i]];
    kernels::quantize_row(key_type_, gathered.data(), &s.narrow_keys[e * s.narrow_row_bytes], s.narrow_cols);
  }
}

void KvCache::set_positions(int64_t layer, int64_t head, std::span<const int32_t> positions) {
  auto& s = store(layer, head);
  KV_CHECK(positions.size() == s.positions.size());
  std::copy(positions.begin(), positions.end(), s.positions.begin());
}

void KvCache::prune_key_channels(int64_t layer, int64_t head, std::span<const int32_t> kept_channels) {
  KV_CHECK(layer >= 0 && layer < n_layers_ && head >= 0 && head < n_heads_kv_);
  const int64_t n_channels = (int64_t)kept_channels.size();
  KV_CHECK(n_channels >= 1 && n_channels <= head_dim_);
  for (int64_t i = 0; i < n_channels; ++i)
    KV_CHECK(kept_channels[i] >= 0 && kept_channels[i] < head_dim_ && (i == 0 || kept_channels[i - 1] < kept_channels[i]));
  auto& s = store(layer, head);
  const int64_t n = (int64_t)s.positions.size();
  if (n == 0) return;
  // Every current entry decoded whole (pruned channels of an earlier pruning read as 0).
  std::vector<float> rows((size_t)(n * head_dim_));
  keys(layer, head).read(0, n, rows.data());
  const int64_t block = traits_of(key_type_).block_size;
  const int64_t cols = (n_channels + block - 1) / block * block;  // <= head_dim: head_dim is whole blocks
  const int64_t row_bytes = kv_row_bytes(types_.k, cols);
  std::vector<uint8_t> narrow((size_t)(n * row_bytes));
  std::vector<float> gathered((size_t)cols, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < n_channels; ++i) gathered[i] = rows[j * head_dim_ + kept_channels[i]];
    kernels::quantize_row(key_type_, gathered.data(), &narrow[j * row_bytes], cols);
  }
  s.narrow_keys = std::move(narrow);
  s.key_channels.assign(kept_channels.begin(), kept_channels.end());
  s.n_narrow = n;
  s.narrow_cols = cols;
  s.narrow_row_bytes = row_bytes;
  std::vector<uint8_t>().swap(s.keys);  // the whole rows are freed
}

bool KvCache::has_pruned_keys(int64_t layer) const {
  for (int64_t l = layer < 0 ? 0 : layer; l < (layer < 0 ? n_layers_ : layer + 1); ++l)
    for (int64_t h = 0; h < n_heads_kv_; ++h)
      if (store(l, h).n_narrow > 0) return true;
  return false;
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
  const int64_t n = (int64_t)s.positions.size(), P = s.n_narrow;
  // Ascending indices: the kept channel-pruned entries come first and stay channel-pruned.
  const int64_t n_narrow = std::lower_bound(indices.begin(), indices.end(), P) - indices.begin();
  HeadStore kept;
  kept.keys.resize((indices.size() - (size_t)n_narrow) * key_row_bytes_);
  kept.values.resize(indices.size() * value_row_bytes_);
  kept.positions.resize(indices.size());
  if (n_narrow > 0) {
    kept.narrow_keys.resize((size_t)(n_narrow * s.narrow_row_bytes));
    kept.key_channels = s.key_channels;
    kept.n_narrow = n_narrow;
    kept.narrow_cols = s.narrow_cols;
    kept.narrow_row_bytes = s.narrow_row_bytes;
  }
  int64_t previous = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t j = indices[i];
    KV_CHECK(j > previous && j < n);
    previous = j;
    if (j < P)
      std::memcpy(&kept.narrow_keys[i * s.narrow_row_bytes], &s.narrow_keys[j * s.narrow_row_bytes], s.narrow_row_bytes);
    else
      std::memcpy(&kept.keys[(i - n_narrow) * key_row_bytes_], &s.keys[(j - P) * key_row_bytes_], key_row_bytes_);
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
    if (snapshot[i] < s.n_narrow) {  // back into the channel-pruned entries
      s.n_narrow = snapshot[i];
      s.narrow_keys.resize(s.n_narrow * s.narrow_row_bytes);
      if (s.n_narrow == 0) s.key_channels.clear();
    }
    s.keys.resize((snapshot[i] - s.n_narrow) * key_row_bytes_);
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

int64_t KvCache::bytes() const {
  int64_t n = 0;
  for (const auto& s : heads_) n += s.bytes(key_row_bytes_, value_row_bytes_);
  return n;
}

}  // namespace kvpress
