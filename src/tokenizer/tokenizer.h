// Text <-> token ids from a GGUF vocabulary: SentencePiece-style (llama) and byte-level BPE (gpt2).
// Thread-safety: immutable after construction.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress::gguf {
class GgufFile;
}

namespace kvpress {

enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// Everything the tokenizer reads from `tokenizer.ggml.*` metadata.
struct Vocab {
  std::string model;  // "llama" (SPM) or "gpt2" (byte-level BPE)
  std::string pre;    // pre-tokenizer name ("default", "llama-bpe", "qwen2", ...)
  std::vector<std::string> tokens;
  std::vector<float> scores;          // may be empty for BPE
  std::vector<TokenType> types;       // may be empty -> all Normal
  std::vector<std::string> merges;    // BPE merges "a b"
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, unk_id = -1, pad_id = -1, eom_id = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = true;       // SPM: prepend ▁ (tokenizer.ggml.add_space_prefix)
  std::string chat_template;          // tokenizer.chat_template (may be empty)

  static Vocab from_gguf(const gguf::GgufFile& file);  // throws Error naming the file and key
};

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // add_special: add BOS/EOS as the vocab's flags say. parse_special: text like "<|eot_id|>"
  // becomes the control token instead of being split as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // Concatenated pieces; skip_special drops control tokens (BOS/EOS/...).
  std::string decode(std::span<const int32_t> ids, bool skip_special = true) const;
  std::string token_to_piece(int32_t id) const;  // display text of one token

  const Vocab& vocab() const;
  int32_t n_vocab() const;
  bool is_end_of_generation(int32_t id) const;  // EOS, EOT, EOM and other end-of-turn control tokens
  int32_t find_token(std::string_view text) const;  // -1 when absent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvpress
