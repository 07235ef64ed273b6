// Pre-tokenizers of byte-level BPE vocabularies: the regex splits selected by tokenizer.ggml.pre (internal).
// Thread-safety: immutable after construction; split() may run concurrently.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress::tok {

class PreTokenizer {
 public:
  // `name` is tokenizer.ggml.pre ("" means "default"); an unknown name throws Error listing the supported ones.
  explicit PreTokenizer(const std::string& name);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Splits text into words whose concatenation is the text. The regexes are applied in sequence, each
  // to every piece left by the previous one; matches and the gaps between them both become pieces
  // (the "Isolated" split behaviour of HF tokenizers). Bytes that are not valid UTF-8 become one-byte
  // words untouched by the regexes.
  std::vector<std::string_view> split(std::string_view text) const;

  const std::string& name() const { return name_; }
  // Llama-3 style: a word that is already a token is emitted whole instead of being merged.
  bool ignore_merges() const { return ignore_merges_; }

  // Canonical names and aliases accepted by the constructor.
  static std::vector<std::string> supported_names();
  // Whether vocabularies with this pre-tokenizer add BOS when the GGUF does not say (llama3: yes).
  static bool adds_bos_by_default(const std::string& name);

 private:
  struct Regex;
  std::string name_;
  bool ignore_merges_ = false;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace kvpress::tok
