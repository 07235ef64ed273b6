// Where the CLI finds its shipped files (the default model, the essay data) wherever the binary lives:
// in the build tree, installed under a prefix, or copied elsewhere.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace kvpress::cli {

// The running binary (/proc/self/exe); empty when it cannot be read.
std::filesystem::path executable_path();

// Folders searched for the shipped `kind` ("models" or "data"), first match wins:
//   1. $KVPRESS_MODELS_DIR / $KVPRESS_DATA_DIR when set (then only that folder),
//   2. <binary>/../share/kvpress/<kind>            (an installed or relocated prefix),
//   3. <install prefix>/share/kvpress/<kind>       (the prefix configured at build time),
//   4. <source tree>/<kind>                        (the build tree); a build-tree binary tries this before 3.
std::vector<std::filesystem::path> search_dirs(const std::string& kind);

// The first search_dirs(kind) folder holding `entry`; throws Error listing every place looked at.
std::filesystem::path find_shipped(const std::string& kind, const std::string& entry);

// The default model of `kvpress demo` and the data folder holding paul_graham_essays/.
std::filesystem::path default_model_file();
std::filesystem::path default_data_folder();
// `given` (a --data-dir value) or, when empty, default_data_folder().
std::filesystem::path data_dir_or_default(const std::string& given);

}  // namespace kvpress::cli
