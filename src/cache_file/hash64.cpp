// Hash64: lanes of (lane + word * k2) rotated and multiplied by k1, the usual shape of fast
// non-cryptographic hashes; the constants are odd 64-bit numbers with well-mixed bits.
#include "cache_file/hash64.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace kvpress {
namespace {

constexpr uint64_t kK1 = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
constexpr uint64_t kK2 = 0xD6E8FEB86659FD93ull;
constexpr uint64_t kK3 = 0xFF51AFD7ED558CCDull;

uint64_t load_le(const uint8_t* p) {
  static_assert(std::endian::native == std::endian::little, "Hash64 reads words little-endian");
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

uint64_t round(uint64_t lane, uint64_t word) { return std::rotl(lane + word * kK2, 31) * kK1; }

// Every input bit affects every output bit (the splitmix64 finaliser).
uint64_t avalanche(uint64_t h) {
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

}  // namespace

Hash64::Hash64(uint64_t seed) : lanes_{seed + kK1, seed + kK2, seed, seed - kK1} {}

void Hash64::stripe(const uint8_t* p) {
  for (int i = 0; i < 4; ++i) lanes_[i] = round(lanes_[i], load_le(p + 8 * i));
}

void Hash64::update(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_bytes_ += n;
  if (buffered_ > 0) {
    const size_t take = std::min(n, sizeof buffer_ - buffered_);
    std::memcpy(buffer_ + buffered_, p, take);
    buffered_ += take, p += take, n -= take;
    if (buffered_ < sizeof buffer_) return;
    stripe(buffer_);
    buffered_ = 0;
  }
  for (; n >= 32; p += 32, n -= 32) stripe(p);
  std::memcpy(buffer_, p, n);
  buffered_ = n;
}

void Hash64::update_u64(uint64_t v) {
  uint8_t b[8];
  std::memcpy(b, &v, 8);
  update(b, 8);
}

uint64_t Hash64::digest() const {
  uint64_t h = std::rotl(lanes_[0], 1) + std::rotl(lanes_[1], 7) + std::rotl(lanes_[2], 12) + std::rotl(lanes_[3], 18);
  h = (h ^ total_bytes_) * kK1;
  size_t i = 0;
  for (; i + 8 <= buffered_; i += 8) h = std::rotl(h ^ round(0, load_le(buffer_ + i)), 27) * kK1 + kK3;
  for (; i < buffered_; ++i) h = std::rotl(h ^ (buffer_[i] * kK3), 11) * kK1;
  return avalanche(h);
}

uint64_t hash64(std::span<const uint8_t> bytes, uint64_t seed) {
  Hash64 h(seed);
  h.update(bytes.data(), bytes.size());
  return h.digest();
}

}  // namespace kvpress
