// Vocabularies and the Train/Test split: stable hashing, item formats, essay word list, and disjoint key and
// value sets in generated samples.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "eval/haystack.h"
#include "eval/ruler_generator.h"
#include "eval/text_utils.h"
#include "eval/word_lists.h"
#include "test_paths.h"

namespace kvpress {
namespace {

TEST(StableHash, FixedValues) {
  // FNV-1a 64 then the SplitMix64 finalizer, computed independently (Python) for these strings.
  EXPECT_EQ(stable_hash(""), 0xc3817c016ba4ff30ULL);
  EXPECT_EQ(stable_hash("a"), 0x5f29c2aadd9b8527ULL);
  EXPECT_EQ(stable_hash("banana"), 0x374d73a0a5efac42ULL);
  EXPECT_EQ(split_of("1234567"), Split::Test);   // hash % 4 == 0
  EXPECT_EQ(split_of("banana"), Split::Train);   // hash % 4 == 2
  EXPECT_TRUE(in_split("banana", Split::All));
}

TEST(SampleRng, UniformHelpers) {
  SampleRng rng(1, 2, 3, 4);
  std::vector<int> buckets(6, 0);
  for (int i = 0; i < 60000; ++i) ++buckets[static_cast<std::size_t>(rng.uniform_int(0, 5))];
  for (int b : buckets) EXPECT_NEAR(b, 10000, 500);
  for (int i = 0; i < 100; ++i) {
    const auto s = rng.sample_indices(10, 4);
    EXPECT_EQ(std::set<std::size_t>(s.begin(), s.end()).size(), 4u);
    for (std::size_t x : s) EXPECT_LT(x, 10u);
  }
  EXPECT_EQ(rng.sample_indices(5, 5).size(), 5u);
  SampleRng a(9, 9, 9, 9), b(9, 9, 9, 9), c(9, 9, 9, 8);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(SampleRng(9, 9, 9, 9).next(), c.next());
}

TEST(WordLists, FromTextKeepsLowerCaseWordsOnly) {
  const WordLists w = WordLists::from_text("Apple banana the banana cherry don't don\xE2\x80\x99t Dog xy well-known");
  // "Apple"/"Dog" capitalised, "the" a stop word, contractions rejected whole, "xy" too short.
  EXPECT_EQ(w.words(Split::All), (std::vector<std::string>{"banana", "cherry", "known", "well"}));
  EXPECT_THROW(WordLists::from_text("").words(Split::All), Error);
}

TEST(WordLists, EssayVocabularySplitsIntoDisjointSides) {
  const Haystack h = Haystack::load(testing::source_dir() / "data");
  EXPECT_EQ(h.n_essays(), 49u);
  const WordLists w = WordLists::from_text(h.text());
  const auto& all = w.words(Split::All);
  const auto& train = w.words(Split::Train);
  const auto& test = w.words(Split::Test);
  EXPECT_GT(all.size(), 5000u);
  EXPECT_EQ(train.size() + test.size(), all.size());
  EXPECT_NEAR(static_cast<double>(test.size()) / static_cast<double>(all.size()), 0.25, 0.03);
  std::set<std::string> train_set(train.begin(), train.end());
  for (const std::string& t : test) {
    EXPECT_EQ(train_set.count(t), 0u) << t;
    EXPECT_EQ(split_of(t), Split::Test);
  }
  for (const std::string& t : train) EXPECT_EQ(split_of(t), Split::Train);
}

TEST(WordLists, RandomItemsHaveTheirFormatAndSide) {
  SampleRng rng(5, 0, 0, 0);
  for (Split side : {Split::Train, Split::Test}) {
    for (int i = 0; i < 200; ++i) {
      const std::string n = random_number(rng, side, 7);
      EXPECT_EQ(n.size(), 7u);
      EXPECT_NE(n[0], '0');
      EXPECT_EQ(split_of(n), side);
      const std::string u = random_uuid(rng, side);
      ASSERT_EQ(u.size(), 36u);
      EXPECT_EQ(u[8], '-');
      EXPECT_EQ(u[14], '4');  // version 4
      EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos);  // RFC 4122 variant
      EXPECT_EQ(split_of(u), side);
      const std::string v = random_letters(rng, side, 5, true);
      EXPECT_EQ(v.size(), 5u);
      EXPECT_EQ(text::ascii_upper(v), v);
      EXPECT_EQ(split_of(v), side);
      const std::string x = random_number_in(rng, side, 10000, 99998);
      EXPECT_GE(std::stoi(x), 10000);
      EXPECT_LE(std::stoi(x), 99998);
    }
  }
}

TEST(WordLists, DistinctWordsExtendWithPairsAndKeepTheirPrefix) {
  const WordLists w = WordLists::from_text("alpha bravo charlie delta");
  SampleRng a(1, 1, 1, 1), b(1, 1, 1, 1);
  const auto ten = w.distinct_words(a, Split::All, 10);
  const auto three = w.distinct_words(b, Split::All, 3);
  EXPECT_EQ(std::set<std::string>(ten.begin(), ten.end()).size(), 10u);
  EXPECT_EQ(std::vector<std::string>(ten.begin(), ten.begin() + 3), three);
  for (std::size_t i = 4; i < 10; ++i) EXPECT_NE(ten[i].find('-'), std::string::npos);
  SampleRng c(1, 1, 1, 1), d(1, 1, 1, 1);
  EXPECT_EQ(w.distinct_words(c, Split::All, 20).size(), 20u);  // 4 words + 16 ordered pairs
  EXPECT_THROW(w.distinct_words(d, Split::All, 21), Error);
}

// Keys and values of generated samples: each atomic item lies on the requested side, so Train and Test
// samples never share one.
std::set<std::string> atoms_of(const TaskRecord& r, RulerTask task) {
  std::set<std::string> atoms;
  for (const std::string& a : r.answers) atoms.insert(a);
  if (task == RulerTask::NiahSingle2 || task == RulerTask::NiahMultikey3) {
    const std::string lead = "What is the special magic ";
    const std::size_t from = r.question.find(" for ") + 5;
    const std::string key = r.question.substr(from, r.question.find(" mentioned") - from);
    if (task == RulerTask::NiahMultikey3) {
      atoms.insert(key);
    } else {
      atoms.insert(key.substr(0, key.find('-')));
      atoms.insert(key.substr(key.find('-') + 1));
    }
  }
  if (task == RulerTask::Vt) {
    const std::string lead = "Question: Find all variables that are assigned the value ";
    atoms.insert(r.question.substr(lead.size(), 5));
  }
  return atoms;
}

TEST(WordLists, TrainAndTestSamplesUseDisjointKeysAndValues) {
  const RulerGenerator g = RulerGenerator::from_data_dir(testing::source_dir() / "data",
                                                         [](std::string_view s) { return text::split_whitespace(s).size(); });
  for (RulerTask task : {RulerTask::NiahSingle2, RulerTask::NiahMultikey3, RulerTask::Vt, RulerTask::Cwe, RulerTask::Fwe}) {
    std::set<std::string> train, test;
    for (uint64_t i = 0; i < 12; ++i) {
      for (const auto& a : atoms_of(g.generate(task, 1024, 42, i, Split::Train), task)) train.insert(a);
      for (const auto& a : atoms_of(g.generate(task, 1024, 42, i, Split::Test), task)) test.insert(a);
    }
    SCOPED_TRACE(std::string(ruler_task_name(task)));
    EXPECT_GT(train.size(), 12u);
    EXPECT_GT(test.size(), 12u);
    for (const std::string& a : train) {
      EXPECT_EQ(split_of(a), Split::Train) << a;
      EXPECT_EQ(test.count(a), 0u) << a;
    }
    for (const std::string& a : test) EXPECT_EQ(split_of(a), Split::Test) << a;
  }
}

TEST(Split, ParseAndName) {
  EXPECT_EQ(parse_split("train"), Split::Train);
  EXPECT_EQ(parse_split("test"), Split::Test);
  EXPECT_EQ(parse_split("all"), Split::All);
  EXPECT_STREQ(split_name(Split::Test), "test");
  EXPECT_THROW(parse_split("dev"), Error);
}

}  // namespace
}  // namespace kvpress
