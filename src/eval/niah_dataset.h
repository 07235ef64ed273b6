// kvpress's needle-in-a-haystack dataset: the essays cut to a token budget with one needle spliced in at
// a token depth, over a grid of context lengths x depths (spec §6.4, needle_in_haystack/utils.py).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "eval/haystack.h"
#include "eval/task_record.h"

namespace kvpress {

// Our needle (the classic one of Kamradt's test; kvpress reads its needle from its dataset's first row,
// which we do not ship). The newlines keep byte-level BPE tokenizers from gluing it to the previous word.
inline constexpr std::string_view kNiahNeedle =
    "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n";
inline constexpr std::string_view kNiahQuestion = "What is the best thing to do in San Francisco?";
inline constexpr std::string_view kNiahAnswerPrefix = "Answer: The best thing to do in San Francisco is";
// The part of the needle a correct answer repeats (TaskRecord::answers, for string-match style checks).
inline constexpr std::string_view kNiahAnswer = "eat a sandwich and sit in Dolores Park on a sunny day";
inline constexpr int kNiahMaxNewTokens = 32;
// kvpress: "This is a very long story book: <book> {context} </book>."
inline constexpr std::string_view kNiahContextWrapper = "This is a very long story book: <book> {context} </book>.";
// Tokens kvpress leaves for the wrapper, question and chat template.
inline constexpr int kNiahReservedTokens = 150;

struct NiahOptions {
  std::vector<int> lengths;   // max_context_length values in tokens
  std::vector<int> depths;    // needle depths in percent, each in [0, 100]
  std::string needle{kNiahNeedle};
  std::string question{kNiahQuestion};
  std::string answer_prefix{kNiahAnswerPrefix};
  std::string answer{kNiahAnswer};
  int max_new_tokens = kNiahMaxNewTokens;
};

// One record per (length, depth), lengths outer. For each length L: haystack = the essays' tokens truncated
// to L - len(needle tokens) - 150; the needle's tokens go in at index int(len(haystack) * depth / 100); the
// result is decoded and wrapped. If the essays hold fewer tokens than the budget, all of them are used (no
// repetition, as in kvpress). Records: task "niah", needle, needle_depth, length = L, answers = {answer}.
// Throws Error for a depth outside [0, 100] or a length too small for the needle and the reserve.
std::vector<TaskRecord> make_niah_dataset(const Haystack& haystack, const TokenCodec& codec, const NiahOptions& options);

}  // namespace kvpress
