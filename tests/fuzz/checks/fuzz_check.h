// The per-input checks of the fuzz targets. Each is called by its libFuzzer entry point
// (fuzz_<target>.cpp, clang) and by the replay test (tests/fuzz/replay, any compiler), which runs
// the committed seed corpora and the kept crash inputs through the same code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kvpress {
class Engine;
}

namespace kvpress::fuzz {

using Bytes = std::span<const uint8_t>;

// A violated property is a bug in kvpress: print what failed and abort, so libFuzzer records the
// input and the replay test fails loudly.
[[noreturn]] void violated(const char* what, const std::string& detail);
inline void require(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) violated(what, detail);
}
// Properties of every kvpress::Error message: non-empty, one line.
void require_error_message(const std::string& message);

// Each check: any input must be handled or rejected with kvpress::Error, never crash, hang or leak;
// other exceptions escape (libFuzzer reports them as a crash, the replay test as a failure).
void check_gguf(Bytes input);
void check_tokenizer(Bytes input);
void check_chat_template(Bytes input);
void check_jsonl(Bytes input);
void check_press_spec(Bytes input);
void check_press_run(Bytes input);
void check_kv_cache_file(Bytes input);
void check_server_request(Bytes input);

// The tiny random model check_kv_cache_file loads against (fuzz_kv_cache_file_seeds saves with it).
const Engine& kv_cache_file_engine();

}  // namespace kvpress::fuzz
