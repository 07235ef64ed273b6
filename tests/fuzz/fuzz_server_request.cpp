// libFuzzer entry point of the server_request target; the per-input check is checks/check_server_request.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_server_request({data, size});
  return 0;
}
