// Tokenizer behaviour: SPM and BPE merging on hand-built vocabs, pre-tokenizer splits, special tokens,
// BOS/EOS flags, decoding and end-of-generation ids.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "vocab_test_util.h"

namespace kvpress {
namespace {

using testing::shared_tokenizer;
using Ids = std::vector<int32_t>;

const std::string kSp = "\xE2\x96\x81";  // U+2581

// A small SPM vocab: <unk> <s> </s>, byte tokens for 'A' and 0xC3 0xA9 (é), then pieces with scores.
Vocab tiny_spm_vocab() {
  Vocab v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>", "<0x41>", "<0xC3>", "<0xA9>", kSp, "a", "b", "c", "ab", "bc", kSp + "a", "abc"};
  v.scores = {0, 0, 0, 0, 0, 0, -5, -1, -1, -1, -2, -3, -4, -10};
  v.types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Byte, TokenType::Byte,
             TokenType::Byte};
  v.types.resize(v.tokens.size(), TokenType::Normal);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_bos = true;
  v.add_space_prefix = true;
  return v;
}

TEST(SpmTokenizer, MergesHighestScoreFirst) {
  Vocab v = tiny_spm_vocab();
  v.add_space_prefix = false;
  // "abc": pairs ab (-2) and bc (-3); ab wins, then "ab"+"c" = "abc" (-10) is a token and merges.
  EXPECT_EQ(Tokenizer(v).encode("abc", false, false), (Ids{13}));
  // Without "abc" in the vocab: ab + c.
  v.tokens[13] = "zzz";
  EXPECT_EQ(Tokenizer(v).encode("abc", false, false), (Ids{10, 9}));
  // Make bc the better pair: a + bc.
  v.scores[11] = -1.5f;
  EXPECT_EQ(Tokenizer(v).encode("abc", false, false), (Ids{7, 11}));
}

TEST(SpmTokenizer, SpacePrefixAndEscaping) {
  const Tokenizer tok(tiny_spm_vocab());
  // " a" -> "▁a" (prefix) ; "a b" -> "▁a" "▁" "b".
  EXPECT_EQ(tok.encode("a", false, false), (Ids{12}));
  EXPECT_EQ(tok.encode("a b", false, false), (Ids{12, 6, 8}));
  EXPECT_EQ(tok.decode(Ids{12, 6, 8}), "a b");
  EXPECT_EQ(tok.token_to_piece(12), " a");
}

TEST(SpmTokenizer, ByteFallbackThenUnknown) {
  const Tokenizer tok(tiny_spm_vocab());
  // 'A' has no piece but a byte token; 'é' (C3 A9) has both byte tokens; 'Z' has neither -> <unk>.
  EXPECT_EQ(tok.encode("A", false, false), (Ids{6, 3}));
  EXPECT_EQ(tok.encode("\xC3\xA9", false, false), (Ids{6, 4, 5}));
  EXPECT_EQ(tok.encode("Z", false, false), (Ids{6, 0}));
  EXPECT_EQ(tok.decode(Ids{6, 4, 5}), "\xC3\xA9");
  EXPECT_EQ(tok.token_to_piece(3), "A");
}

TEST(SpmTokenizer, BosEosFlags) {
  Vocab v = tiny_spm_vocab();
  EXPECT_EQ(Tokenizer(v).encode("a", true, false), (Ids{1, 12}));
  v.add_eos = true;
  EXPECT_EQ(Tokenizer(v).encode("a", true, false), (Ids{1, 12, 2}));
  EXPECT_EQ(Tokenizer(v).encode("a", false, false), (Ids{12}));
  v.add_bos = false;
  EXPECT_EQ(Tokenizer(v).encode("a", true, false), (Ids{12, 2}));
}

TEST(SpmTokenizer, SpecialTokensAndDecode) {
  const Tokenizer tok(tiny_spm_vocab());
  // parse_special: "<s>" is BOS and the text after it gets the prefix space again.
  EXPECT_EQ(tok.encode("a</s>a", false, true), (Ids{12, 2, 12}));
  EXPECT_EQ(tok.decode(Ids{12, 2, 12}, false), "a</s>a");
  EXPECT_EQ(tok.decode(Ids{12, 2, 12}, true), "aa");
  EXPECT_EQ(tok.decode(Ids{1, 12}, true), "a");
  EXPECT_EQ(tok.decode(Ids{1, 12}, false), "<s>a");
  // Without parse_special the text of a control token is plain text (here: unknown characters).
  const Ids plain = tok.encode("</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_THROW(tok.decode(Ids{99}), Error);
  EXPECT_THROW(tok.token_to_piece(-1), Error);
}

// A byte-level BPE vocab over the letters a..d: merges "a b" (rank 0), "c d" (1), "ab cd" (2), "b c" (3).
Vocab tiny_bpe_vocab() {
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"a", "b", "c", "d", "ab", "cd", "abcd", "bc", "Ġ", "Ġa", "<|end|>"};
  v.merges = {"a b", "c d", "ab cd", "b c", "Ġ a"};
  v.types.assign(v.tokens.size(), TokenType::Normal);
  v.types[10] = TokenType::Control;
  v.eos_id = 10;
  return v;
}

TEST(BpeTokenizer, MergesByRank) {
  const Tokenizer tok(tiny_bpe_vocab());
  EXPECT_EQ(tok.encode("abcd", false, false), (Ids{6}));
  EXPECT_EQ(tok.encode("bcd", false, false), (Ids{1, 5}));  // "c d" (1) outranks "b c" (3)
  EXPECT_EQ(tok.encode("bc", false, false), (Ids{7}));
  EXPECT_EQ(tok.encode("a a", false, false), (Ids{0, 9}));  // GPT-2 split: "a", " a"
  EXPECT_EQ(tok.decode(Ids{0, 9}), "a a");
}

TEST(BpeTokenizer, UnknownPreTokenizerListsSupported) {
  Vocab v = tiny_bpe_vocab();
  v.pre = "no-such-pre";
  try {
    Tokenizer tok(v);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
    for (const char* name : {"default", "llama-bpe", "qwen2", "gpt-2", "deepseek-llm", "smollm"})
      EXPECT_NE(msg.find(name), std::string::npos) << name << " missing in: " << msg;
  }
}

TEST(ByteLevel, MappingIsGpt2s) {
  EXPECT_EQ(tok::byte_to_unicode(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(tok::byte_to_unicode('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(tok::byte_to_unicode('A'), "A");
  EXPECT_EQ(tok::byte_to_unicode(0xFF), "\xC3\xBF");  // U+00FF stays
  EXPECT_EQ(tok::byte_to_unicode(0xAD), "\xC5\x83");  // soft hyphen is the 68th remapped byte: U+0143
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tok::unmap_bytes(tok::byte_to_unicode((uint8_t)b)), std::string(1, (char)b));
}

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  std::vector<std::string> out;
  for (const auto w : tok::PreTokenizer(pre).split(text)) out.emplace_back(w);
  return out;
}
using Words = std::vector<std::string>;

TEST(PreTokenizer, RegexSplitsPerFamily) {
  EXPECT_EQ(split("gpt-2", "Hello world 12345"), (Words{"Hello", " world", " 12345"}));
  EXPECT_EQ(split("llama-bpe", "Hello world 12345"), (Words{"Hello", " world", " ", "123", "45"}));
  EXPECT_EQ(split("qwen2", "ab 123"), (Words{"ab", " ", "1", "2", "3"}));
  EXPECT_EQ(split("llama-bpe", "I'M  here\n\n"), (Words{"I", "'M", " ", " here", "\n\n"}));
  EXPECT_EQ(split("gpt-2", "x   y"), (Words{"x", "  ", " y"}));  // \s+(?!\S) leaves one space for " y"
  EXPECT_EQ(split("smollm", "a12"), (Words{"a", "1", "2"}));
  // DeepSeek: newlines isolated first; a trailing space run is its own piece.
  EXPECT_EQ(split("deepseek-llm", "Hi!\nok  "), (Words{"Hi", "!", "\n", "ok", "  "}));
  EXPECT_EQ(split("default", "a+b 1234"), (Words{"a", "+", "b", " ", "123", "4"}));
  // Invalid UTF-8 bytes are kept, as one-byte words.
  EXPECT_EQ(split("gpt-2", "a\xFF" "b"), (Words{"a", "\xFF", "b"}));
}

TEST(PreTokenizer, UnicodeCategories) {
  // \p{L} covers Cyrillic and CJK letters, \p{N} other digits; U+00A0 is whitespace.
  EXPECT_EQ(split("gpt-2", "\xD0\xBF\xD1\x80\xD0\xB8 \xE4\xB8\xAD"), (Words{"\xD0\xBF\xD1\x80\xD0\xB8", " \xE4\xB8\xAD"}));
  EXPECT_EQ(split("qwen2", "\xD9\xA3\xD9\xA4"), (Words{"\xD9\xA3", "\xD9\xA4"}));  // Arabic-Indic digits
  // No-break spaces: not the optional ' ' of " ?\p{L}+", so each is a whitespace word of its own.
  EXPECT_EQ(split("gpt-2", "a\xC2\xA0\xC2\xA0" "b"), (Words{"a", "\xC2\xA0", "\xC2\xA0", "b"}));
}

// Shared vocabs: special-token parsing, flags, end of generation.
TEST(SharedVocab, SpecialTokenParsing) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const Tokenizer& tok = shared_tokenizer("llama-bpe");
  const int32_t eot = tok.find_token("<|eot_id|>");
  ASSERT_EQ(eot, 128009);
  EXPECT_EQ(tok.encode("<|eot_id|>", false, true), (Ids{eot}));
  const Ids plain = tok.encode("<|eot_id|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_EQ(tok.decode(plain), "<|eot_id|>");
  // Special tokens inside text; skip_special drops them on decode.
  const Ids mixed = tok.encode("Hi<|eot_id|><|start_header_id|>x", false, true);
  ASSERT_EQ(mixed.size(), 4u);
  EXPECT_EQ(mixed[1], eot);
  EXPECT_EQ(mixed[2], 128006);
  EXPECT_EQ(tok.decode(mixed, false), "Hi<|eot_id|><|start_header_id|>x");
  EXPECT_EQ(tok.decode(mixed, true), "Hix");

  const Tokenizer& spm = shared_tokenizer("llama-spm");
  EXPECT_EQ(spm.encode("<s>Hello", false, true), spm.encode("Hello", true, false));
  EXPECT_EQ(spm.encode("<s>Hello", false, true).front(), 1);
}

// User-defined tokens are split out even without parse_special (added tokens in HF, as in llama.cpp);
// end-of-turn texts count as control tokens whatever their GGUF type.
TEST(SharedVocab, UserDefinedAndEndOfTurnTokens) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const Tokenizer& deepseek = shared_tokenizer("deepseek-llm");
  const int32_t o_slash = deepseek.find_token("\xC3\xB8");  // "ø", user-defined in this vocab
  ASSERT_EQ(o_slash, 100002);
  EXPECT_EQ(deepseek.encode("\xC3\xB8", false, false), (Ids{o_slash}));
  EXPECT_EQ(deepseek.decode(Ids{o_slash}), "\xC3\xB8");
  const Tokenizer& phi3 = shared_tokenizer("phi-3");
  ASSERT_EQ(phi3.vocab().types[2], TokenType::UserDefined);  // "</s>" in the GGUF
  EXPECT_EQ(phi3.encode("</s>", false, true), (Ids{2}));
  EXPECT_GT(phi3.encode("</s>", false, false).size(), 1u);
  EXPECT_EQ(phi3.decode(Ids{450, 2}, true), phi3.decode(Ids{450}, true));
}

TEST(SharedVocab, BosEosFlags) {
  KVPRESS_REQUIRE_SHARED("vocab");
  // llama-bpe's GGUF has no add_bos key: Llama 3 adds BOS by default. GPT-2 adds nothing.
  const Tokenizer& llama3 = shared_tokenizer("llama-bpe");
  EXPECT_TRUE(llama3.vocab().add_bos);
  EXPECT_EQ(llama3.encode("Hello", true, false).front(), 128000);
  EXPECT_EQ(llama3.encode("Hello", false, false).front(), 9906);
  const Tokenizer& gpt2 = shared_tokenizer("gpt-2");
  EXPECT_FALSE(gpt2.vocab().add_bos);
  EXPECT_EQ(gpt2.encode("Hello", true, false), gpt2.encode("Hello", false, false));
  const Tokenizer& spm = shared_tokenizer("llama-spm");
  const Ids with = spm.encode("Hello", true, false);
  EXPECT_EQ(with.front(), 1);
  EXPECT_NE(with.back(), 2);
  Vocab v = spm.vocab();
  v.add_eos = true;
  const Ids eos = Tokenizer(std::move(v)).encode("Hello", true, false);
  EXPECT_EQ(eos.front(), 1);
  EXPECT_EQ(eos.back(), 2);
}

TEST(SharedVocab, EndOfGeneration) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const Tokenizer& llama3 = shared_tokenizer("llama-bpe");
  EXPECT_TRUE(llama3.is_end_of_generation(128001));   // eos <|end_of_text|>
  EXPECT_TRUE(llama3.is_end_of_generation(128009));   // <|eot_id|>
  EXPECT_FALSE(llama3.is_end_of_generation(128000));  // bos
  EXPECT_FALSE(llama3.is_end_of_generation(9906));    // "Hello"
  EXPECT_FALSE(llama3.is_end_of_generation(-1));
  const Tokenizer& qwen = shared_tokenizer("qwen2");
  EXPECT_TRUE(qwen.is_end_of_generation(qwen.find_token("<|im_end|>")));
  EXPECT_TRUE(qwen.is_end_of_generation(151643));  // <|endoftext|>
  EXPECT_FALSE(qwen.is_end_of_generation(qwen.find_token("<|im_start|>")));
  const Tokenizer& phi3 = shared_tokenizer("phi-3");
  EXPECT_TRUE(phi3.is_end_of_generation(phi3.find_token("<|end|>")));
  EXPECT_FALSE(phi3.is_end_of_generation(phi3.find_token("<|user|>")));
}

TEST(SharedVocab, ChatPromptTokenizesSpecials) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const Tokenizer& qwen = shared_tokenizer("qwen2");
  const Ids ids = qwen.encode("<|im_start|>user\nHi<|im_end|>\n", false, true);
  ASSERT_GE(ids.size(), 4u);
  EXPECT_EQ(ids.front(), qwen.find_token("<|im_start|>"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), qwen.find_token("<|im_end|>")), 1);
  EXPECT_EQ(qwen.decode(ids, false), "<|im_start|>user\nHi<|im_end|>\n");
}

}  // namespace
}  // namespace kvpress
