// Vocab::from_gguf: reading tokenizer metadata, rejecting malformed vocabs with the key named, and the
// shared reference models' 1024-token SPM vocab.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "vocab_test_util.h"

namespace kvpress {
namespace {

using gguf::GgufFile;
using gguf::GgufWriter;

// A valid 6-token SPM vocab; tests break one thing at a time.
GgufWriter tiny_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "\xE2\x96\x81" "a"});
  w.set_float32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3});
  w.set_int32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  w.set_uint32("tokenizer.ggml.bos_token_id", 1);
  w.set_uint32("tokenizer.ggml.eos_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string("tokenizer.chat_template", "{{ '[INST] ' }}");
  return w;
}

Vocab load(const GgufWriter& w) {
  const auto bytes = w.to_bytes();
  return Vocab::from_gguf(GgufFile::parse(bytes, "tiny.gguf"));
}

// Expects an Error whose message names `key`.
void expect_error_naming(const GgufWriter& w, const std::string& key) {
  try {
    load(w);
    ADD_FAILURE() << "expected an Error naming " << key;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny.gguf"), std::string::npos) << e.what();
  }
}

TEST(VocabLoad, ReadsAllFields) {
  const Vocab v = load(tiny_writer());
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.pre, "default");
  ASSERT_EQ(v.tokens.size(), 6u);
  EXPECT_EQ(v.tokens[4], "a");
  ASSERT_EQ(v.scores.size(), 6u);
  EXPECT_EQ(v.scores[5], -3.0f);
  ASSERT_EQ(v.types.size(), 6u);
  EXPECT_EQ(v.types[0], TokenType::Unknown);
  EXPECT_EQ(v.types[1], TokenType::Control);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);  // SPM default when the key is absent
  EXPECT_EQ(v.eot_id, -1);
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_eos);
  EXPECT_TRUE(v.add_space_prefix);
  EXPECT_EQ(v.chat_template, "{{ '[INST] ' }}");
  const Tokenizer tok(v);
  EXPECT_EQ(tok.encode("a", true, false), (std::vector<int32_t>{1, 5}));
}

TEST(VocabLoad, OptionalKeysOverrideDefaults) {
  GgufWriter w = tiny_writer();
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  w.set_bool("tokenizer.ggml.add_eos_token", true);
  w.set_uint32("tokenizer.ggml.eot_token_id", 2);
  w.set_uint32("tokenizer.ggml.padding_token_id", 0);
  const Vocab v = load(w);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_TRUE(v.add_eos);
  EXPECT_EQ(v.eot_id, 2);
  EXPECT_EQ(v.pad_id, 0);
  EXPECT_EQ(Tokenizer(v).encode("a", true, false), (std::vector<int32_t>{1, 4, 2}));  // no prefix space
}

TEST(VocabLoad, MissingTokens) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  expect_error_naming(w, "tokenizer.ggml.tokens");
}

TEST(VocabLoad, MissingModel) {
  GgufWriter w;
  w.set_string_array("tokenizer.ggml.tokens", {"a"});
  expect_error_naming(w, "tokenizer.ggml.model");
}

TEST(VocabLoad, UnsupportedModel) {
  GgufWriter w = tiny_writer();
  w.set_string("tokenizer.ggml.model", "bert");
  expect_error_naming(w, "tokenizer.ggml.model");
}

TEST(VocabLoad, TokensOfWrongType) {
  GgufWriter w = tiny_writer();
  w.set_int32_array("tokenizer.ggml.tokens", {1, 2, 3});
  expect_error_naming(w, "tokenizer.ggml.tokens");
}

TEST(VocabLoad, ScoresSizeMismatch) {
  GgufWriter w = tiny_writer();
  w.set_float32_array("tokenizer.ggml.scores", {0, 0, 0});
  expect_error_naming(w, "tokenizer.ggml.scores");
}

TEST(VocabLoad, TypesSizeMismatch) {
  GgufWriter w = tiny_writer();
  w.set_int32_array("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1});
  expect_error_naming(w, "tokenizer.ggml.token_type");
}

TEST(VocabLoad, TypeValueOutOfRange) {
  GgufWriter w = tiny_writer();
  w.set_int32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 9, 1});
  expect_error_naming(w, "tokenizer.ggml.token_type");
}

TEST(VocabLoad, IdsOutOfRange) {
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                          "tokenizer.ggml.eom_token_id", "tokenizer.ggml.unknown_token_id",
                          "tokenizer.ggml.padding_token_id"}) {
    GgufWriter w = tiny_writer();
    w.set_uint32(key, 6);
    expect_error_naming(w, key);
  }
}

TEST(VocabLoad, BpeNeedsMerges) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
  expect_error_naming(w, "tokenizer.ggml.merges");
  w.set_string_array("tokenizer.ggml.merges", {"a b"});
  const Vocab v = load(w);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(Tokenizer(v).encode("ab", true, false), (std::vector<int32_t>{2}));
}

TEST(VocabLoad, BpeMalformedMerge) {
  Vocab v;
  v.model = "gpt2";
  v.tokens = {"a", "b"};
  v.merges = {"ab"};
  EXPECT_THROW(Tokenizer{v}, Error);
}

// The reference models carry the first 1024 tokens of the Llama-2 SPM vocab.
TEST(VocabLoad, ReferenceModels) {
  KVPRESS_REQUIRE_SHARED("reference");
  int n_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing::shared_dir() / "reference")) {
    if (e.path().extension() != ".gguf") continue;
    ++n_files;
    const auto file = GgufFile::open(e.path().string());
    const Vocab v = Vocab::from_gguf(file);
    SCOPED_TRACE(e.path().filename().string());
    EXPECT_EQ(v.model, "llama");
    ASSERT_EQ(v.tokens.size(), 1024u);
    EXPECT_EQ(v.scores.size(), 1024u);
    EXPECT_EQ(v.types.size(), 1024u);
    EXPECT_EQ(v.bos_id, 1);
    EXPECT_EQ(v.eos_id, 2);
    EXPECT_TRUE(v.add_bos);
    const Tokenizer tok(v);
    // (No space before a digit: "▁" alone is not among the 1024 pieces, so there it falls back to its
    // three UTF-8 bytes, which decode to "▁" itself, as in llama.cpp and HF.)
    const std::string text = "Hello world, this is a test of the tokenizer:1234!";
    const auto ids = tok.encode(text, true, false);
    EXPECT_EQ(ids.front(), 1);
    for (const int32_t id : ids) EXPECT_LT(id, 1024);
    EXPECT_EQ(tok.decode(ids), text);
  }
  EXPECT_GE(n_files, 5);
}

// The reference vocab is a prefix of the full Llama-2 vocab: same ids for pieces that exist in both.
TEST(VocabLoad, ReferenceVocabIsLlamaSpmPrefix) {
  KVPRESS_REQUIRE_SHARED("reference");
  KVPRESS_REQUIRE_SHARED("vocab");
  const auto ref = Vocab::from_gguf(GgufFile::open((testing::shared_dir() / "reference/llama-gqa.gguf").string()));
  const Tokenizer& full = testing::shared_tokenizer("llama-spm");
  for (size_t i = 0; i < ref.tokens.size(); ++i) ASSERT_EQ(ref.tokens[i], full.vocab().tokens[i]) << i;
}

}  // namespace
}  // namespace kvpress
