// Writes GGUF v3 files: metadata and tensors (tests build tiny models and broken files with it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "gguf/gguf_file.h"

namespace kvpress::gguf {

// Not thread-safe (one builder, one thread). Tensors are checked when added; set_raw values are not.
class GgufWriter {
 public:
  // Setting a key again replaces its value and keeps its first position.
  void set_uint8(const std::string& key, uint8_t v);
  void set_int8(const std::string& key, int8_t v);
  void set_uint16(const std::string& key, uint16_t v);
  void set_int16(const std::string& key, int16_t v);
  void set_uint32(const std::string& key, uint32_t v);
  void set_int32(const std::string& key, int32_t v);
  void set_uint64(const std::string& key, uint64_t v);
  void set_int64(const std::string& key, int64_t v);
  void set_float32(const std::string& key, float v);
  void set_float64(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_int32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_float32_array(const std::string& key, const std::vector<float>& v);
  void set_alignment(uint32_t alignment);  // also written as general.alignment; a power of two
  // Any value given as its encoded bytes (for arrays: element type, count, elements), written
  // unchecked after the type id: tests use it for other array types, nesting and broken values.
  void set_raw(const std::string& key, ValueType type, std::vector<uint8_t> payload);

  // `data` holds the tensor in `type` encoding (row_bytes(type, ne[0]) * rows bytes; checked).
  void add_tensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                  std::vector<uint8_t> data);
  // Convenience: f32 values stored as F32.
  void add_tensor_f32(const std::string& name, const std::vector<int64_t>& ne, const std::vector<float>& values);

  // Layout: header, metadata in insertion order, tensor infos, padding, data (each tensor aligned).
  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws Error on I/O failure

 private:
  struct Entry { std::string key; ValueType type; std::vector<uint8_t> payload; };
  struct Tensor { std::string name; std::vector<int64_t> ne; GgmlType type; std::vector<uint8_t> data; };
  void put(const std::string& key, ValueType type, std::vector<uint8_t> payload);
  template <typename Sink>
  void serialize(Sink&& sink) const;
  std::vector<Entry> entries_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace kvpress::gguf
