// Hash64: streaming equals one-shot for every split, and single-bit changes change the hash.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "cache_file/hash64.h"

namespace kvpress {
namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = (uint8_t)(i * 131 + 7);
  return b;
}

TEST(Hash64, StreamingInAnyPiecesEqualsOneShot) {
  const auto b = pattern(203);
  const uint64_t whole = hash64(b);
  for (size_t split = 0; split <= b.size(); ++split) {
    Hash64 h;
    h.update(b.data(), split);
    h.update(b.data() + split, b.size() - split);
    EXPECT_EQ(h.digest(), whole) << split;
  }
}

TEST(Hash64, EveryFlippedBitAndEveryLengthGivesAnotherHash) {
  const auto b = pattern(100);
  std::set<uint64_t> seen;
  for (size_t n = 0; n <= b.size(); ++n) seen.insert(hash64(std::span(b).first(n)));
  for (size_t bit = 0; bit < b.size() * 8; ++bit) {
    auto c = b;
    c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    seen.insert(hash64(c));
  }
  EXPECT_EQ(seen.size(), 101u + 800u);
  EXPECT_NE(hash64(b, 1), hash64(b, 2));
}

}  // namespace
}  // namespace kvpress
