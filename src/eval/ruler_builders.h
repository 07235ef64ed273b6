// Internal to src/eval: the per-family RULER prompt builders and the token-budget fitting they share.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eval/haystack.h"
#include "eval/sample_rng.h"
#include "eval/task_record.h"
#include "eval/word_lists.h"

namespace kvpress::ruler {

// A full prompt (RULER's "input" with the answer prefix still attached) and its reference answers.
struct Prompt {
  std::string text;
  std::vector<std::string> answers;
};

// Everything a builder needs to draw one sample; streams are derived from (seed, task_hash, index).
struct SampleSource {
  const Haystack& haystack;
  const WordLists& words;
  const TokenCounter& count_tokens;
  Split split;
  uint64_t seed;
  uint64_t task_hash;
  uint64_t index;
  int target_length;

  SampleRng stream(uint64_t id) const { return SampleRng(seed, task_hash, index, id); }
};

// Builds the prompt for a haystack of n units (words, sentences, list entries, depending on the task).
using BuildFn = std::function<Prompt(std::size_t n_units)>;

// The largest n >= min_units with count(build(n).text) <= budget_tokens, by binary search (RULER assumes the
// count grows with n, as we do). Throws Error naming `what` when even min_units does not fit.
Prompt fit_to_budget(const BuildFn& build, const TokenCounter& count, std::size_t min_units, std::size_t budget_tokens,
                     std::string_view what);

// Python str.format for the named fields present in tmpl ("{context}"); other text is copied verbatim.
std::string format_template(std::string_view tmpl,
                            std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

// RULER's NIAH configuration (synthetic.yaml).
enum class HaystackKind { Noise, Essay, Needle };
enum class ItemKind { Words, Numbers, Uuids };
struct NiahConfig {
  HaystackKind haystack;
  ItemKind key;
  ItemKind value;
  int n_keys;     // num_needle_k
  int n_values;   // num_needle_v
  int n_queries;  // num_needle_q
};

// Each make_* returns the sample's builder; what does not depend on n (a solved example, a vocabulary) is
// prepared once. The returned function refers to src's haystack, words and counter.
// Needle family: n = noise sentences, essay words, or distractor needles.
BuildFn make_niah_builder(const NiahConfig& config, const SampleSource& src);
std::size_t niah_min_units(const NiahConfig& config);
// Variable tracking (1 chain, 4 hops, noise haystack) after its in-context example; n = noise sentences.
BuildFn make_vt_builder(const SampleSource& src);
// Common word extraction after one solved example; n = distinct words in the main list.
BuildFn make_cwe_builder(const SampleSource& src);
// Frequent word extraction; n = RULER's num_words (the Zipf scale).
BuildFn make_fwe_builder(const SampleSource& src);

inline constexpr std::size_t kVtMinUnits = 5;
inline constexpr std::size_t kCweMinUnits = 10;
inline constexpr std::size_t kFweMinUnits = 40;

}  // namespace kvpress::ruler
