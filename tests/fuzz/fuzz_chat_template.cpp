// libFuzzer entry point of the chat_template target; the per-input check is checks/check_chat_template.cpp.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvpress::fuzz::check_chat_template({data, size});
  return 0;
}
