// Read-only view of a GGUF file (versions 2 and 3): typed metadata and the tensor directory.
// Every file is untrusted: all sizes and offsets are validated before use; problems raise
// kvpress::Error with a one-line message "<path>: <problem>".
// Thread-safety: immutable after open(); safe to share between threads.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace kvpress::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Scalars fill exactly one of the scalar fields; arrays fill the vector
// that matches their element type (nested arrays are validated but their elements not kept).
struct Value {
  ValueType type = ValueType::UINT8;
  ValueType array_type = ValueType::UINT8;  // element type when type == ARRAY
  uint64_t array_size = 0;                  // element count when type == ARRAY
  int64_t i = 0;       // integer types and BOOL (UINT64 above INT64_MAX is stored in u)
  uint64_t u = 0;      // integer types (non-negative values) and BOOL
  double f = 0;        // FLOAT32 / FLOAT64
  std::string str;     // STRING
  std::vector<std::string> strings;  // ARRAY of STRING
  std::vector<int64_t> ints;         // ARRAY of integer types or BOOL
  std::vector<double> floats;        // ARRAY of FLOAT32 / FLOAT64

  bool is_integer() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;   // dimensions, ne[0] is the contiguous (row) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;       // absolute offset of the data in the file
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
  const uint8_t* data = nullptr;  // points into the mapping owned by the GgufFile

  int64_t rows() const;  // product of ne[1..]
};

class GgufFile {
 public:
  // Memory-maps and parses a file.
  static GgufFile open(const std::string& path);
  // Parses bytes held in memory (copied); `name` is used in error messages. For tests and fuzzing.
  static GgufFile parse(std::span<const uint8_t> bytes, const std::string& name);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_bytes() const { return size_; }
  // The whole file's bytes (the mapping or the parsed copy); metadata and tensor directory come first.
  std::span<const uint8_t> bytes() const { return {base_, size_}; }

  const std::map<std::string, Value>& metadata() const { return metadata_; }
  const Value* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: throw "<path>: missing required metadata key 'k'" or a type-mismatch error.
  std::string get_string(const std::string& key) const;
  uint64_t get_uint(const std::string& key) const;   // any non-negative integer type
  int64_t get_int(const std::string& key) const;     // any integer type that fits int64
  double get_float(const std::string& key) const;    // float or integer types
  bool get_bool(const std::string& key) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;
  const std::vector<double>& get_float_array(const std::string& key) const;  // FLOAT32/FLOAT64 arrays

  // Optional variants: the fallback when the key is absent; still a type error when present but wrong.
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  uint64_t get_uint_or(const std::string& key, uint64_t fallback) const;
  double get_float_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;

 private:
  GgufFile() = default;
  struct Storage;  // mapping or owned bytes
  void parse_all();
  [[noreturn]] void fail_here(const std::string& problem) const;

  std::unique_ptr<Storage> storage_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace kvpress::gguf
