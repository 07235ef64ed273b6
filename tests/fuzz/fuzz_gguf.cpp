// libFuzzer entry point of the gguf target; the per-input check is checks/check_gguf.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_gguf({data, size});
  return 0;
}
