// A fast non-cryptographic 64-bit hash, streaming or one-shot: the cache file's checksum and the
// model and tokenizer fingerprints that bind a cache file to its model (docs/kv-cache-file.md).
// Detects accidental change (a flipped bit, a truncated copy, another model); not tampering.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace kvpress {

// Four independent multiply-rotate lanes over 32-byte stripes (so the CPU overlaps them), the tail and
// the length folded in at the end, then a final avalanche. Results are the same on every host: words are
// read little-endian. Thread-safety: none; one hasher per thread.
class Hash64 {
 public:
  explicit Hash64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  void update(std::string_view text) { update_u64(text.size()), update(text.data(), text.size()); }
  void update_u64(uint64_t v);  // the value's 8 little-endian bytes
  uint64_t digest() const;      // of everything so far; the state is unchanged

 private:
  void stripe(const uint8_t* p);
  uint64_t lanes_[4];
  uint8_t buffer_[32];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

uint64_t hash64(std::span<const uint8_t> bytes, uint64_t seed = 0);

}  // namespace kvpress
