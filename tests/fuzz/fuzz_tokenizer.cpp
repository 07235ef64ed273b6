// libFuzzer entry point of the tokenizer target; the per-input check is checks/check_tokenizer.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_tokenizer({data, size});
  return 0;
}
