// `kvpress --version`: build facts from configure time (build_info.h) plus what this CPU gives the kernels.
#include "version.h"

#include "build_info.h"
#include "kernels/kernels.h"
#include "runtime/cpu_features.h"

namespace kvpress::cli {

std::string version_text() {
  const CpuFeatures& cpu = cpu_features();
  std::string features;
  if (cpu.avx2) features += "avx2 fma f16c";
  if (cpu.avx512) features += std::string(features.empty() ? "" : " ") + "avx512f avx512bw avx512vl";
  if (features.empty()) features = "none (scalar kernels)";
  return std::string("kvpress ") + KVPRESS_VERSION + "\ncommit: " + KVPRESS_GIT_COMMIT +
         "\nbuild type: " + KVPRESS_BUILD_TYPE + "\ncpu features: " + features +
         "\nkernels: " + kernels::active_kernels().name;
}

}  // namespace kvpress::cli
