// Runs a kvpress binary as a user would (a shell command line, stdin closed) and captures its outputs.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kvpress::testing {

struct CliRun {
  int exit_code;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `prefix` goes before the binary (e.g. "cd /tmp && FOO=1 "); outputs land in a folder per process.
inline CliRun run_cli(const std::string& args, const std::string& binary = KVPRESS_BIN, const std::string& prefix = "") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kvpress_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cmd = prefix + binary + " " + args + " >" + (dir / "out").string() + " 2>" + (dir / "err").string() +
                          " </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out"), slurp(dir / "err")};
}

inline size_t count_lines(const std::string& s) { return (size_t)std::count(s.begin(), s.end(), '\n'); }

// A scratch folder removed when the test ends (tests run as parallel processes: the name has the pid).
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("kvpress_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace kvpress::testing
