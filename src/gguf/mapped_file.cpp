// Read-only mmap of a file with the open/fstat/mmap errors turned into one-line kvpress::Error messages.
#include "gguf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace kvpress::gguf {
namespace {

// Closes the descriptor on every path out of open(): the mapping stays valid after close.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() { if (fd_ >= 0) ::close(fd_); }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

MappedFile MappedFile::open(const std::string& path, const std::string& expected) {
  // O_CLOEXEC: a mapped model must not leak its descriptor into child processes.
  FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(path, ": cannot open file (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, ": cannot stat file (", std::strerror(errno), ")");
  if (S_ISDIR(st.st_mode)) fail(path, ": is a directory, expected ", expected);
  if (!S_ISREG(st.st_mode)) fail(path, ": is not a regular file");
  if (st.st_size == 0) fail(path, ": empty file, expected ", expected);
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > SIZE_MAX)
    fail(path, ": file size ", static_cast<long long>(st.st_size), " cannot be mapped");

  const size_t size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) fail(path, ": cannot map ", size, " bytes (", std::strerror(errno), ")");
  MappedFile m;
  m.data_ = static_cast<const uint8_t*>(p);
  m.size_ = size;
  return m;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace kvpress::gguf
