// Shared by the cache-file tests: the shipped model's engine, a needle context and a scratch folder.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kvpress/kvpress.h"
#include "test_paths.h"

namespace kvpress::testing {

inline std::string shipped_model() { return (source_dir() / "models" / "kvpress-needle-2m.gguf").string(); }

inline std::string needle_context() {
  std::string s = "A special magic number is hidden within the following text. Make sure to memorize it.\n";
  for (int i = 0; i < 8; ++i) s += "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  s += "One of the special magic numbers for quiet-river is: 4417290.\n";
  for (int i = 0; i < 8; ++i) s += "The grass is green. The sky is blue. The sun is yellow. Here we go.\n";
  return s;
}
inline const std::string kNeedleQuestion = "What is the special magic number for quiet-river?";

// A folder removed when the test ends; the pid keeps parallel test processes apart.
class Scratch {
 public:
  explicit Scratch(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("kvpress_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~Scratch() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), (std::streamsize)bytes.size());
}

}  // namespace kvpress::testing
