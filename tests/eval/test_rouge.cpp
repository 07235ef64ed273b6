// ROUGE on small examples worked out by hand with the `rouge` package's rules (distinct n-grams, sentences
// cut at '.', case-sensitive words, union-LCS counted in distinct words).
#include <gtest/gtest.h>

#include "eval/rouge.h"

namespace kvpress {
namespace {

double f_of(double p, double r) { return 2.0 * ((p * r) / (p + r + 1e-8)); }

void expect_score(const RougeScore& s, double r, double p) {
  EXPECT_DOUBLE_EQ(s.r, r);
  EXPECT_DOUBLE_EQ(s.p, p);
  EXPECT_DOUBLE_EQ(s.f, f_of(p, r));
}

TEST(Rouge, OneSentenceEachWithRepeatedWords) {
  const RougeScores s = rouge_scores("the cat sat on the mat", "the cat is on the mat");
  // Distinct unigrams: hyp {the cat sat on mat}, ref {the cat is on mat}; 4 shared of 5 each.
  expect_score(s.rouge_1, 0.8, 0.8);
  // Distinct bigrams, 5 each; shared: (the cat) (on the) (the mat).
  expect_score(s.rouge_2, 0.6, 0.6);
  // LCS "the cat on the mat" has 5 words but 4 distinct ones, and the package counts distinct words.
  expect_score(s.rouge_l, 0.8, 0.8);
}

TEST(Rouge, CaseSensitiveAndCrossSentenceBigrams) {
  // hyp sentences "A b" | "C d" -> words [A b C d]; ref words [a b c d]. Shared unigrams: b, d.
  const RougeScores s = rouge_scores("A b. C d", "a b c d");
  expect_score(s.rouge_1, 0.5, 0.5);
  // hyp bigrams (A b) (b C) (C d) - the middle one spans the period - none in ref.
  expect_score(s.rouge_2, 0.0, 0.0);
  // ref sentence vs "A b" -> LCS {b}; vs "C d" -> {d}; union 2 of 4 distinct words on each side.
  expect_score(s.rouge_l, 0.5, 0.5);
}

TEST(Rouge, LowerAlnumTokensIgnoreCaseAndPunctuation) {
  const RougeScores s = rouge_scores("A b. C, d!", "a b c d", RougeTokens::kLowerAlnum);
  expect_score(s.rouge_1, 1.0, 1.0);
  expect_score(s.rouge_2, 1.0, 1.0);  // (a b) (b c) (c d): bigrams still span sentences
  expect_score(s.rouge_l, 1.0, 1.0);  // {a b} from the first sentence, {c d} from the second
}

TEST(Rouge, BlankSentenceBecomesTheEmptyWord) {
  // "x. . y".split(".") = ["x", " ", " y"] -> sentences "x", "", "y" -> words [x, "", y].
  const RougeScores s = rouge_scores("x. . y", "x y");
  expect_score(s.rouge_1, 1.0, 2.0 / 3.0);  // hyp {x, "", y}, ref {x, y}
  expect_score(s.rouge_2, 0.0, 0.0);        // hyp (x "") ("" y) vs ref (x y)
  expect_score(s.rouge_l, 1.0, 2.0 / 3.0);  // LCS words {x} and {y}: 2 of ref's 2, of hyp's 3
}

TEST(Rouge, EmptyTextsScoreZero) {
  // The package raises ValueError("Hypothesis is empty.") here; kvpress's wrappers record 0.
  const RougeScores a = rouge_scores("", "a b");
  const RougeScores b = rouge_scores("a b", "...");
  for (const RougeScores& s : {a, b}) {
    EXPECT_EQ(s.rouge_1.f, 0.0);
    EXPECT_EQ(s.rouge_2.r, 0.0);
    EXPECT_EQ(s.rouge_l.p, 0.0);
  }
}

TEST(Rouge, LcsTieBreakingFollowsThePackage) {
  // ref "a b" vs hyp sentence "b a": "a" and "b" are both LCSs. Walking back from (2, 2): b != a and
  // table[1][2] = 1 is not > table[2][1] = 1, so the walk moves left to (2, 1) where b == b: the package
  // picks {b}. With the second hyp sentence "a" (LCS {a}) the union is {a, b}: r = 2/2, p = 2/2.
  // Picking {a} for the first sentence would give a union of 1 word and r = 0.5.
  const RougeScores s = rouge_scores("b a. a", "a b");
  expect_score(s.rouge_l, 1.0, 1.0);
  expect_score(s.rouge_1, 1.0, 1.0);
  expect_score(s.rouge_2, 0.0, 0.0);  // hyp bigrams (b a) (a a) vs ref (a b)
}

}  // namespace
}  // namespace kvpress
