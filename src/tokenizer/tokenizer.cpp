// Tokenizer: special-token splitting, SPM / byte-level BPE dispatch, BOS/EOS, decoding, end-of-generation ids.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <bitset>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/text_util.h"

namespace kvpress {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Token texts that end a turn in common chat formats (llama.cpp keeps the same list).
constexpr const char* kEndOfTurnTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "</s>", "<|endoftext|>",
                                           "<end_of_turn>", "<|eom_id|>"};

// A piece of the input: raw text still to tokenize, or one special token found in it.
struct Fragment {
  int32_t token;  // -1 for raw text
  size_t begin, len;
};

}  // namespace

struct Tokenizer::Impl {
  Vocab vocab;
  bool spm = false;
  tok::TokenLookup lookup;
  std::vector<int32_t> special_ids;  // Control, UserDefined and Unknown tokens, longest text first
  std::vector<uint8_t> eog;          // per id: ends generation
  std::unique_ptr<tok::SpmModel> spm_model;
  std::unique_ptr<tok::BpeModel> bpe_model;
  std::unique_ptr<tok::PreTokenizer> pre;

  std::vector<TokenType> types;      // effective type per id (see the constructor)

  TokenType type(int32_t id) const { return types[(size_t)id]; }
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void encode_raw(std::string_view text, bool after_special, std::vector<int32_t>& out) const;
  void check_id(int32_t id) const {
    if (id < 0 || id >= (int32_t)vocab.tokens.size())
      fail("token id ", id, " is out of range (the vocab has ", (uint64_t)vocab.tokens.size(), " tokens)");
  }
};

Tokenizer::Tokenizer(Vocab vocab) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.vocab = std::move(vocab);
  const Vocab& v = m.vocab;
  if (v.model != "llama" && v.model != "gpt2")
    fail("tokenizer model '", v.model, "' is not supported (supported: llama (SPM), gpt2 (byte-level BPE))");
  const size_t n = v.tokens.size();
  if (n == 0) fail("the vocab has no tokens");
  if (!v.scores.empty() && v.scores.size() != n)
    fail("the vocab has ", (uint64_t)v.scores.size(), " scores for ", (uint64_t)n, " tokens");
  if (!v.types.empty() && v.types.size() != n)
    fail("the vocab has ", (uint64_t)v.types.size(), " token types for ", (uint64_t)n, " tokens");
  for (const int32_t id : {v.bos_id, v.eos_id, v.eot_id, v.unk_id, v.pad_id, v.eom_id})
    if (id >= (int32_t)n) fail("special token id ", id, " is out of range (the vocab has ", (uint64_t)n, " tokens)");
  if (v.add_bos && v.bos_id < 0) fail("the vocab adds BOS but has no BOS token id");
  if (v.add_eos && v.eos_id < 0) fail("the vocab adds EOS but has no EOS token id");

  m.spm = v.model == "llama";
  m.lookup.reserve(n);
  for (size_t i = 0; i < n; ++i) m.lookup[v.tokens[i]] = (int32_t)i;

  // End-of-turn tokens count as control tokens even where the GGUF marks them otherwise (Phi-3 has
  // "</s>" as user-defined): as in llama.cpp they are then only parsed with parse_special and are
  // dropped by decode's skip_special.
  m.types = v.types.empty() ? std::vector<TokenType>(n, TokenType::Normal) : v.types;
  m.eog.assign(n, 0);
  for (const int32_t id : {v.eos_id, v.eot_id, v.eom_id})
    if (id >= 0) m.eog[(size_t)id] = 1;
  for (const char* text : kEndOfTurnTexts) {
    if (const int32_t id = tok::find_id(m.lookup, text); id >= 0) {
      m.eog[(size_t)id] = 1;
      m.types[(size_t)id] = TokenType::Control;
    }
  }

  for (int32_t id = 0; id < (int32_t)n; ++id) {
    const TokenType t = m.type(id);
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) &&
        !v.tokens[(size_t)id].empty())
      m.special_ids.push_back(id);
  }
  std::stable_sort(m.special_ids.begin(), m.special_ids.end(), [&](int32_t a, int32_t b) {
    return v.tokens[(size_t)a].size() > v.tokens[(size_t)b].size();
  });

  if (m.spm) {
    m.spm_model = std::make_unique<tok::SpmModel>(m.vocab, m.lookup, m.types);
  } else {
    m.pre = std::make_unique<tok::PreTokenizer>(v.pre);
    m.bpe_model = std::make_unique<tok::BpeModel>(m.vocab, m.lookup, m.pre->ignore_merges());
  }
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

// Splits out special tokens the way llama.cpp does: each special token in turn, longest first, is
// searched in every remaining raw fragment. User-defined tokens are always split out (HF tokenizers
// treats them as added tokens matched before the model runs); control and unknown tokens only when
// parse_special is set.
std::vector<Fragment> Tokenizer::Impl::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::bitset<256> present;
  for (const char c : text) present.set((uint8_t)c);

  std::vector<Fragment> next;
  for (const int32_t id : special_ids) {
    if (!parse_special && type(id) != TokenType::UserDefined) continue;
    const std::string& st = vocab.tokens[(size_t)id];
    if (!present.test((uint8_t)st[0])) continue;  // cheap filter: most specials cannot occur at all
    bool found = false;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.begin, f.len);
      size_t from = 0;
      for (size_t at; (at = raw.find(st, from)) != std::string_view::npos; from = at + st.size()) {
        if (at > from) next.push_back({-1, f.begin + from, at - from});
        next.push_back({id, f.begin + at, st.size()});
        found = true;
      }
      if (from < raw.size()) next.push_back({-1, f.begin + from, raw.size() - from});
    }
    if (found) frags.swap(next);
  }
  return frags;
}

void Tokenizer::Impl::encode_raw(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  if (spm) {
    // SentencePiece normalisation: a space before the text (llama.cpp adds it at the start and after
    // every special token), then spaces shown as U+2581.
    std::string norm;
    norm.reserve(text.size() + 8);
    if (vocab.add_space_prefix && after_special) norm.append(kSpaceMark);
    for (const char c : text) {
      if (c == ' ') {
        norm.append(kSpaceMark);
      } else {
        norm += c;
      }
    }
    spm_model->encode(norm, out);
    return;
  }
  for (const std::string_view word : pre->split(text)) bpe_model->encode_word(word, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && m.vocab.add_bos) out.push_back(m.vocab.bos_id);
  bool after_special = true;  // the start of the text counts as following a special token
  for (const Fragment& f : m.partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      m.encode_raw(text.substr(f.begin, f.len), after_special, out);
      after_special = false;
    }
  }
  if (add_special && m.vocab.add_eos) out.push_back(m.vocab.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  const Impl& m = *impl_;
  m.check_id(id);
  const std::string& text = m.vocab.tokens[(size_t)id];
  switch (m.type(id)) {
    case TokenType::Normal:
    case TokenType::Undefined: {
      if (!m.spm) return tok::unmap_bytes(text);
      std::string piece;
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
          piece += ' ';
          i += kSpaceMark.size();
        } else {
          piece += text[i++];
        }
      }
      return piece;
    }
    case TokenType::Byte: {
      const int b = tok::parse_byte_token(text);
      return b >= 0 ? std::string(1, (char)b) : text;
    }
    default:  // Control, UserDefined, Unknown, Unused: their text as written
      return text;
  }
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  // SPM: the encoder added one space at the start and after each special token; take it back there.
  const bool spm_prefix = m.spm && m.vocab.add_space_prefix;
  bool strip_space = spm_prefix;
  for (const int32_t id : ids) {
    m.check_id(id);
    const TokenType t = m.type(id);
    if (t == TokenType::Control || t == TokenType::UserDefined) {
      if (t == TokenType::UserDefined || !skip_special) out += m.vocab.tokens[(size_t)id];
      strip_space = spm_prefix;
      continue;
    }
    if ((t == TokenType::Unknown || t == TokenType::Unused) && skip_special) continue;
    std::string piece = token_to_piece(id);
    if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    strip_space = false;
    out += piece;
  }
  return out;
}

const Vocab& Tokenizer::vocab() const { return impl_->vocab; }

int32_t Tokenizer::n_vocab() const { return (int32_t)impl_->vocab.tokens.size(); }

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && id < n_vocab() && impl_->eog[(size_t)id] != 0;
}

int32_t Tokenizer::find_token(std::string_view text) const { return tok::find_id(impl_->lookup, text); }

}  // namespace kvpress
