// GGUF metadata values: type names, escaping of names in messages, and the typed getters of GgufFile.
#include <limits>

#include "core/error.h"
#include "gguf/gguf_detail.h"
#include "gguf/gguf_file.h"

namespace kvpress::gguf {

namespace detail {

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

std::string type_text(const Value& v) {
  if (v.type != ValueType::ARRAY) return value_type_name(v.type);
  return std::string("array of ") + value_type_name(v.array_type);
}

std::string shown(std::string_view s) {
  constexpr size_t kMaxShownChars = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t k = 0; k < s.size() && k < kMaxShownChars; ++k) {
    const auto ch = static_cast<unsigned char>(s[k]);
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  if (s.size() > kMaxShownChars) out += "...";
  return out + "'";
}

}  // namespace detail

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "invalid";
}

bool Value::is_integer() const { return detail::is_integer_type(type); }

// Typed getters: a missing key and a key of the wrong type are both input errors naming the key.
namespace {

using detail::is_integer_type;
using detail::is_signed_type;
using detail::shown;
using detail::type_text;

const Value& require_key(const GgufFile& f, const std::string& key) {
  const Value* v = f.find(key);
  if (!v) fail(f.path(), ": missing required metadata key ", shown(key));
  return *v;
}

[[noreturn]] void type_mismatch(const GgufFile& f, const std::string& key, const Value& v, const char* expected) {
  fail(f.path(), ": metadata key ", shown(key), " has type ", type_text(v), ", expected ", expected);
}

uint64_t as_uint(const GgufFile& f, const std::string& key, const Value& v) {
  if (!v.is_integer()) type_mismatch(f, key, v, "an unsigned integer");
  if (is_signed_type(v.type) && v.i < 0)
    fail(f.path(), ": metadata key ", shown(key), " is negative (", v.i, "), expected a non-negative integer");
  return v.u;
}

double as_float(const GgufFile& f, const std::string& key, const Value& v) {
  if (v.is_float()) return v.f;
  if (!v.is_integer()) type_mismatch(f, key, v, "a number");
  return is_signed_type(v.type) ? static_cast<double>(v.i) : static_cast<double>(v.u);
}

const std::string& as_string(const GgufFile& f, const std::string& key, const Value& v) {
  if (v.type != ValueType::STRING) type_mismatch(f, key, v, "string");
  return v.str;
}

bool as_bool(const GgufFile& f, const std::string& key, const Value& v) {
  if (v.type != ValueType::BOOL) type_mismatch(f, key, v, "bool");
  return v.u != 0;
}

}  // namespace

std::string GgufFile::get_string(const std::string& key) const { return as_string(*this, key, require_key(*this, key)); }

uint64_t GgufFile::get_uint(const std::string& key) const { return as_uint(*this, key, require_key(*this, key)); }

int64_t GgufFile::get_int(const std::string& key) const {
  const Value& v = require_key(*this, key);
  if (!v.is_integer()) type_mismatch(*this, key, v, "an integer");
  if (v.type == ValueType::UINT64 && v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail_here("metadata key " + shown(key) + " value " + std::to_string(v.u) + " does not fit a signed 64-bit integer");
  return v.i;
}

double GgufFile::get_float(const std::string& key) const { return as_float(*this, key, require_key(*this, key)); }

bool GgufFile::get_bool(const std::string& key) const { return as_bool(*this, key, require_key(*this, key)); }

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const Value& v = require_key(*this, key);
  if (v.type != ValueType::ARRAY || v.array_type != ValueType::STRING) type_mismatch(*this, key, v, "array of string");
  return v.strings;
}

const std::vector<int64_t>& GgufFile::get_int_array(const std::string& key) const {
  const Value& v = require_key(*this, key);
  if (v.type != ValueType::ARRAY || !(is_integer_type(v.array_type) || v.array_type == ValueType::BOOL))
    type_mismatch(*this, key, v, "array of integers");
  return v.ints;
}

const std::vector<double>& GgufFile::get_float_array(const std::string& key) const {
  const Value& v = require_key(*this, key);
  if (v.type != ValueType::ARRAY || !(v.array_type == ValueType::FLOAT32 || v.array_type == ValueType::FLOAT64))
    type_mismatch(*this, key, v, "array of floats");
  return v.floats;
}

std::string GgufFile::get_string_or(const std::string& key, const std::string& fallback) const {
  const Value* v = find(key);
  return v ? as_string(*this, key, *v) : fallback;
}

uint64_t GgufFile::get_uint_or(const std::string& key, uint64_t fallback) const {
  const Value* v = find(key);
  return v ? as_uint(*this, key, *v) : fallback;
}

double GgufFile::get_float_or(const std::string& key, double fallback) const {
  const Value* v = find(key);
  return v ? as_float(*this, key, *v) : fallback;
}

bool GgufFile::get_bool_or(const std::string& key, bool fallback) const {
  const Value* v = find(key);
  return v ? as_bool(*this, key, *v) : fallback;
}
}  // namespace kvpress::gguf
