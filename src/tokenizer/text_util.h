// UTF-8 helpers and the token-text lookup table shared by the SPM and BPE tokenizers (internal).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kvpress::tok {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when the bytes there are not one
// (bad lead byte, truncated, overlong, surrogate or above U+10FFFF).
inline size_t utf8_valid_len(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return (uint8_t)s[i + k]; };
  const size_t left = s.size() - i;
  const uint8_t c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t min_cp;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) { n = 2; min_cp = 0x80; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; min_cp = 0x800; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; min_cp = 0x10000; cp = c & 0x07; }
  else return 0;
  if (left < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Length of the character at s[i] for splitting into symbols: the UTF-8 sequence, or 1 for a stray byte.
inline size_t utf8_char_len(std::string_view s, size_t i) {
  const size_t n = utf8_valid_len(s, i);
  return n ? n : 1;
}

// Decodes the (valid) sequence at s[i] and advances i.
inline uint32_t utf8_decode(std::string_view s, size_t& i) {
  const size_t n = utf8_char_len(s, i);
  const uint8_t c = (uint8_t)s[i];
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | ((uint8_t)s[i + k] & 0x3F);
  i += n;
  return cp;
}

inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += (char)cp;
  } else if (cp < 0x800) {
    out += (char)(0xC0 | (cp >> 6));
    out += (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += (char)(0xE0 | (cp >> 12));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  } else {
    out += (char)(0xF0 | (cp >> 18));
    out += (char)(0x80 | ((cp >> 12) & 0x3F));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  }
}

// "<0xAB>" -> 0xAB; -1 when the text is not a byte-token name.
inline int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (size_t k = 3; k < 5; ++k) {
    const char c = text[k];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Hash that lets an unordered_map<std::string, ...> be searched with a string_view (no allocation).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Token text -> id. For duplicate texts the highest id wins, as in llama.cpp.
using TokenLookup = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline int32_t find_id(const TokenLookup& lookup, std::string_view text) {
  const auto it = lookup.find(text);
  return it == lookup.end() ? -1 : it->second;
}

}  // namespace kvpress::tok
