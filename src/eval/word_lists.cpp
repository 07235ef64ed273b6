// Word, number, UUID and name vocabularies with their stable Train/Test split.
#include "eval/word_lists.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <unordered_set>

#include "core/error.h"

namespace kvpress {
namespace {

// Function words make poor keys ("the-which"); leave them out.
constexpr std::string_view kStopWords[] = {
    "the", "and", "that", "for", "are", "was", "you", "with", "this", "have", "but", "not", "they", "from",
    "what", "can", "all", "would", "there", "their", "one", "more", "about", "will", "out", "which", "them",
    "than", "when", "has", "were", "been", "into", "some", "who", "like", "just", "any", "how", "its",
    "our", "your", "had", "also", "most", "could", "only", "then", "because", "very", "these", "those",
    "even", "other", "much", "many", "did", "does", "doing", "may", "might", "must", "should", "shall",
    "such", "where", "while", "why", "his", "her", "him", "she", "himself", "itself", "own", "too", "yet",
    "nor", "each", "both", "few", "over", "under", "again", "once", "here", "same", "whom", "being", "having",
    "off", "let", "per", "upon", "via", "etc"};

bool is_stop_word(std::string_view w) {
  return std::find(std::begin(kStopWords), std::end(kStopWords), w) != std::end(kStopWords);
}

// Token characters for word extraction: ASCII letters, apostrophes and any non-ASCII byte, so that
// "don't" and "don’t" form one token that is then rejected instead of leaving "don".
bool is_token_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'' || c >= 0x80;
}

bool is_lower_word(std::string_view t) {
  if (t.size() < 3 || t.size() > 12) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

Split parse_split(std::string_view name) {
  if (name == "train") return Split::Train;
  if (name == "test") return Split::Test;
  if (name == "all") return Split::All;
  fail("unknown split '", name, "' (expected train, test or all)");
}

const char* split_name(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Test: return "test";
    case Split::All: return "all";
  }
  return "?";
}

Split split_of(std::string_view item) {
  return stable_hash(item) % kTestShareDenominator == 0 ? Split::Test : Split::Train;
}

bool in_split(std::string_view item, Split split) {
  return split == Split::All || split_of(item) == split;
}

WordLists WordLists::from_text(std::string_view text) {
  std::set<std::string> found;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_token_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && is_token_byte(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view token = text.substr(start, i - start);
    if (is_lower_word(token) && !is_stop_word(token)) found.emplace(token);
  }
  WordLists lists;
  lists.all_.assign(found.begin(), found.end());
  for (const std::string& w : lists.all_) (split_of(w) == Split::Test ? lists.test_ : lists.train_).push_back(w);
  return lists;
}

const std::vector<std::string>& WordLists::words(Split split) const {
  const std::vector<std::string>& list = split == Split::All ? all_ : split == Split::Train ? train_ : test_;
  if (list.empty()) fail("word list for split '", split_name(split), "' is empty (no usable words in the essays?)");
  return list;
}

std::string WordLists::random_word(SampleRng& rng, Split split) const {
  const auto& list = words(split);
  return list[static_cast<std::size_t>(rng.below(list.size()))];
}

std::string WordLists::random_key(SampleRng& rng, Split split) const {
  std::string first = random_word(rng, split);
  std::string second = random_word(rng, split);
  return first + "-" + second;
}

std::vector<std::string> WordLists::distinct_words(SampleRng& rng, Split split, std::size_t n) const {
  const auto& list = words(split);
  std::vector<std::size_t> order(list.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.shuffle(order);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < order.size() && out.size() < n; ++i) out.push_back(list[order[i]]);
  if (out.size() < n) {
    // More words than the list holds (very long CWE prompts): RULER falls back to a bigger English
    // list; we extend with distinct pairs, which can never equal a single word.
    if (list.size() + list.size() * list.size() < n) fail("cannot draw ", n, " distinct words from ", list.size(), " words");
    std::unordered_set<std::string> seen;
    while (out.size() < n) {
      std::string pair = random_key(rng, split);
      if (seen.insert(pair).second) out.push_back(std::move(pair));
    }
  }
  return out;
}

std::string random_number(SampleRng& rng, Split split, int n_digits) {
  KV_CHECK(n_digits >= 1 && n_digits <= 18);
  int64_t lo = 1;
  for (int i = 1; i < n_digits; ++i) lo *= 10;
  const int64_t hi = lo * 10 - 1;
  return random_number_in(rng, split, n_digits == 1 ? 0 : lo, hi);
}

std::string random_number_in(SampleRng& rng, Split split, int64_t lo, int64_t hi) {
  // Rejection keeps the draw uniform over the split's share of [lo, hi]; give up on absurdly small ranges.
  for (int attempt = 0; attempt < 100000; ++attempt) {
    std::string s = std::to_string(rng.uniform_int(lo, hi));
    if (in_split(s, split)) return s;
  }
  fail("no number of split '", split_name(split), "' found in [", lo, ", ", hi, "]");
}

std::string random_uuid(SampleRng& rng, Split split) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (true) {
    uint64_t hi = rng.next(), lo = rng.next();
    hi = (hi & ~0xf000ULL) | 0x4000ULL;                       // version 4 (bits 76-79 of the 128-bit int)
    lo = (lo & ~(0xc000ULL << 48)) | (0x8000ULL << 48);       // RFC 4122 variant (bits 62-63)
    std::string s;
    s.reserve(36);
    for (int i = 0; i < 32; ++i) {
      const uint64_t word = i < 16 ? hi : lo;
      const int shift = 60 - 4 * (i % 16);
      if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
      s.push_back(kHex[(word >> shift) & 0xf]);
    }
    if (in_split(s, split)) return s;
  }
}

std::string random_letters(SampleRng& rng, Split split, int n, bool upper) {
  KV_CHECK(n >= 1);
  const char base = upper ? 'A' : 'a';
  for (int attempt = 0; attempt < 100000; ++attempt) {
    std::string s(static_cast<std::size_t>(n), base);
    for (char& c : s) c = static_cast<char>(base + rng.below(26));
    if (in_split(s, split)) return s;
  }
  fail("no ", n, "-letter name of split '", split_name(split), "' found");
}

}  // namespace kvpress
