// Writes a seed corpus for fuzz_kv_cache_file: small valid cache files of the check's tiny model
// (every KV type, text and token sessions, presses that keep heads equal and head-wise ones).
// Usage: fuzz_kv_cache_file_seeds <output-dir>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "kvpress/kvpress.h"
#include "tiny_model.h"

int main(int argc, char** argv) {
  using namespace kvpress;
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_kv_cache_file_seeds <output-dir>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const Engine& engine = fuzz::kv_cache_file_engine();
  struct Seed {
    const char* name;
    KvTypes types;
    PressConfig press;
    bool text;
  };
  const std::vector<Seed> seeds = {
      {"f16_knorm_text", {KvType::F16, KvType::F16}, presses::knorm(0.5), true},
      {"f32_none_tokens", {KvType::F32, KvType::F32}, PressConfig(), false},
      {"bf16_snapkv_tokens", {KvType::BF16, KvType::BF16}, presses::snapkv(0.5, 4), false},
      {"q8_0_adakv_text", {KvType::Q8_0, KvType::Q8_0}, PressConfig::from_spec("expected_attention", 0.6), true},
      {"q4_0_q8_0_streaming_tokens", {KvType::Q4_0, KvType::Q8_0}, presses::streaming_llm(0.5, 2), false},
  };
  for (const Seed& s : seeds) {
    SessionOptions options;
    options.kv_types = s.types;
    const std::vector<int32_t> ids = testing::tiny_token_ids(12, 7);
    Session session = s.text ? Session::from_text(engine, "a b c d e f g h", s.press, options)
                             : Session::from_tokens(engine, ids, s.press, options);
    const std::string path = (dir / s.name).string();
    std::printf("%s: %lld bytes\n", path.c_str(), (long long)session.save(path));
  }
  return 0;
}
