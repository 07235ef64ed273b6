// CPU feature detection (x86: AVX2/FMA/F16C, AVX-512F/BW/VL/VNNI) for kernel dispatch.
#pragma once

namespace kvpress {

struct CpuFeatures {
  bool avx2 = false;     // AVX2 + FMA + F16C
  bool avx512 = false;   // AVX-512 F + BW + VL + VNNI (the int8 dot products); without VNNI: the AVX2 set
};

const CpuFeatures& cpu_features();

}  // namespace kvpress
