// Writes GGUF v3 files: metadata and tensors (tests build tiny models and broken files with it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "gguf/gguf_file.h"

namespace kvpress::gguf {

class GgufWriter {
 public:
  void set_uint32(const std::string& key, uint32_t v);
  void set_int32(const std::string& key, int32_t v);
  void set_uint64(const std::string& key, uint64_t v);
  void set_float32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_int32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_float32_array(const std::string& key, const std::vector<float>& v);
  void set_alignment(uint32_t alignment);  // also written as general.alignment

  // `data` holds the tensor in `type` encoding (row_bytes(type, ne[0]) * rows bytes; checked).
  void add_tensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                  std::vector<uint8_t> data);
  // Convenience: f32 values stored as F32.
  void add_tensor_f32(const std::string& name, const std::vector<int64_t>& ne, const std::vector<float>& values);

  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws Error on I/O failure

 private:
  struct Entry { std::string key; ValueType type; std::vector<uint8_t> payload; };
  struct Tensor { std::string name; std::vector<int64_t> ne; GgmlType type; std::vector<uint8_t> data; };
  void put(const std::string& key, ValueType type, std::vector<uint8_t> payload);
  std::vector<Entry> entries_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace kvpress::gguf
