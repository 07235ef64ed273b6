// Cache files (Session::load_bytes) against a tiny random model: the input is loaded as it is, then once
// more "resealed" (its size field and checksum recomputed), so mutations reach the fields behind the
// checksum too. Each load either works or throws Error; a loaded session answers one token (or Error,
// e.g. for rows that decode to non-finite values) and reports bytes consistent with its cache.
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "cache_file/cache_file.h"
#include "core/error.h"
#include "fuzz_check.h"
#include "kvpress/kvpress.h"
#include "tiny_model.h"

namespace kvpress::fuzz {
namespace {

void load_and_ask(Bytes bytes) {
  try {
    Session session = Session::load_bytes(kv_cache_file_engine(), bytes, "fuzz.kvc");
    const PrefillStats& s = session.stats();
    require(s.context_tokens == (int64_t)session.context_ids().size(), "stats count the loaded context");
    int64_t entries = 0;
    for (int64_t l = 0; l < session.n_layers(); ++l)
      for (int64_t h = 0; h < session.n_heads_kv(); ++h) {
        const auto kept = session.kept_positions(l, h);
        require((int64_t)kept.size() <= s.context_tokens, "a head holds at most the context");
        entries += (int64_t)kept.size();
      }
    require(s.kv_bytes == entries * kv_entry_bytes(session.kv_types(), 32), "kv_bytes are the entries' bytes");
    AskOptions ask;
    ask.max_new_tokens = 1;
    const std::vector<int32_t> question = {testing::kTinyFirstWord};
    const Answer a = session.ask_tokens(question, ask);
    require(a.ids.size() <= 1, "at most max_new_tokens are generated");
  } catch (const Error& e) {
    require_error_message(e.what());
  }
}

}  // namespace

const Engine& kv_cache_file_engine() {
  static const Engine engine = [] {
    testing::TinyModelSpec spec;
    spec.n_layers = 2, spec.n_heads = 4, spec.n_heads_kv = 2, spec.head_dim = 32, spec.n_embd = 64, spec.n_ff = 64;
    const auto path = std::filesystem::temp_directory_path() / ("kvpress_fuzz_cache_model_" +
                                                                std::to_string(::getpid()) + ".gguf");
    testing::write_tiny_model(spec, path.string());
    Engine e = Engine::load(path.string(), {1});  // one thread: deterministic, one core per fuzzer
    std::filesystem::remove(path);                // the mapping stays valid
    return e;
  }();
  return engine;
}

void check_kv_cache_file(Bytes input) {
  load_and_ask(input);
  constexpr size_t kFileBytesAt = 12, kMinBytes = 28;
  if (input.size() < kMinBytes || std::memcmp(input.data(), kCacheFileMagic, sizeof kCacheFileMagic) != 0) return;
  std::vector<uint8_t> sealed(input.begin(), input.end());
  const uint64_t n = sealed.size();
  std::memcpy(sealed.data() + kFileBytesAt, &n, sizeof n);
  const uint64_t sum = cache_file_checksum(std::span(sealed).first(sealed.size() - 8));
  std::memcpy(sealed.data() + sealed.size() - 8, &sum, sizeof sum);
  load_and_ask(sealed);
}

}  // namespace kvpress::fuzz
