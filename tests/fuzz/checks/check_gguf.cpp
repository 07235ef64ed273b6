// GGUF parser: any input parses or throws kvpress::Error, and a parsed file exposes only bytes inside
// the input (under ASan every tensor byte is read).
#include <string>

#include "core/error.h"
#include "fuzz_check.h"
#include "gguf/gguf_file.h"

namespace kvpress::fuzz {
namespace {

using gguf::GgufFile;
using gguf::ValueType;

uint64_t touch_metadata(const GgufFile& f) {
  uint64_t sum = 0;
  for (const auto& entry : f.metadata()) {
    const std::string& key = entry.first;  // not a structured binding: lambdas capture it below
    const auto& v = entry.second;
    sum += key.size() + v.str.size() + static_cast<uint64_t>(v.i) + v.u;
    for (const auto& s : v.strings) sum += s.size() + (s.empty() ? 0 : static_cast<uint8_t>(s.back()));
    for (int64_t x : v.ints) sum += static_cast<uint64_t>(x);
    for (double x : v.floats) sum += x == x ? 1 : 0;
    if (v.type == ValueType::ARRAY && v.array_type != ValueType::ARRAY)
      require(v.array_size == v.strings.size() + v.ints.size() + v.floats.size(), "array size matches its values", key);
    // The typed getters must throw Error (never crash) on every key whatever its type.
    auto attempt = [&](auto&& get) {
      try {
        get();
      } catch (const Error& e) {
        require_error_message(e.what());
      }
    };
    attempt([&] { sum += f.get_string(key).size(); });
    attempt([&] { sum += f.get_uint(key); });
    attempt([&] { sum += static_cast<uint64_t>(f.get_int(key)); });
    attempt([&] { sum += f.get_float(key) == 0.0 ? 1 : 0; });
    attempt([&] { sum += f.get_bool(key) ? 1 : 0; });
    attempt([&] { sum += f.get_string_array(key).size(); });
    attempt([&] { sum += f.get_int_array(key).size(); });
    attempt([&] { sum += f.get_float_array(key).size(); });
  }
  return sum;
}

uint64_t touch_tensors(const GgufFile& f) {
  uint64_t sum = 0;
  for (const auto& t : f.tensors()) {
    require(f.find_tensor(t.name) == &t, "find_tensor finds every listed tensor", t.name);
    require(!t.ne.empty() && t.ne.size() <= 4 && t.n_elements > 0 && t.rows() > 0, "tensor shape is sane", t.name);
    require(t.offset % f.alignment() == 0, "tensor offset is aligned", t.name);
    require(t.offset <= f.file_bytes() && t.n_bytes <= f.file_bytes() - t.offset, "tensor lies inside the file", t.name);
    for (uint64_t k = 0; k < t.n_bytes; ++k) sum += t.data[k];
  }
  return sum;
}

}  // namespace

void check_gguf(Bytes input) {
  try {
    const GgufFile f = GgufFile::parse(input, "fuzz-input");
    require(f.version() == 2 || f.version() == 3, "parsed version is 2 or 3");
    volatile uint64_t sink = touch_metadata(f) + touch_tensors(f);
    (void)sink;
  } catch (const Error& e) {
    const std::string message = e.what();
    require_error_message(message);
    require(message.rfind("fuzz-input: ", 0) == 0 && message.size() > 12, "the message names the input", message);
  }
}

}  // namespace kvpress::fuzz
