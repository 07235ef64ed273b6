// Read-only memory mapping of a whole file (RAII): the owner of model weights loaded from disk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kvpress::gguf {

// Maps a regular file read-only and private. Move-only; unmaps in the destructor.
// Problems (missing file, directory, empty file, mmap failure) throw Error "<path>: <problem>".
// Thread-safety: immutable after open(); the bytes may be read from any thread.
// A file truncated by another process while mapped can still raise SIGBUS on access: that
// cannot be detected up front, so callers are expected not to modify model files in place.
class MappedFile {
 public:
  // `expected` names the kind of file in the messages ("a GGUF file", "a kvpress cache file").
  static MappedFile open(const std::string& path, const std::string& expected = "a GGUF file");

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  void release() noexcept;

  const uint8_t* data_ = nullptr;  // start of the mapping (page-aligned), null when empty
  size_t size_ = 0;                // mapped bytes = file size
};

}  // namespace kvpress::gguf
