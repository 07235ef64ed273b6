// Error helpers.
#include "core/error.h"

namespace kvpress {

std::string one_line(std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.append("\\x").append(1, kHex[b >> 4]).append(1, kHex[b & 15]);
    }
  }
  return out;
}

void check_failed(const char* expr, const char* file, int line) {
  throw Error(std::string("internal error: check failed: ") + expr + " at " + file + ":" + std::to_string(line));
}

}  // namespace kvpress
