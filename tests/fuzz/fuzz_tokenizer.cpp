// libFuzzer entry point of the tokenizer target; the per-input check is checks/check_tokenizer.cpp.
#include "fuzz_check.h"
#include "fuzz_vocabularies.h"

// Loads the vocabularies before fuzzing starts, so their seconds of loading (under ASan) do not count
// against the first input's timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)kvpress::fuzz::fuzz_vocabularies();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_tokenizer({data, size});
  return 0;
}
