// Shipped-file lookup relative to the binary, the install prefix and the source tree.
#include "install_paths.h"

#include <cstdlib>
#include <system_error>

#include "core/error.h"

#ifndef KVPRESS_SOURCE_DIR
#define KVPRESS_SOURCE_DIR "."
#endif
#ifndef KVPRESS_INSTALL_DATADIR
#define KVPRESS_INSTALL_DATADIR "/usr/local/share/kvpress"
#endif
#ifndef KVPRESS_BUILD_BIN_DIR
#define KVPRESS_BUILD_BIN_DIR ""
#endif

namespace kvpress::cli {
namespace fs = std::filesystem;

namespace {

std::string env_name(const std::string& kind) { return kind == "models" ? "KVPRESS_MODELS_DIR" : "KVPRESS_DATA_DIR"; }

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return !a.empty() && !b.empty() && fs::equivalent(a, b, ec);
}

}  // namespace

fs::path executable_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

std::vector<fs::path> search_dirs(const std::string& kind) {
  if (const char* env = std::getenv(env_name(kind).c_str()); env && *env) return {fs::path(env)};
  std::vector<fs::path> dirs;
  const fs::path exe_dir = executable_path().parent_path();
  if (!exe_dir.empty()) dirs.push_back(exe_dir.parent_path() / "share" / "kvpress" / kind);
  const fs::path installed = fs::path(KVPRESS_INSTALL_DATADIR) / kind, source = fs::path(KVPRESS_SOURCE_DIR) / kind;
  // The build tree's binary must use the checkout it was built from, not an older installed copy.
  if (same_folder(exe_dir, KVPRESS_BUILD_BIN_DIR)) {
    dirs.push_back(source);
    dirs.push_back(installed);
  } else {
    dirs.push_back(installed);
    dirs.push_back(source);
  }
  return dirs;
}

fs::path find_shipped(const std::string& kind, const std::string& entry) {
  const std::vector<fs::path> dirs = search_dirs(kind);
  std::string looked;
  for (const fs::path& d : dirs) {
    std::error_code ec;
    if (fs::exists(d / entry, ec)) return d;
    looked += (looked.empty() ? "" : ", ") + (d / entry).string();
  }
  const bool from_env = std::getenv(env_name(kind).c_str()) && *std::getenv(env_name(kind).c_str());
  fail(entry, " not found (looked in ", looked, "); ",
       from_env ? "fix $" + env_name(kind) : "set $" + env_name(kind) + " to the folder holding it",
       kind == "models" ? " or pass --model" : " or pass --data-dir");
}

fs::path default_model_file() { return find_shipped("models", "kvpress-needle-2m.gguf") / "kvpress-needle-2m.gguf"; }

fs::path default_data_folder() { return find_shipped("data", "paul_graham_essays"); }

fs::path data_dir_or_default(const std::string& given) { return given.empty() ? default_data_folder() : fs::path(given); }

}  // namespace kvpress::cli
