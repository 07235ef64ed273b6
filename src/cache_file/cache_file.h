// Saved compressed caches (".kvc"): a session's KV cache with everything needed to answer from it in
// another process, bound to its model. Format, validation and costs: docs/kv-cache-file.md.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "cache_file/model_binding.h"

namespace kvpress {

class Model;

inline constexpr char kCacheFileMagic[8] = {'K', 'V', 'P', 'C', 'A', 'C', 'H', 'E'};
inline constexpr uint32_t kCacheFileVersion = 1;

// The session around the cache: what a loaded session needs to answer exactly as the saving one.
struct CacheFileSession {
  std::string press_spec = "none";  // as the session's PressConfig spelled it
  double compression_ratio = 0;
  bool text_mode = false;           // Session::from_text: questions are prompted with question_suffix
  std::string question_suffix;      // the chat template's end of user turn + assistant header ("\n" without)
  std::vector<int32_t> context_ids;
  int32_t question_start = 0;       // position of the first question token (spec §1.5)
  std::vector<std::string> warnings;
};

struct LoadedCacheFile {
  CacheFileSession session;
  KvCache cache;
};

// Writes `cache` and `session` for `model` to `path` atomically: a temporary file next to it, renamed
// over `path` once complete, removed on any error. Returns the file's size in bytes. Throws Error
// naming the path on I/O failure.
int64_t write_cache_file(const std::string& path, const Model& model, const CacheFileSession& session,
                         const KvCache& cache);

// Parses and validates a whole cache file held in memory (a mapping), copying the rows straight into
// a new cache of `model`'s shape. Every size and offset is checked before it is read; any problem
// (not a cache file, another format version, truncated, checksum mismatch, another model, malformed
// field) throws Error "<name>: <problem>".
LoadedCacheFile read_cache_file(std::span<const uint8_t> bytes, const Model& model, const std::string& name);

// The stored checksum of a file of `bytes`: the last 8 bytes, hash64 of everything before them
// (tests and the fuzz target re-seal edited files with it).
uint64_t cache_file_checksum(std::span<const uint8_t> bytes_before_checksum);

}  // namespace kvpress
