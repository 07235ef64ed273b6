// GGUF v3 writer: metadata in insertion order, tensor directory, aligned data section.
#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace kvpress::gguf {
namespace {

template <typename T>
void append(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void append_string(std::vector<uint8_t>& out, const std::string& s) {
  append<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

template <typename T>
std::vector<uint8_t> scalar(T v) {
  std::vector<uint8_t> out;
  append(out, v);
  return out;
}

std::vector<uint8_t> array_header(ValueType elem, uint64_t n) {
  std::vector<uint8_t> out;
  append<uint32_t>(out, static_cast<uint32_t>(elem));
  append<uint64_t>(out, n);
  return out;
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

void GgufWriter::put(const std::string& key, ValueType type, std::vector<uint8_t> payload) {
  for (auto& e : entries_) {
    if (e.key == key) {
      e.type = type;
      e.payload = std::move(payload);
      return;
    }
  }
  entries_.push_back({key, type, std::move(payload)});
}

void GgufWriter::set_uint8(const std::string& key, uint8_t v) { put(key, ValueType::UINT8, scalar(v)); }
void GgufWriter::set_int8(const std::string& key, int8_t v) { put(key, ValueType::INT8, scalar(v)); }
void GgufWriter::set_uint16(const std::string& key, uint16_t v) { put(key, ValueType::UINT16, scalar(v)); }
void GgufWriter::set_int16(const std::string& key, int16_t v) { put(key, ValueType::INT16, scalar(v)); }
void GgufWriter::set_uint32(const std::string& key, uint32_t v) { put(key, ValueType::UINT32, scalar(v)); }
void GgufWriter::set_int32(const std::string& key, int32_t v) { put(key, ValueType::INT32, scalar(v)); }
void GgufWriter::set_uint64(const std::string& key, uint64_t v) { put(key, ValueType::UINT64, scalar(v)); }
void GgufWriter::set_int64(const std::string& key, int64_t v) { put(key, ValueType::INT64, scalar(v)); }
void GgufWriter::set_float32(const std::string& key, float v) { put(key, ValueType::FLOAT32, scalar(v)); }
void GgufWriter::set_float64(const std::string& key, double v) { put(key, ValueType::FLOAT64, scalar(v)); }
void GgufWriter::set_bool(const std::string& key, bool v) { put(key, ValueType::BOOL, scalar<uint8_t>(v ? 1 : 0)); }

void GgufWriter::set_string(const std::string& key, const std::string& v) {
  std::vector<uint8_t> out;
  append_string(out, v);
  put(key, ValueType::STRING, std::move(out));
}

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  auto out = array_header(ValueType::STRING, v.size());
  for (const auto& s : v) append_string(out, s);
  put(key, ValueType::ARRAY, std::move(out));
}

void GgufWriter::set_int32_array(const std::string& key, const std::vector<int32_t>& v) {
  auto out = array_header(ValueType::INT32, v.size());
  for (int32_t x : v) append(out, x);
  put(key, ValueType::ARRAY, std::move(out));
}

void GgufWriter::set_float32_array(const std::string& key, const std::vector<float>& v) {
  auto out = array_header(ValueType::FLOAT32, v.size());
  for (float x : v) append(out, x);
  put(key, ValueType::ARRAY, std::move(out));
}

void GgufWriter::set_raw(const std::string& key, ValueType type, std::vector<uint8_t> payload) {
  put(key, type, std::move(payload));
}

void GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail("GgufWriter: alignment ", alignment, " is not a power of two");
  alignment_ = alignment;
  set_uint32("general.alignment", alignment);
}

GgufWriter::Tensor GgufWriter::check_tensor(const std::string& name, const std::vector<int64_t>& ne,
                                            GgmlType type) const {
  if (name.empty()) fail("GgufWriter: empty tensor name");
  for (const auto& t : tensors_)
    if (t.name == name) fail("GgufWriter: duplicate tensor name '", name, "'");
  if (ne.empty() || ne.size() > 4) fail("GgufWriter: tensor '", name, "' has ", ne.size(), " dimensions, expected 1 to 4");
  int64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) fail("GgufWriter: tensor '", name, "' has dimension ne[", d, "] = ", ne[d]);
    if (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows)) fail("GgufWriter: tensor '", name, "' is too large");
  }
  const auto& traits = traits_of(type);
  if (ne[0] % traits.block_size != 0)
    fail("GgufWriter: tensor '", name, "' has ne[0] = ", ne[0], ", not a multiple of the block size ",
         traits.block_size, " of ", traits.name);
  int64_t n_bytes = 0;
  if (__builtin_mul_overflow(row_bytes(type, ne[0]), rows, &n_bytes))
    fail("GgufWriter: tensor '", name, "' is too large");
  Tensor t;
  t.name = name, t.ne = ne, t.type = type, t.n_bytes = static_cast<uint64_t>(n_bytes), t.n_rows = rows;
  return t;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                            std::vector<uint8_t> data) {
  Tensor t = check_tensor(name, ne, type);
  if (t.n_bytes != data.size())
    fail("GgufWriter: tensor '", name, "' of type ", traits_of(type).name, " needs ", t.n_bytes,
         " bytes of data, got ", data.size());
  t.data = std::move(data);
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor_rows(const std::string& name, const std::vector<int64_t>& ne, GgmlType type,
                                 RowProducer produce) {
  if (!produce) fail("GgufWriter: tensor '", name, "' has no producer");
  Tensor t = check_tensor(name, ne, type);
  t.produce = std::move(produce);
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor_f32(const std::string& name, const std::vector<int64_t>& ne,
                                const std::vector<float>& values) {
  std::vector<uint8_t> data(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());
  add_tensor(name, ne, GgmlType::F32, std::move(data));
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> head = {'G', 'G', 'U', 'F'};
  append<uint32_t>(head, 3);
  append<uint64_t>(head, tensors_.size());
  append<uint64_t>(head, entries_.size());
  for (const auto& e : entries_) {
    append_string(head, e.key);
    append<uint32_t>(head, static_cast<uint32_t>(e.type));
    head.insert(head.end(), e.payload.begin(), e.payload.end());
  }
  uint64_t offset = 0;  // relative to the start of the data section
  for (const auto& t : tensors_) {
    offset = align_up(offset, alignment_);
    append_string(head, t.name);
    append<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) append<int64_t>(head, n);
    append<uint32_t>(head, static_cast<uint32_t>(t.type));
    append<uint64_t>(head, offset);
    offset += t.n_bytes;
  }
  head.resize(align_up(head.size(), alignment_), 0);
  return head;
}

uint64_t GgufWriter::file_size() const {
  uint64_t n = header().size();  // already aligned, as is each tensor's start
  for (const auto& t : tensors_) n = align_up(n, alignment_) + t.n_bytes;
  return n;
}

std::vector<GgufWriter::TensorEntry> GgufWriter::tensor_entries() const {
  std::vector<TensorEntry> out;
  out.reserve(tensors_.size());
  for (const auto& t : tensors_) out.push_back({t.name, t.ne, t.type, t.n_bytes});
  return out;
}

// Emits the file through `sink(const uint8_t*, size_t)`, so that write() streams the tensor data
// instead of building a second copy of the whole file in memory.
template <typename Sink>
void GgufWriter::serialize(Sink&& sink) const {
  const std::vector<uint8_t> head = header();
  sink(head.data(), head.size());

  const std::vector<uint8_t> zeros(alignment_, 0);
  std::vector<uint8_t> chunk;
  uint64_t written = 0;
  for (const auto& t : tensors_) {
    const uint64_t pad = align_up(written, alignment_) - written;
    sink(zeros.data(), static_cast<size_t>(pad));
    if (!t.produce) {
      sink(t.data.data(), t.data.size());
    } else {
      const uint64_t rb = t.n_bytes / static_cast<uint64_t>(t.n_rows);
      const int64_t rows_per_chunk = static_cast<int64_t>(std::max<uint64_t>(1, kStreamChunkBytes / rb));
      for (int64_t r = 0; r < t.n_rows; r += rows_per_chunk) {
        const int64_t n = std::min(rows_per_chunk, t.n_rows - r);
        chunk.resize(static_cast<size_t>(rb * n));
        t.produce(r, n, chunk.data());
        sink(chunk.data(), chunk.size());
      }
    }
    written += pad + t.n_bytes;
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  serialize([&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

void GgufWriter::write(const std::string& path) const {
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> f(std::fopen(path.c_str(), "wb"));
  if (!f) fail(path, ": cannot open for writing (", std::strerror(errno), ")");
  bool ok = true;
  serialize([&](const uint8_t* p, size_t n) {
    if (ok && n > 0 && std::fwrite(p, 1, n, f.get()) != n) ok = false;
  });
  if (!ok) fail(path, ": write failed (", std::strerror(errno), ")");
  if (std::fclose(f.release()) != 0) fail(path, ": write failed on close (", std::strerror(errno), ")");
}

}  // namespace kvpress::gguf
