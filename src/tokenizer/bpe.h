// Byte-level BPE (GPT-2 style, tokenizer.ggml.model "gpt2"): the byte <-> unicode mapping and merges (internal).
// Thread-safety: immutable after construction.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/text_util.h"

namespace kvpress {
struct Vocab;
}

namespace kvpress::tok {

// GPT-2's reversible mapping of the 256 byte values onto printable code points (so that no token text
// holds spaces or control characters): printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in order.
const std::string& byte_to_unicode(uint8_t byte);  // UTF-8 of the stand-in code point
int unicode_to_byte(uint32_t cp);                  // the byte, or -1 when cp stands for none
// Token text with the mapping undone; code points that stand for no byte are copied as UTF-8.
std::string unmap_bytes(std::string_view token_text);

class BpeModel {
 public:
  // `lookup` maps token text to id and must outlive the model. Merges are "left right" (split at
  // the first space after the first byte); merges whose parts or result are not tokens are unusable
  // and skipped, as in HF tokenizers. Throws Error when a merge line has no separator.
  BpeModel(const Vocab& vocab, const TokenLookup& lookup, bool ignore_merges);

  // Appends the ids of one pre-tokenized word given as raw bytes.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  size_t n_merges() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

  const TokenLookup& lookup_;
  bool ignore_merges_;
  int32_t unk_id_;
  int32_t byte_ids_[256];                       // id of each byte's single-character token, or -1
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank and merged id
};

}  // namespace kvpress::tok
