// Haystack text of the synthetic tasks: RULER's repeated noise sentences and the Paul Graham essays
// shipped in data/paul_graham_essays/, plus the data folder lookup and a simple sentence splitter.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress {

// RULER's "noise" haystack unit (niah_single_1, vt).
inline constexpr std::string_view kNoiseSentence =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

// The repository's data/ folder as configured at build time (KVPRESS_DATA_DIR). Tools pass their own
// location (e.g. an installed share/ folder); this is the fallback for running from the build tree.
std::filesystem::path default_data_dir();

// The essays, concatenated in file-name order. Immutable after construction; safe to share.
class Haystack {
 public:
  // Reads data_dir/paul_graham_essays/*.txt. Throws Error naming the folder if it is missing or empty.
  static Haystack load(const std::filesystem::path& data_dir);
  // From given essay texts (tests).
  static Haystack from_essays(std::vector<std::string> essays);

  const std::string& text() const { return text_; }                  // essays joined by "\n"
  const std::vector<std::string>& words() const { return words_; }   // text split on whitespace
  std::size_t n_essays() const { return n_essays_; }

  // The first n words joined by single spaces, cycling through the essays again when n > words().size()
  // (RULER repeats the haystack the same way).
  std::string first_words(std::size_t n) const;

 private:
  std::string text_;
  std::vector<std::string> words_;
  std::size_t n_essays_ = 0;
};

// Splits whitespace-normalised prose into sentences. A stand-in for NLTK's punkt (which RULER uses):
// a sentence ends at a word ending in '.', '!' or '?' (closing quotes/brackets allowed after it) when the
// next word starts with an upper-case letter, a digit, a quote or a bracket, unless the word is a common
// abbreviation or an initial ("Mr.", "e.g.", "J."). Sentences are returned with single spaces, so joining
// them with " " gives back the normalised text.
std::vector<std::string> split_sentences(std::string_view text);

}  // namespace kvpress
