// GGUF parser: header, typed metadata and tensor directory, every size and offset checked before use.
#include "gguf/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

#include "core/error.h"
#include "gguf/gguf_detail.h"
#include "gguf/mapped_file.h"

namespace kvpress::gguf {
namespace {

using detail::is_signed_type;
using detail::shown;
using detail::type_text;

constexpr uint32_t kMaxDims = 4;             // GGML tensors have at most 4 dimensions
constexpr int kMaxArrayDepth = 4;            // array of array of ... : deeper nesting is rejected
constexpr uint64_t kMaxAlignment = 1u << 30; // no real file aligns beyond pages; bounds the padding
constexpr size_t kCopyAlignment = 4096;      // parse() copies to a page-aligned buffer like a mapping
// Smallest encodings: a metadata entry is key length (8) + value type (4) + a 1-byte value;
// a tensor info is name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
constexpr uint64_t kMinKvBytes = 13;
constexpr uint64_t kMinTensorInfoBytes = 32;
// Counts are checked against the bytes left, but an element in memory can be larger than in the
// file (a uint8 becomes an int64, a string a std::string): reserve at most this many up front and
// let vectors grow with the elements actually read, so memory stays proportional to parsed bytes.
constexpr uint64_t kMaxReserve = 1 << 16;

// Real vocabularies hold under a million entries; a larger array is corrupt, and without a limit
// a bad count in a multi-GB model file could make a uint8 array read gigabytes of tensor data into
// int64s before anything else fails.
constexpr uint64_t kMaxArrayElements = 1 << 24;

size_t reserve_count(uint64_t n) { return static_cast<size_t>(std::min(n, kMaxReserve)); }

bool valid_type_id(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Bytes the smallest value of a type occupies in the file (strings and arrays: their empty form).
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

// Sequential little-endian reader over the file bytes. Every read is bounds-checked; `context_`
// names the item being parsed so that an error says where in the file it happened.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& path) : base_(base), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }
  const std::string& context() const { return context_; }

  template <typename T>
  T read(const char* what) {
    if (remaining() < sizeof(T))
      fail(path_, ": truncated file: ", what, context_suffix(), " needs ", sizeof(T), " bytes at offset ", pos_,
           " but only ", remaining(), " remain");
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      fail(path_, ": string length ", n, " of ", what, context_suffix(), " at offset ", pos_,
           " runs past the end of the file (", remaining(), " bytes remain)");
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }

  template <typename... Parts>
  [[noreturn]] void error(Parts&&... parts) const {
    fail(path_, ": ", std::forward<Parts>(parts)...);
  }

  std::string context_suffix() const { return context_.empty() ? std::string() : " of " + context_; }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
  std::string context_;
};

ValueType read_type_id(Cursor& c, const char* what) {
  const uint32_t id = c.read<uint32_t>(what);
  if (!valid_type_id(id)) c.error(c.context(), " has invalid value type id ", id, " (valid ids are 0 to 12)");
  return static_cast<ValueType>(id);
}

void read_scalar(Cursor& c, ValueType t, Value& v) {
  auto set_unsigned = [&](uint64_t x) {
    v.u = x;
    v.i = x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? static_cast<int64_t>(x) : 0;
  };
  auto set_signed = [&](int64_t x) {
    v.i = x;
    v.u = x >= 0 ? static_cast<uint64_t>(x) : 0;
  };
  switch (t) {
    case ValueType::UINT8: set_unsigned(c.read<uint8_t>("uint8 value")); break;
    case ValueType::INT8: set_signed(c.read<int8_t>("int8 value")); break;
    case ValueType::UINT16: set_unsigned(c.read<uint16_t>("uint16 value")); break;
    case ValueType::INT16: set_signed(c.read<int16_t>("int16 value")); break;
    case ValueType::UINT32: set_unsigned(c.read<uint32_t>("uint32 value")); break;
    case ValueType::INT32: set_signed(c.read<int32_t>("int32 value")); break;
    case ValueType::UINT64: set_unsigned(c.read<uint64_t>("uint64 value")); break;
    case ValueType::INT64: set_signed(c.read<int64_t>("int64 value")); break;
    case ValueType::FLOAT32: v.f = c.read<float>("float32 value"); break;
    case ValueType::FLOAT64: v.f = c.read<double>("float64 value"); break;
    case ValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) c.error(c.context(), " has invalid bool value ", static_cast<int>(b), " (expected 0 or 1)");
      v.i = b;
      v.u = b;
      break;
    }
    case ValueType::STRING: v.str = c.read_string("string value"); break;
    case ValueType::ARRAY: KV_CHECK(false && "arrays are read by read_value"); break;
  }
}

// Reads a value of type `t`; `depth` counts the arrays enclosing it (1 for a top-level array).
Value read_value(Cursor& c, ValueType t, int depth) {
  Value v;
  v.type = t;
  if (t != ValueType::ARRAY) {
    read_scalar(c, t, v);
    return v;
  }
  v.array_type = read_type_id(c, "array element type");
  v.array_size = c.read<uint64_t>("array length");
  if (v.array_type == ValueType::ARRAY && depth >= kMaxArrayDepth)
    c.error(c.context(), " has nested arrays too deep (more than ", kMaxArrayDepth, " levels)");
  // Checked before any allocation: the count must fit in the bytes left.
  const uint64_t max_count = c.remaining() / min_value_bytes(v.array_type);
  if (v.array_size > max_count)
    c.error(c.context(), " is an array of ", v.array_size, " ", value_type_name(v.array_type),
            " elements: too large, the remaining ", c.remaining(), " bytes could hold at most ", max_count,
            " (truncated or corrupt file)");
  if (v.array_size > kMaxArrayElements)
    c.error(c.context(), " is an array of ", v.array_size, " elements: too large, the limit is ", kMaxArrayElements);
  const auto n = static_cast<size_t>(v.array_size);
  const ValueType et = v.array_type;
  if (et == ValueType::STRING) {
    v.strings.reserve(reserve_count(n));
    for (size_t k = 0; k < n; ++k) v.strings.push_back(c.read_string("array element"));
  } else if (et == ValueType::FLOAT32 || et == ValueType::FLOAT64) {
    v.floats.reserve(reserve_count(n));
    for (size_t k = 0; k < n; ++k)
      v.floats.push_back(et == ValueType::FLOAT32 ? c.read<float>("float32 array element")
                                                  : c.read<double>("float64 array element"));
  } else if (et == ValueType::ARRAY) {
    // Nested arrays are walked for validation; their elements are not kept.
    for (size_t k = 0; k < n; ++k) read_value(c, ValueType::ARRAY, depth + 1);
  } else {
    v.ints.reserve(reserve_count(n));
    Value scalar;
    for (size_t k = 0; k < n; ++k) {
      read_scalar(c, et, scalar);
      // UINT64 elements above INT64_MAX keep their two's-complement bit pattern.
      v.ints.push_back(et == ValueType::UINT64 ? static_cast<int64_t>(scalar.u) : scalar.i);
    }
  }
  return v;
}

}  // namespace

int64_t TensorInfo::rows() const {
  int64_t r = 1;
  for (size_t d = 1; d < ne.size(); ++d) r *= ne[d];
  return r;
}

struct GgufFile::Storage {
  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{kCopyAlignment}); }
  };
  MappedFile mapping;
  std::unique_ptr<uint8_t[], AlignedDelete> copy;
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path) {
  GgufFile f;
  f.path_ = path;
  f.storage_ = std::make_unique<Storage>();
  f.storage_->mapping = MappedFile::open(path);
  f.base_ = f.storage_->mapping.data();
  f.size_ = f.storage_->mapping.size();
  f.parse_all();
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
  GgufFile f;
  f.path_ = name;
  f.storage_ = std::make_unique<Storage>();
  if (!bytes.empty()) {
    auto* p = static_cast<uint8_t*>(::operator new[](bytes.size(), std::align_val_t{kCopyAlignment}));
    f.storage_->copy.reset(p);
    std::memcpy(p, bytes.data(), bytes.size());
    f.base_ = p;
  }
  f.size_ = bytes.size();
  f.parse_all();
  return f;
}

void GgufFile::fail_here(const std::string& problem) const { fail(path_, ": ", problem); }

void GgufFile::parse_all() {
  if (size_ == 0) fail_here("empty file, expected a GGUF file");
  Cursor c(base_, size_, path_);

  // Header. A prefix of "GGUF" is a truncated file, anything else is not GGUF at all.
  static constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
  const size_t n_magic = static_cast<size_t>(std::min<uint64_t>(size_, 4));
  if (std::memcmp(base_, kMagic, n_magic) != 0) {
    fail_here("bad magic " + shown({reinterpret_cast<const char*>(base_), n_magic}) +
              ", expected 'GGUF' (not a GGUF file)");
  }
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3)
      fail_here("unsupported GGUF version " + std::to_string(version_) +
                " (a big-endian file? only little-endian versions 2 and 3 are supported)");
    fail_here("unsupported GGUF version " + std::to_string(version_) + " (only versions 2 and 3 are supported)");
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Counts no file of this size could hold are rejected before anything is reserved.
  if (n_kv > c.remaining() / kMinKvBytes)
    fail_here("metadata count " + std::to_string(n_kv) + " is too large: the remaining " +
              std::to_string(c.remaining()) + " bytes could hold at most " +
              std::to_string(c.remaining() / kMinKvBytes) + " entries (truncated or corrupt file)");
  const uint64_t left_for_tensors = c.remaining() - n_kv * kMinKvBytes;
  if (n_tensors > left_for_tensors / kMinTensorInfoBytes)
    fail_here("tensor count " + std::to_string(n_tensors) + " is too large: the remaining " +
              std::to_string(c.remaining()) + " bytes could hold at most " +
              std::to_string(left_for_tensors / kMinTensorInfoBytes) + " tensor infos (truncated or corrupt file)");

  // Metadata.
  for (uint64_t k = 0; k < n_kv; ++k) {
    c.set_context("metadata entry #" + std::to_string(k));
    std::string key = c.read_string("key");
    if (key.empty()) fail_here("metadata entry #" + std::to_string(k) + " has an empty key");
    c.set_context("metadata key " + shown(key));
    if (metadata_.count(key)) fail_here("duplicate metadata key " + shown(key));
    const ValueType type = read_type_id(c, "value type");
    metadata_.emplace(std::move(key), read_value(c, type, 1));
  }

  if (const Value* a = find("general.alignment")) {
    if (!a->is_integer())
      fail_here("general.alignment has type " + type_text(*a) + ", expected an unsigned integer");
    const bool negative = is_signed_type(a->type) && a->i < 0;
    const uint64_t v = a->u;
    if (negative || v == 0 || (v & (v - 1)) != 0 || v > kMaxAlignment)
      fail_here("invalid general.alignment " + (negative ? std::to_string(a->i) : std::to_string(v)) +
                ": must be a power of two between 1 and " + std::to_string(kMaxAlignment));
    alignment_ = v;
  }

  // Tensor directory.
  tensors_.reserve(reserve_count(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    try {
      c.set_context("tensor info #" + std::to_string(k));
      TensorInfo t;
      t.name = c.read_string("tensor name");
      if (t.name.empty()) fail_here("tensor info #" + std::to_string(k) + " has an empty name");
      c.set_context("tensor " + shown(t.name));
      const std::string& q = c.context();
      const uint32_t n_dims = c.read<uint32_t>("dimension count");
      if (n_dims == 0 || n_dims > kMaxDims)
        fail_here(q + " has n_dims = " + std::to_string(n_dims) + ", expected 1 to 4");
      t.ne.resize(n_dims);
      int64_t n_elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        t.ne[d] = c.read<int64_t>("dimension");
        if (t.ne[d] <= 0)
          fail_here(q + " has dimension ne[" + std::to_string(d) + "] = " + std::to_string(t.ne[d]) +
                    ", expected a positive size");
        if (__builtin_mul_overflow(n_elements, t.ne[d], &n_elements))
          fail_here(q + " element count overflows (dimensions are absurdly large)");
      }
      t.n_elements = n_elements;
      const uint32_t type_id = c.read<uint32_t>("type");
      const auto traits = ggml_type_traits(type_id);
      if (!traits) fail_here(q + " has unknown or unsupported tensor type id " + std::to_string(type_id));
      t.type = traits->type;
      if (t.ne[0] % traits->block_size != 0)
        fail_here(q + " has ne[0] = " + std::to_string(t.ne[0]) + ", not a multiple of the block size " +
                  std::to_string(traits->block_size) + " of " + traits->name);
      int64_t n_bytes = 0;
      if (__builtin_mul_overflow(t.ne[0] / traits->block_size, traits->block_bytes, &n_bytes) ||
          __builtin_mul_overflow(n_bytes, t.rows(), &n_bytes))
        fail_here(q + " byte size overflows (dimensions are absurdly large)");
      t.n_bytes = static_cast<uint64_t>(n_bytes);
      t.offset = c.read<uint64_t>("data offset");
      if (t.offset % alignment_ != 0)
        fail_here(q + " data offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(alignment_) +
                  " bytes");
      if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail_here("duplicate tensor name " + shown(t.name));
      tensors_.push_back(std::move(t));
    } catch (const Error& e) {
      // A tensor count larger than the directory makes the reader run into padding or tensor data.
      if (k == 0) throw;
      throw Error(std::string(e.what()) + " (the header declares " + std::to_string(n_tensors) +
                  " tensors; the tensor count and the file size of " + std::to_string(size_) + " bytes disagree)");
    }
  }

  // Data section: starts at the next alignment boundary after the directory. Files without
  // tensors (vocab-only files) may end right after the directory.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t data_bytes = data_start <= size_ ? size_ - data_start : 0;
  for (auto& t : tensors_) {
    if (data_start > size_ || t.offset > data_bytes || t.n_bytes > data_bytes - t.offset)
      fail_here("tensor " + shown(t.name) + " data (" + std::to_string(t.n_bytes) + " bytes at data offset " +
                std::to_string(t.offset) + ") lies outside the file: the data section holds " +
                std::to_string(data_bytes) + " bytes from offset " + std::to_string(data_start));
    t.offset += data_start;
    t.data = base_ + t.offset;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const TensorInfo& a = *by_offset[k - 1];
    const TensorInfo& b = *by_offset[k];
    if (b.offset < a.offset + a.n_bytes)
      fail_here("tensors " + shown(a.name) + " and " + shown(b.name) + " overlap (data at offsets " +
                std::to_string(a.offset) + "+" + std::to_string(a.n_bytes) + " and " + std::to_string(b.offset) + ")");
  }
}

const Value* GgufFile::find(const std::string& key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace kvpress::gguf
