// RULER's aggregation tasks: common words extraction (cwe, common_words_extraction.py) and frequent coded
// words extraction (fwe, freq_words_extraction.py), with RULER's templates and counts.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "core/error.h"
#include "eval/ruler_builders.h"
#include "eval/text_utils.h"

namespace kvpress::ruler {
namespace {

constexpr std::string_view kCweTemplate =
    "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones "
    "that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?"
    " Answer: The top 10 words that appear most often in the list are:";

constexpr std::string_view kFweTemplate =
    "Read the following coded text and track the frequency of each coded word. Find the three most frequently "
    "appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. "
    "What are the three most frequently appeared words in the above coded text?"
    " Answer: According to the coded text above, the three most frequently appeared words are:";

constexpr std::size_t kNumCommon = 10;     // num_cw
constexpr int kCodedWordLength = 6;        // coded_wordlen
constexpr double kAlpha = 2.0;             // fwe zeta exponent
constexpr int kFweMaxNewTokens = 50;

// Streams: main words, main shuffle, example words, example shuffle.
constexpr uint64_t kWordStream = 0, kShuffleStream = 1, kExampleWordStream = 3, kExampleShuffleStream = 4;

struct CweShape {
  std::size_t common_repeats, uncommon_repeats;
};

std::string numbered(const std::vector<std::string>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out += std::to_string(i + 1) + ". " + words[i];
  }
  return out;
}

// RULER get_example: the first 10 words are common (repeated), the rest uncommon; shuffled, numbered.
std::string cwe_list(const std::vector<std::string>& words, CweShape shape, SampleRng shuffle_rng) {
  const std::size_t n_common = std::min(kNumCommon, words.size());
  std::vector<std::string> list;
  for (std::size_t r = 0; r < shape.common_repeats; ++r) list.insert(list.end(), words.begin(), words.begin() + n_common);
  for (std::size_t r = 0; r < shape.uncommon_repeats; ++r) list.insert(list.end(), words.begin() + n_common, words.end());
  shuffle_rng.shuffle(list);
  return numbered(list);
}

// Riemann zeta(2) = pi^2 / 6 (scipy.special.zeta(2.0)).
constexpr double kZeta2 = std::numbers::pi * std::numbers::pi / 6.0;

}  // namespace

BuildFn make_cwe_builder(const SampleSource& src) {
  // RULER uses lighter settings below 4096 tokens: example (20 words, x3/x1), main list x6/x1;
  // otherwise example (40 words, x10/x3) and main list x30/x3.
  const bool small = src.target_length < 4096;
  const std::size_t example_words = small ? 20 : 40;
  const CweShape example_shape = small ? CweShape{3, 1} : CweShape{10, 3};
  const CweShape main_shape = small ? CweShape{6, 1} : CweShape{30, 3};

  SampleRng example_rng = src.stream(kExampleWordStream);
  const std::vector<std::string> example = src.words.distinct_words(example_rng, src.split, example_words);
  std::string example_text =
      format_template(kCweTemplate, {{"context", cwe_list(example, example_shape, src.stream(kExampleShuffleStream))}}) +
      " " + numbered(std::vector<std::string>(example.begin(), example.begin() + kNumCommon));

  return [src, example_text = std::move(example_text), main_shape](std::size_t n_units) {
    SampleRng word_rng = src.stream(kWordStream);
    const std::vector<std::string> words = src.words.distinct_words(word_rng, src.split, n_units);
    Prompt p;
    p.text = example_text + "\n" +
             format_template(kCweTemplate, {{"context", cwe_list(words, main_shape, src.stream(kShuffleStream))}});
    p.answers.assign(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(std::min(kNumCommon, words.size())));
    return p;
  };
}

BuildFn make_fwe_builder(const SampleSource& src) {
  // RULER: vocab_size = (max_seq_length - tokens_to_generate) // 50 random 6-letter words, sorted then
  // shuffled; rank 1 becomes the noise word "..." and ranks 2-4 are the answer.
  const std::size_t vocab_size =
      std::max<std::size_t>(4, static_cast<std::size_t>(std::max(0, src.target_length - kFweMaxNewTokens) / 50));
  SampleRng vocab_rng = src.stream(kWordStream);
  std::set<std::string> unique;
  while (unique.size() < vocab_size) unique.insert(random_letters(vocab_rng, src.split, kCodedWordLength, false));
  std::vector<std::string> vocab(unique.begin(), unique.end());
  vocab_rng.shuffle(vocab);
  vocab[0] = "...";

  return [src, vocab = std::move(vocab)](std::size_t n_units) {
    // Zipf counts: int(num_words * k^-alpha / zeta(alpha)) copies of the rank-k word.
    std::vector<std::string> sampled;
    for (std::size_t k = 1; k <= vocab.size(); ++k) {
      const double expected = static_cast<double>(n_units) * std::pow(static_cast<double>(k), -kAlpha) / kZeta2;
      sampled.insert(sampled.end(), static_cast<std::size_t>(expected), vocab[k - 1]);
    }
    SampleRng shuffle_rng = src.stream(kShuffleStream);
    shuffle_rng.shuffle(sampled);
    Prompt p;
    p.text = format_template(kFweTemplate, {{"context", text::join(sampled, " ")}});
    p.answers.assign(vocab.begin() + 1, vocab.begin() + 4);
    return p;
  };
}

}  // namespace kvpress::ruler
