// SentencePiece BPE: repeatedly merge the adjacent pair whose concatenation is the highest-scoring token.
#include "tokenizer/spm.h"

#include <queue>
#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::tok {

SpmModel::SpmModel(const Vocab& vocab, const TokenLookup& lookup, const std::vector<TokenType>& types)
    : vocab_(vocab), lookup_(lookup), types_(types) {
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
    int32_t id = find_id(lookup_, name);
    if (id < 0) id = find_id(lookup_, std::string(1, (char)b));
    byte_ids_[b] = id;
  }
}

// SentencePiece only merges into ordinary pieces: control, unknown, byte and unused tokens are never
// produced from text by the merge step (user-defined ones are split off earlier as whole matches).
int32_t SpmModel::mergeable_id(std::string_view piece) const {
  const int32_t id = find_id(lookup_, piece);
  if (id < 0) return id;
  const TokenType t = types_[(size_t)id];
  return t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Undefined ? id : -1;
}

void SpmModel::append_fallback(std::string_view piece, std::vector<int32_t>& out) const {
  bool all_bytes = true;
  for (const char c : piece) all_bytes = all_bytes && byte_ids_[(uint8_t)c] >= 0;
  if (all_bytes) {
    for (const char c : piece) out.push_back(byte_ids_[(uint8_t)c]);
    return;
  }
  if (vocab_.unk_id < 0)
    fail("cannot tokenize '", one_line(piece), "': the vocab has no byte tokens for it and no unknown token");
  out.push_back(vocab_.unk_id);
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  struct Sym {
    uint32_t start, len;  // bytes of text; len 0 once merged into the left neighbour
    int32_t prev, next;
  };
  std::vector<Sym> syms;
  syms.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_char_len(text, i);
    const auto idx = (int32_t)syms.size();
    syms.push_back({(uint32_t)i, (uint32_t)n, idx - 1, -1});
    if (idx > 0) syms[(size_t)idx - 1].next = idx;
    i += n;
  }

  struct Cand {
    float score;
    int32_t left, right;
    uint32_t len;  // byte length of the merged piece when the candidate was made
  };
  // Highest score first; on equal scores the leftmost pair (as SentencePiece and llama.cpp do).
  const auto worse = [](const Cand& x, const Cand& y) { return x.score != y.score ? x.score < y.score : x.left > y.left; };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
  const auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const Sym& a = syms[(size_t)l];
    const Sym& b = syms[(size_t)r];
    const int32_t id = mergeable_id(text.substr(a.start, a.len + b.len));
    if (id < 0) return;
    const float score = vocab_.scores.empty() ? 0.0f : vocab_.scores[(size_t)id];
    heap.push({score, l, r, a.len + b.len});
  };
  for (int32_t i = 0; i + 1 < (int32_t)syms.size(); ++i) try_pair(i, i + 1);

  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Sym& left = syms[(size_t)c.left];
    Sym& right = syms[(size_t)c.right];
    // Stale when either side was merged since: it is gone (len 0) or its length changed.
    if (left.len == 0 || right.len == 0 || left.next != c.right || left.len + right.len != c.len) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[(size_t)right.next].prev = c.left;
    try_pair(left.prev, c.left);
    try_pair(c.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = syms[(size_t)i].next) {
    const std::string_view piece = text.substr(syms[(size_t)i].start, syms[(size_t)i].len);
    const int32_t id = mergeable_id(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_fallback(piece, out);
    }
  }
}

}  // namespace kvpress::tok
