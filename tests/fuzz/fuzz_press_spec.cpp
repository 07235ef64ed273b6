// libFuzzer entry point of the press_spec target; the per-input check is checks/check_press_spec.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_press_spec({data, size});
  return 0;
}
