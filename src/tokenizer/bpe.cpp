// Byte-level BPE: GPT-2 byte mapping and rank-ordered merging of one pre-tokenized word.
#include "tokenizer/bpe.h"

#include <array>
#include <queue>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::tok {
namespace {

struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 324> to_byte;  // stand-in code points are all below 256 + 68

  ByteTables() {
    to_byte.fill(-1);
    const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    uint32_t next_cp = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = printable(b) ? (uint32_t)b : next_cp++;
      utf8_append(to_unicode[b], cp);
      to_byte[cp] = (int16_t)b;
    }
  }
};

const ByteTables& tables() {
  static const ByteTables kTables;
  return kTables;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return tables().to_unicode[byte]; }

int unicode_to_byte(uint32_t cp) { return cp < tables().to_byte.size() ? tables().to_byte[cp] : -1; }

std::string unmap_bytes(std::string_view token_text) {
  std::string out;
  out.reserve(token_text.size());
  for (size_t i = 0; i < token_text.size();) {
    const size_t start = i;
    const uint32_t cp = utf8_decode(token_text, i);
    const int b = unicode_to_byte(cp);
    if (b >= 0 && utf8_valid_len(token_text, start)) {
      out += (char)b;
    } else {
      out.append(token_text.substr(start, i - start));
    }
  }
  return out;
}

BpeModel::BpeModel(const Vocab& vocab, const TokenLookup& lookup, bool ignore_merges)
    : lookup_(lookup), ignore_merges_(ignore_merges), unk_id_(vocab.unk_id) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find_id(lookup_, byte_to_unicode((uint8_t)b));
  merges_.reserve(vocab.merges.size());
  std::string joined;
  for (size_t i = 0; i < vocab.merges.size(); ++i) {
    const std::string& m = vocab.merges[i];
    const size_t sep = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sep == std::string::npos)
      fail("tokenizer.ggml.merges[", (uint64_t)i, "] = '", m, "' is not two space-separated tokens");
    const std::string_view left(m.data(), sep);
    const std::string_view right(m.data() + sep + 1, m.size() - sep - 1);
    joined.assign(left);
    joined.append(right);
    const int32_t a = find_id(lookup_, left), b = find_id(lookup_, right), r = find_id(lookup_, joined);
    if (a < 0 || b < 0 || r < 0) continue;
    merges_.emplace(pair_key(a, b), Merge{(int32_t)i, r});  // a repeated pair keeps its first (best) rank
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_ && word.size() > 1) {
    std::string mapped;
    for (const char c : word) mapped += byte_to_unicode((uint8_t)c);
    const int32_t id = find_id(lookup_, mapped);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }

  // One symbol per byte in a linked list; merge the lowest-rank adjacent pair (leftmost on ties) until
  // no pair merges. Stale heap entries are recognised by the ids they were made from.
  struct Sym {
    int32_t id, prev, next;
  };
  const auto n = (int32_t)word.size();
  std::vector<Sym> syms((size_t)n);
  for (int32_t i = 0; i < n; ++i) syms[(size_t)i] = {byte_ids_[(uint8_t)word[(size_t)i]], i - 1, i + 1 < n ? i + 1 : -1};

  struct Cand {
    int32_t rank, left, right, left_id, right_id, result;
  };
  const auto worse = [](const Cand& x, const Cand& y) { return x.rank != y.rank ? x.rank > y.rank : x.left > y.left; };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
  const auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = syms[(size_t)l].id, b = syms[(size_t)r].id;
    if (a < 0 || b < 0) return;
    const auto it = merges_.find(pair_key(a, b));
    if (it != merges_.end()) heap.push({it->second.rank, l, r, a, b, it->second.result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_pair(i, i + 1);

  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Sym& left = syms[(size_t)c.left];
    Sym& right = syms[(size_t)c.right];
    if (left.id != c.left_id || left.next != c.right || right.id != c.right_id) continue;
    left.id = c.result;
    left.next = right.next;
    if (right.next >= 0) syms[(size_t)right.next].prev = c.left;
    right.id = -2;  // removed
    try_pair(left.prev, c.left);
    try_pair(c.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = syms[(size_t)i].next) {
    const int32_t id = syms[(size_t)i].id;
    if (id >= 0) {
      out.push_back(id);
    } else if (unk_id_ >= 0) {  // a byte without a token (never in GPT-2 style vocabularies)
      out.push_back(unk_id_);
    }
  }
}

}  // namespace kvpress::tok
