// libFuzzer entry point of the jsonl target; the per-input check is checks/check_jsonl.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_jsonl({data, size});
  return 0;
}
