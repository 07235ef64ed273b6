// Metric functions against hand-computed values (each expectation is worked out in the comment beside it).
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/metrics.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

TEST(PyRound, MatchesPythonRoundIncludingTies) {
  EXPECT_EQ(text::py_round(0.125, 2), 0.12);          // exact tie -> even
  EXPECT_EQ(text::py_round(0.375, 2), 0.38);          // exact tie -> even
  EXPECT_EQ(text::py_round(2.675, 2), 2.67);          // 2.675 is 2.67499999... in binary
  EXPECT_EQ(text::py_round(200.0 / 3.0, 2), 66.67);
  EXPECT_EQ(text::py_round(0.66666, 4), 0.6667);
}

TEST(TextUtils, PythonWhitespaceSplitAndStrip) {
  // \x1c-\x1f and U+00A0 are whitespace for Python's str.split()/strip(); \x01 is not.
  EXPECT_EQ(text::split_whitespace(" a\tb\x1f" "c\xC2\xA0" "d  "), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(text::strip("\n \x01x\xE3\x80\x80"), "\x01x");
  EXPECT_EQ(text::split_on("a..b", "."), (std::vector<std::string>{"a", "", "b"}));
}

TEST(RulerMetrics, CleaningStripsThenDeletesControlCharacters) {
  // strip() removes "\n \x1f" at the end (all whitespace), leaving "\x01 Hello\tWorld"; deleting
  // U+0000-U+001F removes \x01 and \t -> " HelloWorld"; the final strip gives "HelloWorld".
  EXPECT_EQ(clean_ruler_prediction("  \x01 Hello\tWorld\n \x1f"), "HelloWorld");
}

TEST(RulerMetrics, StringMatchRowsAreCaseInsensitiveSubstringShares) {
  const std::vector<std::string> refs = {"abc", "xyz"};
  EXPECT_DOUBLE_EQ(string_match_all_row("ABC and more", refs), 0.5);   // 1 of 2 references present
  EXPECT_DOUBLE_EQ(string_match_part_row("ABC and more", refs), 1.0);  // at least one present
  EXPECT_DOUBLE_EQ(string_match_all_row("xYz ... AbC", refs), 1.0);
  EXPECT_DOUBLE_EQ(string_match_part_row("nothing", refs), 0.0);
  EXPECT_THROW(string_match_all_row("x", {}), Error);
}

TEST(RulerMetrics, StringMatchAggregatesAsPercentRoundedToTwoDecimals) {
  EXPECT_DOUBLE_EQ(string_match_all({"ABC ..."}, {{"abc", "xyz"}}), 50.0);
  const std::vector<std::string> preds = {"ABC xyz", "abc", "nothing"};
  const std::vector<std::vector<std::string>> refs = {{"abc", "xyz"}, {"abc", "xyz"}, {"q"}};
  EXPECT_DOUBLE_EQ(string_match_all(preds, refs), 50.0);    // (1 + 0.5 + 0) / 3 * 100
  EXPECT_DOUBLE_EQ(string_match_part(preds, refs), 66.67);  // (1 + 1 + 0) / 3 * 100 = 66.666...
  EXPECT_THROW(string_match_all(preds, {{"a"}}), Error);   // size mismatch
}

TEST(SquadF1, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer("The Quick, brown fox!"), "quick brown fox");
  // Punctuation goes before articles: "a-an" becomes "aan", which is no article; "theatre" keeps "the".
  EXPECT_EQ(normalize_answer("Theatre a-an"), "theatre aan");
  EXPECT_EQ(normalize_answer("an apple a day the end"), "apple day end");
}

TEST(SquadF1, TokenF1UsesMultisetOverlap) {
  // pred -> [cat, sat, on, mat], truth -> [cat, on, mat]: same 3, p 3/4, r 1, f1 = 1.5 / 1.75.
  EXPECT_DOUBLE_EQ(qa_f1_score("The cat sat on the mat", "a cat on a mat"), 2 * 0.75 * 1.0 / 1.75);
  // Counter overlap min(3, 1) = 1: p 1/3, r 1/2 -> f1 = (2 * 1/6) / (5/6) = 0.4.
  EXPECT_DOUBLE_EQ(qa_f1_score("cat cat cat", "cat dog"), (2 * (1.0 / 3) * 0.5) / (1.0 / 3 + 0.5));
  EXPECT_DOUBLE_EQ(qa_f1_score("dog", "cat"), 0.0);
}

TEST(LongBenchMetrics, ClassificationKeepsPythonsSkipAfterRemove) {
  // Classes found in "AB": [A, AB, B]. A (substring of the truth) is removed, which skips AB; B removed.
  // Left: [AB] -> 1/1.
  EXPECT_DOUBLE_EQ(classification_score("AB", "AB", {"A", "AB", "B"}), 1.0);
  // Found: [A, B, AB]. Removing A skips B, AB is the truth. Left: [B, AB] -> 1/2 (1.0 without the quirk).
  EXPECT_DOUBLE_EQ(classification_score("AB", "AB", {"A", "B", "AB"}), 0.5);
  EXPECT_DOUBLE_EQ(classification_score("Type: HUM", "LOC", {"HUM", "LOC"}), 0.0);
}

TEST(LongBenchMetrics, RetrievalAndCount) {
  EXPECT_DOUBLE_EQ(retrieval_score("Paragraph 12 and 3", "Paragraph 12"), 0.5);  // digit runs [12, 3]
  EXPECT_DOUBLE_EQ(retrieval_score("no digits", "Paragraph 12"), 0.0);
  EXPECT_DOUBLE_EQ(retrieval_score("7", "Paragraph x, then Paragraph 7"), 1.0);  // first "Paragraph <digits>"
  EXPECT_THROW(retrieval_score("1", "no id"), Error);
  EXPECT_DOUBLE_EQ(retrieval_zh_score("\xE6\xAE\xB5\xE8\x90\xBD" "4", "\xE6\xAE\xB5\xE8\x90\xBD" "4"), 1.0);
  EXPECT_DOUBLE_EQ(count_score("There are 5 paragraphs, maybe 5 or 6", "5"), 2.0 / 3.0);  // [5, 5, 6]
}

TEST(LongBenchMetrics, RougeLF) {
  // Single sentences; LCS of "a b c d" and "a c d" is "a c d": 3 distinct words; r = 3/4, p = 3/3.
  const double p = 1.0, r = 0.75;
  EXPECT_DOUBLE_EQ(rouge_l_f_score("a c d", "a b c d"), 2.0 * ((p * r) / (p + r + 1e-8)));
}

TEST(LoogleCloze, ExactAndPartialMatchOnDictLiterals) {
  const std::string ref = "{'<mask-0>': 'Bob Smith', '<mask-1>': 'Paris'}";
  const std::string hyp = "{\"<mask-0>\": \"Bob\", \"<mask-1>\": \"Paris\"}";
  MatchCount e = loogle_exact_match(ref, hyp);
  EXPECT_EQ(e.matched, 1);  // only mask-1 equal
  EXPECT_EQ(e.total, 2);
  MatchCount p = loogle_partial_match(ref, hyp);
  EXPECT_EQ(p.matched, 2);  // {Bob} meets {Bob, Smith}; {Paris} meets {Paris}
  EXPECT_EQ(p.total, 2);
  // Unparsable hypothesis: exact counts 0 of 1, partial 0 of |reference|.
  EXPECT_EQ(loogle_exact_match(ref, "The answer is Bob").total, 1);
  EXPECT_EQ(loogle_partial_match(ref, "The answer is Bob").total, 2);
  EXPECT_EQ(loogle_partial_match("not a dict", hyp).total, 1);
  // Escapes and whitespace around the literal.
  e = loogle_exact_match("{'a': 'it\\'s'}", "  {'a': \"it's\",}\n");
  EXPECT_EQ(e.matched, 1);
  EXPECT_EQ(e.total, 1);
  // Trailing text makes eval() fail.
  EXPECT_EQ(loogle_exact_match("{'a': 'x'}", "{'a': 'x'} done").matched, 0);
}

TEST(InfiniteBench, RetrievalScores) {
  EXPECT_TRUE(infinitebench_passkey("The pass key is 71432. Remember it.", "71432"));
  EXPECT_FALSE(infinitebench_passkey("pass key 7143 2", "71432"));  // first digit run is 7143
  EXPECT_EQ(first_int_match("no digits"), "");
  EXPECT_TRUE(infinitebench_kv_retrieval("The value is \"abc-123\".", "abc-123"));
  EXPECT_FALSE(infinitebench_kv_retrieval("The value is abc-1234", "abc-123"));
  EXPECT_TRUE(infinitebench_code_run("The output is: 42.", "42"));
  EXPECT_FALSE(infinitebench_code_run("The output is 42 or so", "42"));
  EXPECT_TRUE(infinitebench_longdialogue(" JOHN said it", {"mary", "john"}));
  EXPECT_DOUBLE_EQ(infinitebench_qa_f1("the cat", {"dog", "cat"}), 1.0);
}

}  // namespace
}  // namespace kvpress
