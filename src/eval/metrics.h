// Metric functions of kvpress's scorers (spec §6.4), pure functions on strings. Each mirrors the Python
// function named in its comment; deviations are listed in docs/eval-tasks.md.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kvpress {

// ---- RULER (benchmarks/ruler/calculate_metrics.py) ----

// strip, delete the control characters U+0000-U+001F, strip.
std::string clean_ruler_prediction(std::string_view prediction);
// Per row, case-insensitive substring tests: the share of refs found in pred (all) / 1 if any is (part).
// Throw Error on an empty refs list (Python raises there too).
double string_match_all_row(std::string_view prediction, const std::vector<std::string>& refs);
double string_match_part_row(std::string_view prediction, const std::vector<std::string>& refs);
// 100 x mean over rows, rounded to 2 decimals as Python's round() does. Sizes must match and be > 0.
double string_match_all(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& refs);
double string_match_part(const std::vector<std::string>& predictions, const std::vector<std::vector<std::string>>& refs);

// ---- SQuAD-style answer F1 (LongBench / InfiniteBench normalize_answer, qa_f1_score) ----

// lower-case, drop ASCII punctuation, drop the words a/an/the, collapse whitespace.
std::string normalize_answer(std::string_view s);
// Token-multiset F1 (collections.Counter intersection); 0 when nothing is shared.
double token_f1(const std::vector<std::string>& prediction, const std::vector<std::string>& ground_truth);
double qa_f1_score(std::string_view prediction, std::string_view ground_truth);

// ---- LongBench (benchmarks/longbench/calculate_metrics.py) ----

// rouge_score(): ROUGE-L F of the `rouge` package, hypothesis = prediction, reference = ground truth.
double rouge_l_f_score(std::string_view prediction, std::string_view ground_truth);
// classification_score(): classes found in the prediction, minus those that are strict substrings of the
// ground truth (with Python's skip-after-remove iteration); 1/len if the ground truth is among them.
double classification_score(std::string_view prediction, std::string_view ground_truth,
                            const std::vector<std::string>& all_classes);
// retrieval_score(): the id after "Paragraph " in the ground truth; share of the prediction's digit runs
// equal to it (0 without any). retrieval_zh_score() uses "段落". Throw Error if the ground truth has no id.
double retrieval_score(std::string_view prediction, std::string_view ground_truth);
double retrieval_zh_score(std::string_view prediction, std::string_view ground_truth);
// count_score(): share of the prediction's digit runs equal to the ground truth.
double count_score(std::string_view prediction, std::string_view ground_truth);

// ---- LooGLE shortdep_cloze (benchmarks/loogle/calculate_metrics.py) ----

// Both sides are Python dict literals {"<mask-0>": "entity", ...} (kvpress eval()s them; we parse the
// literal subset: quoted strings, numbers, True/False/None). Exact: keys whose values are equal.
// Partial: keys present in both whose whitespace-split value sets intersect. A side that does not parse
// as a dict scores 0 of 1 (exact), 0 of |reference| (partial, hypothesis unparsable) or 0 of 1 (partial,
// reference unparsable: kvpress crashes there).
struct MatchCount {
  int matched = 0;
  int total = 0;
};
MatchCount loogle_exact_match(std::string_view reference, std::string_view hypothesis);
MatchCount loogle_partial_match(std::string_view reference, std::string_view hypothesis);

// ---- InfiniteBench (benchmarks/infinite_bench/calculate_metrics.py) ----

// The first run of ASCII digits ("" when none).
std::string first_int_match(std::string_view prediction);
// passkey / number_string: label == first_int_match(prediction).
bool infinitebench_passkey(std::string_view prediction, std::string_view label);
// kv_retrieval(_prefix/_both): label is one of the words after \n : " ' . , ? ! { } become spaces.
bool infinitebench_kv_retrieval(std::string_view prediction, std::string_view label);
// longbook_qa_eng: best qa F1 over the labels.
double infinitebench_qa_f1(std::string_view prediction, const std::vector<std::string>& labels);
// longdialogue_qa_eng: some label, upper-cased, inside the stripped upper-cased prediction.
bool infinitebench_longdialogue(std::string_view prediction, const std::vector<std::string>& labels);
// code_run: the last word (after \n . ` ' " : become spaces) read as an integer equals the label.
bool infinitebench_code_run(std::string_view prediction, std::string_view label);

}  // namespace kvpress
