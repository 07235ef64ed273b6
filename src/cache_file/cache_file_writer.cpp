// Writing a cache file: every field little-endian in the order docs/kv-cache-file.md lists, hashed as it
// is written (no copy of the cache is built in memory), into a temporary file renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cache_file/cache_file.h"
#include "cache_file/hash64.h"
#include "core/error.h"
#include "model/model.h"

namespace kvpress {
namespace {

static_assert(std::endian::native == std::endian::little, "cache files are written with the host's byte order");
static_assert((int)KvType::F32 == 0 && (int)KvType::F16 == 1 && (int)KvType::BF16 == 2 && (int)KvType::Q8_0 == 3 &&
              (int)KvType::Q4_0 == 4, "the KV type codes of the file format (docs/kv-cache-file.md)");

// Counts the bytes of the file (file == null) or writes and hashes them.
class Sink {
 public:
  Sink(std::FILE* file, const std::string& path) : file_(file), path_(path) {}
  void bytes(const void* p, size_t n) {
    if (n == 0) return;
    count_ += n;
    if (!file_) return;
    hash_.update(p, n);
    if (std::fwrite(p, 1, n, file_) != n) fail(path_, ": cannot write the cache file (", std::strerror(errno), ")");
  }
  template <class T>
  void value(T v) { bytes(&v, sizeof v); }
  void text(const std::string& s) {
    value<uint32_t>((uint32_t)s.size());
    bytes(s.data(), s.size());
  }
  uint64_t count() const { return count_; }
  uint64_t digest() const { return hash_.digest(); }

 private:
  std::FILE* file_;
  const std::string& path_;
  Hash64 hash_;
  uint64_t count_ = 0;
};

void emit(Sink& out, uint64_t file_bytes, const ModelBinding& b, const CacheFileSession& s, const KvCache& cache) {
  out.bytes(kCacheFileMagic, sizeof kCacheFileMagic);
  out.value<uint32_t>(kCacheFileVersion);
  out.value<uint64_t>(file_bytes);
  out.text(b.arch);
  for (int64_t v : {b.n_layers, b.n_heads, b.n_heads_kv, b.head_dim, b.n_embd, b.n_vocab}) out.value<int64_t>(v);
  out.value<uint64_t>(b.weights_fingerprint);
  out.value<uint64_t>(b.tokenizer_hash);
  out.text(s.press_spec);
  out.value<double>(s.compression_ratio);
  out.value<uint8_t>((uint8_t)cache.types().k);
  out.value<uint8_t>((uint8_t)cache.types().v);
  out.value<uint8_t>(s.text_mode ? 1 : 0);
  out.text(s.question_suffix);
  out.value<uint64_t>(s.context_ids.size());
  out.bytes(s.context_ids.data(), s.context_ids.size() * sizeof(int32_t));
  out.value<int32_t>(s.question_start);
  out.value<uint32_t>((uint32_t)s.warnings.size());
  for (const auto& w : s.warnings) out.text(w);
  for (int64_t l = 0; l < cache.n_layers(); ++l)
    for (int64_t h = 0; h < cache.n_heads_kv(); ++h) out.value<uint64_t>((uint64_t)cache.length(l, h));
  for (int64_t l = 0; l < cache.n_layers(); ++l)
    for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
      const int64_t n = cache.length(l, h);
      const KvRows k = cache.keys(l, h), v = cache.values(l, h);
      out.bytes(cache.positions(l, h), (size_t)n * sizeof(int32_t));
      out.bytes(k.data, (size_t)(n * k.row_bytes));
      out.bytes(v.data, (size_t)(n * v.row_bytes));
    }
}

// Removes the temporary file unless the write completed.
struct TempFile {
  std::string path;
  std::FILE* file = nullptr;
  bool done = false;
  ~TempFile() {
    if (file) std::fclose(file);
    if (!done) ::unlink(path.c_str());
  }
};

}  // namespace

int64_t write_cache_file(const std::string& path, const Model& model, const CacheFileSession& session,
                         const KvCache& cache) {
  // The format stores every key at head_dim; a ThinK cache holds some keys at their kept channels only.
  if (cache.has_pruned_keys())
    fail(path, ": a cache whose key channels were pruned (press 'think') cannot be saved to a cache file yet");
  const ModelBinding binding = binding_of(model);
  Sink counter(nullptr, path);
  emit(counter, 0, binding, session, cache);
  const uint64_t file_bytes = counter.count() + sizeof(uint64_t);  // + the checksum

  TempFile tmp{path + ".tmp-XXXXXX"};
  const int fd = ::mkstemp(tmp.path.data());
  if (fd < 0) fail(path, ": cannot create a temporary file next to it (", std::strerror(errno), ")");
  ::fchmod(fd, 0644);  // mkstemp's 0600 would make the cache unreadable to other users
  tmp.file = ::fdopen(fd, "wb");
  if (!tmp.file) {
    ::close(fd);
    fail(path, ": cannot open the temporary file (", std::strerror(errno), ")");
  }
  Sink out(tmp.file, path);
  emit(out, file_bytes, binding, session, cache);
  const uint64_t checksum = out.digest();
  out.value<uint64_t>(checksum);
  KV_CHECK(out.count() == file_bytes);
  // Flushed and synced before the rename, so `path` is never a half-written file, even after a crash.
  if (std::fflush(tmp.file) != 0 || ::fsync(fd) != 0)
    fail(path, ": cannot write the cache file (", std::strerror(errno), ")");
  const int rc = std::fclose(tmp.file);
  tmp.file = nullptr;
  if (rc != 0) fail(path, ": cannot write the cache file (", std::strerror(errno), ")");
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(path, ": cannot rename the finished cache file into place (", std::strerror(errno), ")");
  tmp.done = true;
  return (int64_t)file_bytes;
}

uint64_t cache_file_checksum(std::span<const uint8_t> bytes_before_checksum) { return hash64(bytes_before_checksum); }

}  // namespace kvpress
