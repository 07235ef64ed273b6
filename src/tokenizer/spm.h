// SentencePiece-style BPE over token scores (tokenizer.ggml.model "llama") (internal).
// Thread-safety: immutable after construction.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/text_util.h"

namespace kvpress {
struct Vocab;
enum class TokenType : int32_t;
}

namespace kvpress::tok {

class SpmModel {
 public:
  // `vocab`, `lookup` and `types` (the effective type of each id) must outlive the model.
  SpmModel(const Vocab& vocab, const TokenLookup& lookup, const std::vector<TokenType>& types);

  // Appends the ids of `text`, which is already normalised (spaces replaced by U+2581, prefix added).
  // Characters that no token covers fall back to <0xXX> byte tokens, then to a one-byte token, then
  // to the unknown token; Error when the vocab has none of these.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  int32_t mergeable_id(std::string_view piece) const;  // -1 unless a Normal/UserDefined/Undefined token
  void append_fallback(std::string_view piece, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  const TokenLookup& lookup_;
  const std::vector<TokenType>& types_;
  int32_t byte_ids_[256];  // <0xXX> token of each byte, else the one-byte token, else -1
};

}  // namespace kvpress::tok
