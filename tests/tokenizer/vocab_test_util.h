// Loading the shared vocab GGUFs and their llama.cpp test texts (.inp) and expected ids (.out).
#pragma once
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::testing {

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::filesystem::path vocab_path(const std::string& name) {
  return shared_dir() / "vocab" / ("ggml-vocab-" + name + ".gguf");
}

// Each text in .inp is followed by "\n__ggml_vocab_test__\n" (that newline is not part of the text).
inline std::vector<std::string> read_vocab_texts(const std::string& name) {
  const std::string raw = read_all(vocab_path(name).string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t next; (next = raw.find(sep, pos)) != std::string::npos; pos = next + sep.size())
    texts.push_back(raw.substr(pos, next - pos));
  return texts;
}

// One line of space-separated ids per text.
inline std::vector<std::vector<int32_t>> read_vocab_ids(const std::string& name) {
  std::istringstream in(read_all(vocab_path(name).string() + ".out"));
  std::vector<std::vector<int32_t>> lines;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

// Tokenizers are loaded once per process (the BPE vocabs take a moment to index).
inline const Tokenizer& shared_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    const auto file = gguf::GgufFile::open(vocab_path(name).string());
    slot = std::make_unique<Tokenizer>(Vocab::from_gguf(file));
  }
  return *slot;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (const int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

inline const std::vector<std::string>& all_vocab_names() {
  static const std::vector<std::string> kNames = {"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "deepseek-llm"};
  return kNames;
}

}  // namespace kvpress::testing
