// libFuzzer entry point of the kv_cache_file target; the per-input check is checks/check_kv_cache_file.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_kv_cache_file({data, size});
  return 0;
}
