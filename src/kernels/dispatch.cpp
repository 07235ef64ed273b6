// Kernel-set table: the scalar reference plus every compiled SIMD variant this CPU supports.
#include "kernels/kernel_sets.h"
#include "runtime/cpu_features.h"

namespace kvpress::kernels {

const KernelSet& reference_kernels() {
  static const KernelSet set = {"reference", ref::dequantize_row, ref::dot_row, ref::dot_f32, ref::axpy_f32,
                                ref::gemm_f32, ref::dot_rows_f32, ref::attend_rows,
                                ref::quantize_activations, ref::dot_row_q8, ref::decode_s8, ref::gemm_q8};
  return set;
}

std::vector<const KernelSet*> available_kernel_sets() {
  std::vector<const KernelSet*> sets = {&reference_kernels()};
  const CpuFeatures& cpu = cpu_features();
  // CPU first: the getters live in files compiled with AVX flags.
  if (cpu.avx2)
    if (const KernelSet* s = avx2_kernel_set()) sets.push_back(s);
  if (cpu.avx512)
    if (const KernelSet* s = avx512_kernel_set()) sets.push_back(s);
  return sets;
}

const KernelSet& active_kernels() {
  // Sets are listed slowest first, so the last one is the fastest.
  static const KernelSet* active = available_kernel_sets().back();
  return *active;
}

}  // namespace kvpress::kernels
