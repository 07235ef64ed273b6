// Token ids of llama.cpp's tokenizer test texts, vocab by vocab, against the expected .out lines; round trips.
#include <gtest/gtest.h>

#include <iostream>

#include "vocab_test_util.h"

namespace kvpress {
namespace {

using testing::read_vocab_ids;
using testing::read_vocab_texts;
using testing::shared_tokenizer;

class VocabParity : public ::testing::TestWithParam<std::string> {};

// Every line must match exactly: add_special=false, parse_special=false, as the .out files were made.
TEST_P(VocabParity, EveryLineMatchesExpectedIds) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const std::string name = GetParam();
  const auto texts = read_vocab_texts(name);
  const auto expected = read_vocab_ids(name);
  ASSERT_FALSE(texts.empty());
  ASSERT_EQ(texts.size(), expected.size()) << name << ": .inp and .out disagree on the number of texts";
  const Tokenizer& tok = shared_tokenizer(name);
  size_t n_match = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto got = tok.encode(texts[i], false, false);
    if (got == expected[i]) {
      ++n_match;
    } else {
      ADD_FAILURE() << name << " line " << i << " text '" << texts[i] << "'\n  expected:"
                    << testing::ids_to_string(expected[i]) << "\n  got:     " << testing::ids_to_string(got);
    }
  }
  std::cout << "[ vocab    ] " << name << ": " << n_match << "/" << texts.size() << " lines match\n";
  RecordProperty("lines_matched", (int)n_match);
  EXPECT_EQ(n_match, texts.size());
}

// decode(encode(x)) == x: byte-level BPE is lossless; for SPM the prefix space added by the encoder is
// removed again by the decoder, so the texts come back exactly too.
TEST_P(VocabParity, DecodeInvertsEncode) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const std::string name = GetParam();
  const Tokenizer& tok = shared_tokenizer(name);
  for (const auto& text : read_vocab_texts(name)) {
    const auto ids = tok.encode(text, false, false);
    EXPECT_EQ(tok.decode(ids), text) << name << ":" << testing::ids_to_string(ids);
    // With BOS/EOS added and skipped on decode, the text is the same.
    EXPECT_EQ(tok.decode(tok.encode(text, true, false), true), text) << name;
  }
}

// A real long text (an essay of the haystack corpus) survives the round trip in every vocab.
TEST_P(VocabParity, LongTextRoundTrip) {
  KVPRESS_REQUIRE_SHARED("vocab");
  KVPRESS_REQUIRE_SHARED("data/paul_graham_essays");
  const std::string name = GetParam();
  std::filesystem::path essay;
  for (const auto& e : std::filesystem::directory_iterator(testing::shared_dir() / "data/paul_graham_essays"))
    if (essay.empty() || e.path() < essay) essay = e.path();
  ASSERT_FALSE(essay.empty());
  const std::string text = testing::read_all(essay);
  const Tokenizer& tok = shared_tokenizer(name);
  const auto ids = tok.encode(text, false, false);
  EXPECT_GT(ids.size(), text.size() / 8);  // English text: a few characters per token at most
  EXPECT_LT(ids.size(), text.size());
  EXPECT_EQ(tok.decode(ids), text);
}

INSTANTIATE_TEST_SUITE_P(SharedVocabs, VocabParity, ::testing::ValuesIn(testing::all_vocab_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace kvpress
