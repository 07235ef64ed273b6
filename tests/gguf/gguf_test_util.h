// Helpers for GGUF tests: byte encoding, locating fields in writer output, patching, error checks.
#pragma once
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace kvpress::gguf::test {

using Bytes = std::vector<uint8_t>;

template <typename T>
void append(Bytes& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

inline void append_string(Bytes& out, const std::string& s) {
  append<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Encoded array payload for GgufWriter::set_raw: element type, count, elements.
template <typename T>
Bytes array_payload(ValueType elem, const std::vector<T>& values) {
  Bytes out;
  append<uint32_t>(out, static_cast<uint32_t>(elem));
  append<uint64_t>(out, values.size());
  for (const T& v : values) append<T>(out, v);
  return out;
}

template <typename T>
void patch(Bytes& bytes, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

template <typename T>
T peek(const Bytes& bytes, size_t at) {
  T v{};
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

// Offset just after the length-prefixed string `s` (its last occurrence), i.e. the field that follows
// a metadata key or a tensor name; 0 when absent (no valid field can start at 0).
inline size_t after_string(const Bytes& bytes, const std::string& s) {
  Bytes needle;
  append_string(needle, s);
  const auto it = std::find_end(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  return it == bytes.end() ? 0 : static_cast<size_t>(it - bytes.begin()) + needle.size();
}

// Field offsets of a tensor info in writer output.
struct TensorFields {
  size_t n_dims = 0, ne = 0, type = 0, offset = 0;
};

inline TensorFields tensor_fields(const Bytes& bytes, const std::string& name) {
  TensorFields f;
  f.n_dims = after_string(bytes, name);
  if (f.n_dims == 0) return f;
  const uint32_t n_dims = peek<uint32_t>(bytes, f.n_dims);
  f.ne = f.n_dims + 4;
  f.type = f.ne + 8 * n_dims;
  f.offset = f.type + 4;
  return f;
}

// Parses `bytes` expecting an Error whose one-line message is "<name>: ..." and contains `word`.
inline void expect_parse_error(const Bytes& bytes, const std::string& word, const std::string& name = "broken.gguf") {
  try {
    GgufFile::parse(bytes, name);
    ADD_FAILURE() << "expected an error containing '" << word << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_THAT(msg, ::testing::StartsWith(name + ": "));
    EXPECT_THAT(msg, ::testing::HasSubstr(word));
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace kvpress::gguf::test
