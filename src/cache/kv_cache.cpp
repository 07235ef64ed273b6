// KV cache storage, compaction and byte accounting.
#include "cache/kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace kvpress {

KvCache::KvCache(int64_t n_layers, int64_t n_heads_kv, int64_t head_dim)
    : n_layers_(n_layers), n_heads_kv_(n_heads_kv), head_dim_(head_dim), heads_((size_t)(n_layers * n_heads_kv)) {
  KV_CHECK(n_layers > 0 && n_heads_kv > 0 && head_dim > 0);
}

void KvCache::reserve(int64_t layer, int64_t n_more) {
  for (int64_t h = 0; h < n_heads_kv_; ++h) {
    auto& s = store(layer, h);
    const size_t n = s.positions.size() + (size_t)n_more;
    s.keys.reserve(n * head_dim_);
    s.values.reserve(n * head_dim_);
    s.positions.reserve(n);
  }
}

void KvCache::append(int64_t layer, int64_t n_tokens, const float* k, const float* v, const int32_t* positions) {
  KV_CHECK(layer >= 0 && layer < n_layers_);
  const int64_t row = n_heads_kv_ * head_dim_;
  for (int64_t h = 0; h < n_heads_kv_; ++h) {
    auto& s = store(layer, h);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* kt = k + t * row + h * head_dim_;
      const float* vt = v + t * row + h * head_dim_;
      s.keys.insert(s.keys.end(), kt, kt + head_dim_);
      s.values.insert(s.values.end(), vt, vt + head_dim_);
      s.positions.push_back(positions[t]);
    }
  }
}

void KvCache::keep(int64_t layer, int64_t head, std::span<const int64_t> indices) {
  auto& s = store(layer, head);
  const int64_t n = (int64_t)s.positions.size();
  HeadStore kept;
  kept.keys.resize(indices.size() * head_dim_);
  kept.values.resize(indices.size() * head_dim_);
  kept.positions.resize(indices.size());
  int64_t previous = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t j = indices[i];
    KV_CHECK(j > previous && j < n);
    previous = j;
    std::memcpy(&kept.keys[i * head_dim_], &s.keys[j * head_dim_], head_dim_ * sizeof(float));
    std::memcpy(&kept.values[i * head_dim_], &s.values[j * head_dim_], head_dim_ * sizeof(float));
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
    s.keys.resize(snapshot[i] * head_dim_);
    s.values.resize(snapshot[i] * head_dim_);
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
