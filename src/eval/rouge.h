// ROUGE-1/2/L as computed by the Python `rouge` package (pltrdy/rouge 1.0.1, Rouge().get_scores with its
// defaults), which kvpress uses for needle in a haystack, LongBench and LooGLE.
#pragma once
#include <string_view>

namespace kvpress {

struct RougeScore {
  double r = 0;  // recall
  double p = 0;  // precision
  double f = 0;  // 2 p r / (p + r + 1e-8), as the package computes it
};

struct RougeScores {
  RougeScore rouge_1, rouge_2, rouge_l;
};

// How words are formed. The package itself (kPackage, the default) does NOT lower-case or drop punctuation:
// it splits the text into "sentences" at every '.', collapses whitespace inside each, and takes the
// space-separated pieces as words (a blank piece between two periods becomes the empty word ""). kLowerAlnum
// lower-cases and keeps only runs of [a-z0-9] as words (the convention of Google's rouge_score), for
// callers who want a punctuation- and case-insensitive score; sentences are still cut at '.'.
enum class RougeTokens { kPackage, kLowerAlnum };

// scores(hypothesis, reference) with the package's semantics ("exclusive" mode):
//  * ROUGE-N: the SETS of distinct n-grams of all words (n-grams run across sentence ends);
//    r = overlap / |ref n-grams|, p = overlap / |hyp n-grams| (0 when a set is empty).
//  * ROUGE-L (summary level): for every reference sentence and every hypothesis sentence one longest
//    common subsequence is reconstructed (the package's tie-breaking); llcs = number of distinct words in
//    the union of all of them; r = llcs / |distinct reference words|, p = llcs / |distinct hypothesis words|.
// Where the package raises ValueError (a text with no sentence, e.g. "" or "..."), all scores are 0, which
// is what kvpress's LongBench/LooGLE wrappers record for that exception.
RougeScores rouge_scores(std::string_view hypothesis, std::string_view reference,
                         RougeTokens tokens = RougeTokens::kPackage);

}  // namespace kvpress
