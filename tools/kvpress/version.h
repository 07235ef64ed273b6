// What `kvpress --version` prints: version, git commit, build type, CPU features and the kernels in use.
#pragma once
#include <string>

namespace kvpress::cli {

std::string version_text();

}  // namespace kvpress::cli
