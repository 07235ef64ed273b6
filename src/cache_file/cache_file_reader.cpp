// Reading a cache file: the preamble (magic, version, size) and checksum first, so a damaged file is
// named as such rather than by whichever field the damage hit; then every field bounds-checked.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cache_file/cache_file.h"
#include "core/error.h"
#include "model/model.h"

namespace kvpress {
namespace {

constexpr size_t kPreambleBytes = sizeof kCacheFileMagic + sizeof(uint32_t) + sizeof(uint64_t);
constexpr size_t kChecksumBytes = sizeof(uint64_t);
constexpr uint32_t kMaxTextBytes = 1u << 20;  // press spec, prompt suffix, warnings: far below in practice

// Bounds-checked little-endian reads over [begin, end) of the file; errors name the field.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t begin, size_t end, const std::string& name)
      : bytes_(bytes), pos_(begin), end_(end), name_(name) {}

  const uint8_t* take(uint64_t n, const char* what) {
    if (n > end_ - pos_)
      fail(name_, ": malformed cache file: ", what, " needs ", n, " bytes at offset ", pos_, ", only ", end_ - pos_,
           " are left");
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += (size_t)n;
    return p;
  }
  template <class T>
  T value(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  std::string text(const char* what) {
    const uint32_t n = value<uint32_t>(what);
    if (n > kMaxTextBytes) fail(name_, ": malformed cache file: ", what, " of ", n, " bytes (at most ", kMaxTextBytes, ")");
    const uint8_t* p = take(n, what);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  uint64_t left() const { return end_ - pos_; }
  size_t pos() const { return pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_, end_;
  const std::string& name_;
};

std::string hex(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

void check_preamble(std::span<const uint8_t> bytes, const std::string& name) {
  const size_t size = bytes.size();
  // A file shorter than the magic that starts like it is a truncated cache file, not another kind.
  if (std::memcmp(bytes.data(), kCacheFileMagic, std::min(size, sizeof kCacheFileMagic)) != 0)
    fail(name, ": not a kvpress cache file (it does not start with 'KVPCACHE')");
  if (size < kPreambleBytes + kChecksumBytes)
    fail(name, ": truncated cache file: ", size, " bytes, shorter than the ", kPreambleBytes + kChecksumBytes,
         "-byte preamble and checksum");
  Reader r(bytes, sizeof kCacheFileMagic, size, name);
  const uint32_t version = r.value<uint32_t>("format version");
  if (version != kCacheFileVersion)
    fail(name, ": cache file format version ", version, ", this build reads version ", kCacheFileVersion,
         " (write it again with `kvpress compress`)");
  const uint64_t file_bytes = r.value<uint64_t>("file size");
  if (file_bytes > size)
    fail(name, ": truncated cache file: the header records ", file_bytes, " bytes, the file has ", size);
  if (file_bytes < size)
    fail(name, ": malformed cache file: the header records ", file_bytes, " bytes, the file has ", size,
         " (trailing data)");
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + size - kChecksumBytes, kChecksumBytes);
  const uint64_t computed = cache_file_checksum(bytes.first(size - kChecksumBytes));
  if (stored != computed)
    fail(name, ": corrupted cache file: checksum mismatch (stored ", hex(stored), ", computed ", hex(computed), ")");
}

KvType kv_type_code(uint8_t code, const char* what, const std::string& name) {
  if (code > (uint8_t)KvType::Q4_0)
    fail(name, ": malformed cache file: ", what, " code ", (int)code, " (expected 0..4: f32 f16 bf16 q8_0 q4_0)");
  return (KvType)code;
}

}  // namespace

LoadedCacheFile read_cache_file(std::span<const uint8_t> bytes, const Model& model, const std::string& name) {
  check_preamble(bytes, name);
  Reader r(bytes, kPreambleBytes, bytes.size() - kChecksumBytes, name);

  ModelBinding b;
  b.arch = r.text("architecture");
  for (int64_t* v : {&b.n_layers, &b.n_heads, &b.n_heads_kv, &b.head_dim, &b.n_embd, &b.n_vocab})
    *v = r.value<int64_t>("model shape");
  b.weights_fingerprint = r.value<uint64_t>("model fingerprint");
  b.tokenizer_hash = r.value<uint64_t>("tokenizer hash");
  check_binding(b, model, name);

  CacheFileSession s;
  s.press_spec = r.text("press spec");
  s.compression_ratio = r.value<double>("compression ratio");
  if (!std::isfinite(s.compression_ratio) || s.compression_ratio < 0 || s.compression_ratio >= 1)
    fail(name, ": malformed cache file: compression ratio ", s.compression_ratio, " outside [0, 1)");
  KvTypes types;
  types.k = kv_type_code(r.value<uint8_t>("kv type k"), "kv_type_k", name);
  types.v = kv_type_code(r.value<uint8_t>("kv type v"), "kv_type_v", name);
  const uint8_t text_mode = r.value<uint8_t>("text mode flag");
  if (text_mode > 1) fail(name, ": malformed cache file: text mode flag ", (int)text_mode, " (expected 0 or 1)");
  s.text_mode = text_mode == 1;
  s.question_suffix = r.text("question suffix");

  const uint64_t n_context = r.value<uint64_t>("context length");
  if (n_context == 0 || n_context > r.left() / sizeof(int32_t))
    fail(name, ": malformed cache file: context length ", n_context, " (expected 1..", r.left() / sizeof(int32_t), ")");
  s.context_ids.resize((size_t)n_context);
  std::memcpy(s.context_ids.data(), r.take(n_context * sizeof(int32_t), "context ids"), n_context * sizeof(int32_t));
  for (size_t i = 0; i < s.context_ids.size(); ++i)
    if (s.context_ids[i] < 0 || s.context_ids[i] >= b.n_vocab)
      fail(name, ": malformed cache file: context token ", i, " is id ", s.context_ids[i], ", outside the vocabulary of ",
           b.n_vocab);
  s.question_start = r.value<int32_t>("question start");
  if (s.question_start < 0 || (uint64_t)s.question_start > n_context)
    fail(name, ": malformed cache file: question start ", s.question_start, " outside 0..", n_context);
  const uint32_t n_warnings = r.value<uint32_t>("warning count");
  if (n_warnings > r.left() / sizeof(uint32_t))
    fail(name, ": malformed cache file: ", n_warnings, " warnings cannot fit in the ", r.left(), " bytes left");
  for (uint32_t i = 0; i < n_warnings; ++i) s.warnings.push_back(r.text("warning"));

  KvCache cache = [&] {
    try {
      return model.make_cache(types);
    } catch (const Error& e) {
      fail(name, ": the cache's KV types do not fit this model: ", e.what());
    }
  }();
  const uint64_t entry_bytes = sizeof(int32_t) + (uint64_t)cache.entry_bytes();
  const int64_t n_heads = cache.n_layers() * cache.n_heads_kv();
  std::vector<uint64_t> lengths((size_t)n_heads);
  uint64_t rows_bytes = 0;
  for (int64_t i = 0; i < n_heads; ++i) {
    lengths[i] = r.value<uint64_t>("head length");
    if (lengths[i] > n_context)
      fail(name, ": malformed cache file: (layer ", i / cache.n_heads_kv(), ", head ", i % cache.n_heads_kv(),
           ") holds ", lengths[i], " entries, more than the context's ", n_context);
    rows_bytes += lengths[i] * entry_bytes;  // <= n_context * entry_bytes: no overflow for a mappable file
  }
  if (rows_bytes != r.left())
    fail(name, ": malformed cache file: the head lengths need ", rows_bytes, " bytes of rows, the file has ", r.left());
  const KvTypes stored = cache.types();
  for (int64_t i = 0; i < n_heads; ++i) {
    const int64_t layer = i / cache.n_heads_kv(), head = i % cache.n_heads_kv(), n = (int64_t)lengths[i];
    const uint8_t* positions = r.take(n * sizeof(int32_t), "positions");
    for (int64_t j = 0; j < n; ++j) {
      int32_t p;
      std::memcpy(&p, positions + j * sizeof(int32_t), sizeof p);
      if (p < 0 || (uint64_t)p >= n_context)
        fail(name, ": malformed cache file: (layer ", layer, ", head ", head, ") entry ", j, " has position ", p,
             ", outside the context's 0..", n_context - 1);
    }
    const uint8_t* keys = r.take(n * kv_row_bytes(stored.k, cache.head_dim()), "key rows");
    const uint8_t* values = r.take(n * kv_row_bytes(stored.v, cache.head_dim()), "value rows");
    cache.assign_encoded(layer, head, n, keys, values, positions);
  }
  return {std::move(s), std::move(cache)};
}

}  // namespace kvpress
