// Key/value vocabularies of the synthetic tasks (words, numbers, UUIDs, variable names) and their
// Train/Test split by a stable hash, so a model trained on Train is tested on keys and values it never saw.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eval/sample_rng.h"
#include "eval/task_record.h"

namespace kvpress {

// Side of an atomic item (a word, a number's decimal digits, a UUID, a variable name): Test when
// stable_hash(item) % kTestShareDenominator == 0, Train otherwise. About a quarter of everything is Test.
inline constexpr uint64_t kTestShareDenominator = 4;
Split split_of(std::string_view item);
// Whether item may be drawn for split (always true for Split::All).
bool in_split(std::string_view item, Split split);

// Word list derived from text shipped in data/ (the essays): the distinct lower-case words of 3 to 12
// ASCII letters, without stop words; words that only ever appear capitalised (names) and contractions
// are left out. RULER draws keys from English adjective/noun lists and CWE words from noun/adjective/verb
// lists (the wonderwords package); we derive ours from the essays instead so the repo ships no lists.
// Immutable after construction; safe to share between threads.
class WordLists {
 public:
  static WordLists from_text(std::string_view text);

  // Sorted, distinct. Throws Error if the split would be empty.
  const std::vector<std::string>& words(Split split) const;

  // One word of the split, uniformly.
  std::string random_word(SampleRng& rng, Split split) const;

  // A needle key: two words of the split joined by '-' (RULER's keys look like "adjective-noun").
  std::string random_key(SampleRng& rng, Split split) const;

  // n distinct words in random order: all words of the split shuffled, then (when n exceeds the list)
  // distinct "word-word" pairs. The first m of n are the same for every n >= m with the same rng state,
  // so searching the haystack size keeps the leading words.
  std::vector<std::string> distinct_words(SampleRng& rng, Split split, std::size_t n) const;

 private:
  std::vector<std::string> all_, train_, test_;
};

// A decimal number of n_digits digits without a leading zero (RULER values: 7 digits), in the split.
std::string random_number(SampleRng& rng, Split split, int n_digits);
// A decimal number in [lo, hi] in the split (VT values: [10000, 99998]); the range must hold some.
std::string random_number_in(SampleRng& rng, Split split, int64_t lo, int64_t hi);
// A version-4 UUID (as Python's uuid.UUID(int=getrandbits(128), version=4)), lower-case hex, in the split.
std::string random_uuid(SampleRng& rng, Split split);
// n random ASCII letters (upper case for VT variable names, lower case for FWE coded words), in the split.
std::string random_letters(SampleRng& rng, Split split, int n, bool upper);

}  // namespace kvpress
