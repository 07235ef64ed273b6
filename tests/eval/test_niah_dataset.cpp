// Needle-in-a-haystack records and dataset specs, with a word-level fake tokenizer (one token per word)
// so the expected contexts can be written down from the essay words.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>

#include "core/error.h"
#include "eval/dataset.h"
#include "eval/niah_dataset.h"
#include "eval/text_utils.h"
#include "test_paths.h"

namespace kvpress {
namespace {

// One id per distinct whitespace-separated word; decode joins words with single spaces.
TokenCodec word_codec() {
  auto vocab = std::make_shared<std::map<std::string, int32_t>>();
  auto words = std::make_shared<std::vector<std::string>>();
  TokenCodec c;
  c.encode = [vocab, words](std::string_view s) {
    std::vector<int32_t> ids;
    for (const std::string& w : text::split_whitespace(s)) {
      auto [it, inserted] = vocab->emplace(w, static_cast<int32_t>(words->size()));
      if (inserted) words->push_back(w);
      ids.push_back(it->second);
    }
    return ids;
  };
  c.decode = [words](std::span<const int32_t> ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back((*words)[static_cast<std::size_t>(id)]);
    return text::join(out, " ");
  };
  return c;
}

std::string words_range(const std::vector<std::string>& w, std::size_t from, std::size_t to) {
  return text::join(std::vector<std::string>(w.begin() + static_cast<std::ptrdiff_t>(from), w.begin() + static_cast<std::ptrdiff_t>(to)), " ");
}

TEST(NiahDataset, NeedleAtTokenDepthInsideTheWrapper) {
  const Haystack h = Haystack::load(testing::source_dir() / "data");
  NiahOptions o;
  o.lengths = {300, 1000};
  o.depths = {0, 50, 100};
  const std::vector<TaskRecord> recs = make_niah_dataset(h, word_codec(), o);
  ASSERT_EQ(recs.size(), 6u);
  const std::string needle = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.";
  ASSERT_EQ(text::split_whitespace(needle).size(), 21u);
  for (const TaskRecord& r : recs) {
    SCOPED_TRACE(std::to_string(r.length) + "/" + std::to_string(r.needle_depth));
    const std::size_t n_hay = static_cast<std::size_t>(r.length) - 21 - 150;  // 129 or 829 haystack tokens
    const std::size_t at = n_hay * static_cast<std::size_t>(r.needle_depth) / 100;  // int(len * depth / 100)
    std::string body = words_range(h.words(), 0, at);
    body += (body.empty() ? "" : " ") + needle;
    if (at < n_hay) body += " " + words_range(h.words(), at, n_hay);
    EXPECT_EQ(r.context, "This is a very long story book: <book> " + body + " </book>.");
    EXPECT_EQ(r.question, kNiahQuestion);
    EXPECT_EQ(r.answer_prefix, kNiahAnswerPrefix);
    EXPECT_EQ(r.answers, (std::vector<std::string>{std::string(kNiahAnswer)}));
    EXPECT_EQ(r.needle, kNiahNeedle);
    EXPECT_EQ(r.task, "niah");
    EXPECT_EQ(r.max_new_tokens, kNiahMaxNewTokens);
  }
  EXPECT_EQ(recs[0].length, 300);
  EXPECT_EQ(recs[1].needle_depth, 50);
  EXPECT_EQ(recs[3].length, 1000);
}

TEST(NiahDataset, ShortEssaysAreUsedWholeAndBadGridsThrow) {
  const Haystack tiny = Haystack::from_essays({"one two three", "four"});
  NiahOptions o;
  o.lengths = {1000};
  o.depths = {50};
  o.needle = "NEEDLE";
  const auto recs = make_niah_dataset(tiny, word_codec(), o);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].context, "This is a very long story book: <book> one two NEEDLE three four </book>.");  // int(4*50/100)=2
  o.depths = {101};
  EXPECT_THROW(make_niah_dataset(tiny, word_codec(), o), Error);
  o.depths = {0};
  o.lengths = {150};  // nothing left after the needle and the 150 reserved tokens
  EXPECT_THROW(make_niah_dataset(tiny, word_codec(), o), Error);
}

TEST(DatasetSpec, ParsesLengthsTasksAndDepths) {
  EXPECT_EQ(parse_token_length("4096"), 4096);
  EXPECT_EQ(parse_token_length("4k"), 4096);
  EXPECT_EQ(parse_token_length("128K"), 131072);
  for (const char* bad : {"", "0", "-4", "4x", "k", "99999999999"}) EXPECT_THROW(parse_token_length(bad), Error) << bad;

  const RulerSpec all = parse_ruler_spec("ruler:all:1k,2k");
  EXPECT_EQ(all.tasks.size(), kNumRulerTasks);
  EXPECT_EQ(all.lengths, (std::vector<int>{1024, 2048}));
  const RulerSpec two = parse_ruler_spec("ruler:vt, cwe:4096");
  EXPECT_EQ(two.tasks, (std::vector<RulerTask>{RulerTask::Vt, RulerTask::Cwe}));
  EXPECT_THROW(parse_ruler_spec("ruler:all"), Error);
  EXPECT_THROW(parse_ruler_spec("ruler:foo:4k"), Error);
  EXPECT_THROW(parse_ruler_spec("ruler:vt,,cwe:4k"), Error);

  const NiahSpec n = parse_niah_spec("niah:2k,4k:0,50,100");
  EXPECT_EQ(n.lengths, (std::vector<int>{2048, 4096}));
  EXPECT_EQ(n.depths, (std::vector<int>{0, 50, 100}));
  EXPECT_THROW(parse_niah_spec("niah:2k:101"), Error);
  EXPECT_THROW(parse_niah_spec("niah:2k:1:2"), Error);
}

TEST(DatasetSpec, LoadsEachKind) {
  DatasetOptions o;
  o.data_dir = testing::source_dir() / "data";
  o.n_samples = 2;
  o.codec = word_codec();
  const auto ruler = load_dataset("ruler:vt,niah_single_1:1k", o);
  ASSERT_EQ(ruler.size(), 4u);
  EXPECT_EQ(ruler[0].task, "vt");
  EXPECT_EQ(ruler[3].task, "niah_single_1");
  EXPECT_NE(ruler[0].context, ruler[1].context);
  const auto niah = load_dataset("niah:1k:0,100", o);
  ASSERT_EQ(niah.size(), 2u);
  EXPECT_EQ(niah[1].needle_depth, 100);

  const std::filesystem::path path = std::filesystem::temp_directory_path() / "kvpress_eval_spec.jsonl";
  { std::ofstream(path) << "{\"context\": \"c\", \"answer\": \"a\"}\n"; }
  EXPECT_EQ(load_dataset("jsonl:" + path.string(), DatasetOptions{}).size(), 1u);
  std::filesystem::remove(path);

  EXPECT_THROW(load_dataset("ruler:vt:1k", DatasetOptions{}), Error);  // no tokenizer
  EXPECT_THROW(load_dataset("squad:x", o), Error);
  EXPECT_THROW(load_dataset("ruler", o), Error);
  DatasetOptions missing = o;
  missing.data_dir = testing::source_dir() / "no_such_folder";
  EXPECT_THROW(load_dataset("niah:1k:0", missing), Error);
}

TEST(DatasetSpec, DefaultDataDirIsTheRepositoryDataFolder) {
  EXPECT_TRUE(std::filesystem::equivalent(default_data_dir(), testing::source_dir() / "data"));
  EXPECT_TRUE(std::filesystem::exists(default_data_dir() / "README.md"));
}

}  // namespace
}  // namespace kvpress
