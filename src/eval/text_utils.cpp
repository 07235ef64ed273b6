// Python-like string helpers used by the metrics and generators.
#include "eval/text_utils.h"

#include <cstdio>
#include <cstdlib>

namespace kvpress::text {

std::size_t space_length_at(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c < 0x80) return 0;
  const std::size_t left = s.size() - i;
  if (c == 0xc2 && left >= 2 && (b(i + 1) == 0x85 || b(i + 1) == 0xa0)) return 2;
  if (left < 3) return 0;
  const unsigned char c1 = b(i + 1), c2 = b(i + 2);
  if (c == 0xe1 && c1 == 0x9a && c2 == 0x80) return 3;                       // U+1680
  if (c == 0xe2 && c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf) && c2 >= 0x80)
    return 3;                                                                // U+2000-200A, 2028, 2029, 202F
  if (c == 0xe2 && c1 == 0x81 && c2 == 0x9f) return 3;                       // U+205F
  if (c == 0xe3 && c1 == 0x80 && c2 == 0x80) return 3;                       // U+3000
  return 0;
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0, start = std::string_view::npos;
  while (i < s.size()) {
    const std::size_t n = space_length_at(s, i);
    if (n > 0) {
      if (start != std::string_view::npos) out.emplace_back(s.substr(start, i - start));
      start = std::string_view::npos;
      i += n;
    } else {
      if (start == std::string_view::npos) start = i;
      ++i;
    }
  }
  if (start != std::string_view::npos) out.emplace_back(s.substr(start));
  return out;
}

std::vector<std::string> split_on(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) {
      out.emplace_back(s.substr(pos));
      return out;
    }
    out.emplace_back(s.substr(pos, next - pos));
    pos = next + sep.size();
  }
}

std::string lstrip(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = space_length_at(s, i);
    if (n == 0) break;
    i += n;
  }
  return std::string(s.substr(i));
}

std::string strip(std::string_view s) {
  const std::string left = lstrip(s);
  // Scan forward remembering where the last non-space character ends: multi-byte spaces cannot be
  // recognised reliably walking backwards.
  std::size_t end = 0, i = 0;
  while (i < left.size()) {
    const std::size_t n = space_length_at(left, i);
    if (n > 0) {
      i += n;
    } else {
      ++i;
      end = i;
    }
  }
  return left.substr(0, end);
}

std::string collapse_whitespace(std::string_view s) { return join(split_whitespace(s), " "); }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = s.find(from, pos);
    if (next == std::string_view::npos) break;
    out.append(s.substr(pos, next - pos));
    out.append(to);
    pos = next + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::vector<std::string> digit_runs(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] >= '0' && s[i] <= '9') {
      const std::size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      out.emplace_back(s.substr(start, i - start));
    } else {
      ++i;
    }
  }
  return out;
}

double py_round(double x, int ndigits) {
  // printf rounds the exact binary value to the nearest decimal with ties to even, which is what
  // Python's round() does (it also goes through the correctly rounded decimal representation).
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", ndigits, x);
  return std::strtod(buf, nullptr);
}

bool is_ascii_punct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

}  // namespace kvpress::text
