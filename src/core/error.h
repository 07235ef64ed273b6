// Error type of the library and the internal-invariant CHECK macro.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kvpress/error.h"  // Error: thrown through the public API too

namespace kvpress {

inline std::string to_message_piece(const std::string& s) { return s; }
inline std::string to_message_piece(const char* s) { return s; }
inline std::string to_message_piece(std::string_view s) { return std::string(s); }
inline std::string to_message_piece(char c) { return std::string(1, c); }
template <typename T>
  requires std::is_arithmetic_v<T>
std::string to_message_piece(T v) { return std::to_string(v); }

// Throws Error with the concatenated pieces: fail("file ", path, ": bad magic").
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::string message;
  (message.append(to_message_piece(std::forward<Parts>(parts))), ...);
  throw Error(message);
}

// User text quoted in a message, kept on one line: control characters are written as \n, \r, \t
// or \xNN (other bytes, UTF-8 included, are kept).
std::string one_line(std::string_view text);

[[noreturn]] void check_failed(const char* expr, const char* file, int line);

}  // namespace kvpress

// Internal invariants only (a failed CHECK is a bug in kvpress, not in the input).
#define KV_CHECK(expr) \
  do { if (!(expr)) ::kvpress::check_failed(#expr, __FILE__, __LINE__); } while (0)
