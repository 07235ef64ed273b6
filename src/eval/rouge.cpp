// ROUGE with the Python `rouge` package's tokenisation, n-gram sets and summary-level union LCS.
#include "eval/rouge.h"

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/text_utils.h"

namespace kvpress {
namespace {

using Sentence = std::vector<int>;  // interned word ids

// Word interning shared by hypothesis and reference so ids compare across them.
class Vocabulary {
 public:
  int id(const std::string& word) {
    const auto [it, inserted] = ids_.emplace(word, static_cast<int>(ids_.size()));
    return it->second;
  }

 private:
  std::unordered_map<std::string, int> ids_;
};

// Python: [" ".join(s.split()) for s in text.split(".") if len(s) > 0], then each sentence .split(" ").
std::vector<Sentence> sentences_of(std::string_view textv, RougeTokens tokens, Vocabulary& vocab) {
  std::vector<Sentence> out;
  for (const std::string& piece : text::split_on(textv, ".")) {
    if (piece.empty()) continue;
    Sentence s;
    if (tokens == RougeTokens::kPackage) {
      const std::vector<std::string> words = text::split_whitespace(piece);
      if (words.empty()) s.push_back(vocab.id(""));  // "".split(" ") == [""]
      for (const std::string& w : words) s.push_back(vocab.id(w));
    } else {
      const std::string lower = text::ascii_lower(piece);
      std::string word;
      for (char c : lower) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
          word.push_back(c);
        } else if (!word.empty()) {
          s.push_back(vocab.id(word));
          word.clear();
        }
      }
      if (!word.empty()) s.push_back(vocab.id(word));
      if (s.empty()) continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Sentence flatten(const std::vector<Sentence>& sentences) {
  Sentence all;
  for (const Sentence& s : sentences) all.insert(all.end(), s.begin(), s.end());
  return all;
}

std::set<std::vector<int>> ngram_set(const Sentence& words, std::size_t n) {
  std::set<std::vector<int>> out;
  for (std::size_t i = 0; i + n <= words.size(); ++i) out.emplace(words.begin() + static_cast<std::ptrdiff_t>(i),
                                                                  words.begin() + static_cast<std::ptrdiff_t>(i + n));
  return out;
}

RougeScore from_counts(std::size_t hyp_count, std::size_t ref_count, std::size_t overlap) {
  RougeScore s;
  s.p = hyp_count == 0 ? 0.0 : static_cast<double>(overlap) / static_cast<double>(hyp_count);
  s.r = ref_count == 0 ? 0.0 : static_cast<double>(overlap) / static_cast<double>(ref_count);
  s.f = 2.0 * ((s.p * s.r) / (s.p + s.r + 1e-8));
  return s;
}

RougeScore rouge_n(const Sentence& hyp, const Sentence& ref, std::size_t n) {
  const auto h = ngram_set(hyp, n);
  const auto r = ngram_set(ref, n);
  std::size_t overlap = 0;
  for (const auto& g : h) overlap += r.count(g);
  return from_counts(h.size(), r.size(), overlap);
}

// The words of one LCS of x (reference sentence) and y (hypothesis sentence), reconstructed from the end
// with the package's tie-breaking: match -> diagonal; else up if table[i-1][j] > table[i][j-1]; else left.
void add_lcs_words(const Sentence& x, const Sentence& y, std::set<int>& out) {
  const std::size_t n = x.size(), m = y.size();
  std::vector<unsigned> table((n + 1) * (m + 1), 0);
  const auto at = [&](std::size_t i, std::size_t j) -> unsigned& { return table[i * (m + 1) + j]; };
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j)
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
  std::size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      out.insert(x[i - 1]);
      --i;
      --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
}

RougeScore rouge_l(const std::vector<Sentence>& hyp, const std::vector<Sentence>& ref) {
  const Sentence hyp_words = flatten(hyp), ref_words = flatten(ref);
  const std::set<int> hyp_set(hyp_words.begin(), hyp_words.end());
  const std::set<int> ref_set(ref_words.begin(), ref_words.end());
  std::set<int> lcs_union;
  for (const Sentence& r : ref)
    for (const Sentence& h : hyp) add_lcs_words(r, h, lcs_union);
  const double llcs = static_cast<double>(lcs_union.size());
  RougeScore s;
  s.r = llcs / static_cast<double>(ref_set.size());
  s.p = llcs / static_cast<double>(hyp_set.size());
  s.f = 2.0 * ((s.p * s.r) / (s.p + s.r + 1e-8));
  return s;
}

}  // namespace

RougeScores rouge_scores(std::string_view hypothesis, std::string_view reference, RougeTokens tokens) {
  Vocabulary vocab;
  const std::vector<Sentence> hyp = sentences_of(hypothesis, tokens, vocab);
  const std::vector<Sentence> ref = sentences_of(reference, tokens, vocab);
  if (hyp.empty() || ref.empty()) return {};  // the package raises ValueError here
  const Sentence hyp_words = flatten(hyp), ref_words = flatten(ref);
  RougeScores out;
  out.rouge_1 = rouge_n(hyp_words, ref_words, 1);
  out.rouge_2 = rouge_n(hyp_words, ref_words, 2);
  out.rouge_l = rouge_l(hyp, ref);
  return out;
}

}  // namespace kvpress
