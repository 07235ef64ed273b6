// Writes GGUF v3 files: metadata and tensors (tests build tiny models and broken files with it).
#pragma once
#include <cstdint>
#include <functional>
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

  // Encodes rows [first_row, first_row + n_rows) of a tensor into dst (n_rows * row_bytes bytes), rows
  // counted over ne[1] * ne[2] * ne[3].
  using RowProducer = std::function<void(int64_t first_row, int64_t n_rows, uint8_t* dst)>;
  // A tensor whose data is produced only while the file is serialized, a chunk of rows at a time (in
  // order, up to kStreamChunkBytes each), so that a multi-GB model is never held in memory whole. Each
  // serialization (write, to_bytes) calls `produce` again.
  void add_tensor_rows(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                       RowProducer produce);
  static constexpr uint64_t kStreamChunkBytes = 16u << 20;

  // Layout: header, metadata in insertion order, tensor infos, padding, data (each tensor aligned).
  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws Error on I/O failure
  // Bytes write() would produce; no tensor data is produced.
  uint64_t file_size() const;

  // What each tensor added so far is, in file order.
  struct TensorEntry {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    uint64_t n_bytes;
  };
  std::vector<TensorEntry> tensor_entries() const;

 private:
  struct Entry { std::string key; ValueType type; std::vector<uint8_t> payload; };
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> data;  // empty when `produce` is set
    uint64_t n_bytes = 0;
    int64_t n_rows = 0;
    RowProducer produce;
  };
  void put(const std::string& key, ValueType type, std::vector<uint8_t> payload);
  // Checks a new tensor's name, dims and type; returns it with n_bytes and n_rows set.
  Tensor check_tensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type) const;
  std::vector<uint8_t> header() const;  // everything before the data section, padded
  template <typename Sink>
  void serialize(Sink&& sink) const;
  std::vector<Entry> entries_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace kvpress::gguf
