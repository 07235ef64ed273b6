// Loads the tokenizer target's vocabularies (see fuzz_vocabularies.h).
#include "fuzz_vocabularies.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/bpe.h"

namespace kvpress::fuzz {
namespace {

constexpr const char* kSpaceMark = "\xE2\x96\x81";

bool is_byte_complete(const Tokenizer& t) {
  const Vocab& v = t.vocab();
  const auto type_of = [&](int32_t id) { return v.types.empty() ? TokenType::Normal : v.types[(size_t)id]; };
  for (int b = 0; b < 256; ++b) {
    if (v.model == "llama") {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const int32_t id = t.find_token(name);
      if (id < 0 || type_of(id) != TokenType::Byte) return false;
    } else {
      const int32_t id = t.find_token(tok::byte_to_unicode((uint8_t)b));
      if (id < 0 || (type_of(id) != TokenType::Normal && type_of(id) != TokenType::Undefined)) return false;
    }
  }
  return v.model != "llama" || t.find_token(kSpaceMark) >= 0;
}

void add(std::vector<FuzzVocab>& out, std::string name, Vocab vocab) {
  Tokenizer t(std::move(vocab));
  const bool round_trips = is_byte_complete(t);
  out.push_back({std::move(name), std::move(t), round_trips});
}

// SPM without byte tokens: unmatched text becomes <unk>.
Vocab synthetic_spm() {
  Vocab v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>", kSpaceMark, "a", "b", "ab", std::string(kSpaceMark) + "a", "<tool>", "<|eot_id|>"};
  v.scores = {0, 0, 0, -1, -2, -2, -1.5f, -0.5f, 0, 0};
  v.types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Normal, TokenType::Normal,
             TokenType::Normal,  TokenType::Normal,  TokenType::Normal,  TokenType::UserDefined, TokenType::Control};
  v.unk_id = 0, v.bos_id = 1, v.eos_id = 2;
  v.add_bos = true;
  return v;
}

// Byte-level BPE over printable ASCII only and no unknown token: other bytes are dropped.
Vocab synthetic_bpe() {
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  for (int b = 0x21; b <= 0x7E; ++b) v.tokens.push_back(tok::byte_to_unicode((uint8_t)b));
  v.tokens.push_back(tok::byte_to_unicode(' '));  // "Ġ"
  v.tokens.push_back(tok::byte_to_unicode(' ') + "a");
  v.tokens.push_back("<|endoftext|>");
  v.merges = {tok::byte_to_unicode(' ') + " a"};
  v.types.assign(v.tokens.size(), TokenType::Normal);
  v.types.back() = TokenType::Control;
  v.eos_id = (int32_t)v.tokens.size() - 1;
  return v;
}

std::vector<std::string> default_files() {
  const std::filesystem::path shared = KVPRESS_SHARED_DIR;
  std::vector<std::string> files = {std::string(KVPRESS_SOURCE_DIR) + "/models/kvpress-needle-2m.gguf"};
  for (const char* name : {"llama-spm", "llama-bpe", "qwen2", "phi-3", "gpt-2", "deepseek-llm"})
    files.push_back((shared / "vocab" / (std::string("ggml-vocab-") + name + ".gguf")).string());
  for (const char* name : {"llama3-mqa", "qwen2-bias", "qwen3-qknorm"})
    files.push_back((shared / "reference" / (std::string(name) + ".gguf")).string());
  return files;
}

std::vector<std::string> split_paths(const std::string& list) {
  std::vector<std::string> out;
  size_t from = 0;
  for (size_t at; (at = list.find(':', from)) != std::string::npos; from = at + 1)
    if (at > from) out.push_back(list.substr(from, at - from));
  if (from < list.size()) out.push_back(list.substr(from));
  return out;
}

std::vector<FuzzVocab> load_all() {
  std::vector<FuzzVocab> out;
  const char* env = std::getenv("KVPRESS_FUZZ_VOCABS");
  const bool named = env && *env;
  for (const std::string& path : named ? split_paths(env) : default_files()) {
    if (!named && !std::filesystem::exists(path)) {
      std::fprintf(stderr, "fuzz_tokenizer: vocabulary not found, skipped: %s\n", path.c_str());
      continue;
    }
    add(out, std::filesystem::path(path).filename().string(), Vocab::from_gguf(gguf::GgufFile::open(path)));
  }
  add(out, "synthetic-spm", synthetic_spm());
  add(out, "synthetic-bpe", synthetic_bpe());
  std::fprintf(stderr, "fuzz_tokenizer: %zu vocabularies:", out.size());
  for (const auto& v : out) std::fprintf(stderr, " %s%s", v.name.c_str(), v.round_trips ? "" : "(no round trip)");
  std::fprintf(stderr, "\n");
  return out;
}

}  // namespace

const std::vector<FuzzVocab>& fuzz_vocabularies() {
  static const std::vector<FuzzVocab> vocabularies = load_all();
  return vocabularies;
}

}  // namespace kvpress::fuzz
