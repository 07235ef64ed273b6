// RULER generator: templates, answers present in the context, token budget, determinism, and the
// Train/Test vocabulary split, with a whitespace-word counter standing in for the tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "eval/ruler_generator.h"
#include "eval/text_utils.h"
#include "test_paths.h"

namespace kvpress {
namespace {

std::size_t word_count(std::string_view s) { return text::split_whitespace(s).size(); }

const RulerGenerator& generator() {
  static const RulerGenerator g =
      RulerGenerator::from_data_dir(testing::source_dir() / "data", [](std::string_view s) { return word_count(s); });
  return g;
}

std::size_t prompt_tokens(const TaskRecord& r) {
  return word_count(r.context + r.question + r.answer_prefix) + static_cast<std::size_t>(r.max_new_tokens);
}

std::size_t occurrences(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

bool is_word_key(const std::string& key) {
  const std::size_t dash = key.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == key.size()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '-'; });
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36 || s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && std::string("0123456789abcdef").find(s[i]) == std::string::npos) return false;
  }
  return true;
}

TEST(RulerGenerator, TaskNamesRoundTrip) {
  ASSERT_EQ(ruler_task_names().size(), kNumRulerTasks);
  for (std::string_view name : ruler_task_names()) EXPECT_EQ(ruler_task_name(parse_ruler_task(name)), name);
  EXPECT_THROW(parse_ruler_task("qa_1"), Error);
}

TEST(RulerGenerator, EveryTaskFitsTheBudgetWithin2Percent) {
  for (int target : {2048, 4096}) {
    for (std::string_view name : ruler_task_names()) {
      const TaskRecord r = generator().generate(parse_ruler_task(name), target, 7, 0, Split::Test);
      const std::size_t n = prompt_tokens(r);
      EXPECT_LE(n, static_cast<std::size_t>(target)) << name << " at " << target;
      EXPECT_GE(n, static_cast<std::size_t>(0.98 * target)) << name << " at " << target;
      EXPECT_EQ(r.task, name);
      EXPECT_EQ(r.length, target);
      EXPECT_FALSE(r.answers.empty()) << name;
    }
  }
  EXPECT_THROW(generator().generate(RulerTask::Vt, 40, 1, 0, Split::Test), Error);         // <= max_new_tokens
  EXPECT_THROW(generator().generate(RulerTask::NiahSingle1, 200, 1, 0, Split::Test), Error);  // template alone is larger
}

TEST(RulerGenerator, SingleNeedleTemplatesAndNeedles) {
  struct Case {
    RulerTask task;
    std::string type;           // singular as shown in the question
    std::string needle_type;    // plural as written in the needle
  };
  for (const Case& c : {Case{RulerTask::NiahSingle1, "number", "numbers"}, Case{RulerTask::NiahSingle2, "number", "numbers"},
                        Case{RulerTask::NiahSingle3, "uuid", "uuids"}, Case{RulerTask::NiahMultikey1, "number", "numbers"},
                        Case{RulerTask::NiahMultikey2, "number", "numbers"}, Case{RulerTask::NiahMultikey3, "uuid", "uuids"}}) {
    const TaskRecord r = generator().generate(c.task, 4096, 3, 1, Split::Test);
    SCOPED_TRACE(r.task);
    EXPECT_EQ(r.max_new_tokens, 128);
    ASSERT_EQ(r.answers.size(), 1u);
    // RULER's single-value wording: "A special magic number is hidden ...".
    EXPECT_TRUE(r.context.starts_with("A special magic " + c.type + " is hidden within the following text. Make sure to "
                                      "memorize it. I will quiz you about the " + c.type + " afterwards.\n"));
    const std::string lead = "What is the special magic " + c.type + " for ";
    ASSERT_TRUE(r.question.starts_with(lead)) << r.question;
    const std::string tail = " mentioned in the provided text? ";
    ASSERT_TRUE(r.question.ends_with(tail)) << r.question;
    const std::string key = r.question.substr(lead.size(), r.question.size() - lead.size() - tail.size());
    EXPECT_EQ(r.answer_prefix, "The special magic " + c.type + " for " + key + " mentioned in the provided text is");
    EXPECT_TRUE(c.task == RulerTask::NiahMultikey3 ? is_uuid(key) : is_word_key(key)) << key;
    if (c.type == "uuid") {
      EXPECT_TRUE(is_uuid(r.answers[0])) << r.answers[0];
    } else {
      EXPECT_EQ(r.answers[0].size(), 7u);
    }
    // The needle with the queried key and its value is in the context exactly once.
    const std::string needle = "One of the special magic " + c.needle_type + " for " + key + " is: " + r.answers[0] + ".";
    EXPECT_EQ(occurrences(r.context, needle), 1u);
    EXPECT_EQ(occurrences(r.context, " for " + key + " is: "), 1u);
  }
  // Multikey 1 hides 4 keys; multikey 2/3 fill the haystack with distractor needles.
  const TaskRecord mk1 = generator().generate(RulerTask::NiahMultikey1, 4096, 3, 1, Split::Test);
  EXPECT_EQ(occurrences(mk1.context, "One of the special magic numbers for "), 4u);
  const TaskRecord mk2 = generator().generate(RulerTask::NiahMultikey2, 4096, 3, 1, Split::Test);
  EXPECT_GT(occurrences(mk2.context, "One of the special magic numbers for "), 100u);
  // Noise haystack: header line, then noise lines with the one needle line among them.
  const TaskRecord s1 = generator().generate(RulerTask::NiahSingle1, 4096, 3, 1, Split::Test);
  const std::vector<std::string> lines = text::split_on(s1.context, "\n");
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.back(), "");
  std::size_t n_needles = 0;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    if (lines[i].starts_with("One of the special magic numbers for ")) {
      ++n_needles;
    } else {
      EXPECT_EQ(lines[i], kNoiseSentence);
    }
  }
  EXPECT_EQ(n_needles, 1u);
}

TEST(RulerGenerator, MultiValueAndMultiQueryTemplates) {
  const TaskRecord mv = generator().generate(RulerTask::NiahMultivalue, 4096, 5, 0, Split::Train);
  EXPECT_TRUE(mv.context.starts_with("Some special magic numbers are hidden within the following text."));
  ASSERT_EQ(mv.answers.size(), 4u);
  const std::string lead = "What are all the special magic numbers for ";
  ASSERT_TRUE(mv.question.starts_with(lead));
  const std::string key = mv.question.substr(lead.size(), mv.question.find(" mentioned") - lead.size());
  EXPECT_EQ(mv.answer_prefix, "The special magic numbers for " + key + " mentioned in the provided text are");
  for (const std::string& v : mv.answers)
    EXPECT_EQ(occurrences(mv.context, "One of the special magic numbers for " + key + " is: " + v + "."), 1u);

  const TaskRecord mq = generator().generate(RulerTask::NiahMultiquery, 4096, 5, 0, Split::Train);
  ASSERT_EQ(mq.answers.size(), 4u);
  ASSERT_TRUE(mq.question.starts_with(lead));
  // "k1, k2, k3, and k4": each key's needle holds the answer at the same position.
  std::string keys = mq.question.substr(lead.size(), mq.question.find(" mentioned") - lead.size());
  keys = text::replace_all(keys, ", and ", ", ");
  const std::vector<std::string> key_list = text::split_on(keys, ", ");
  ASSERT_EQ(key_list.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(occurrences(mq.context, "One of the special magic numbers for " + key_list[i] + " is: " + mq.answers[i] + "."), 1u);
}

TEST(RulerGenerator, VariableTrackingChainIsInTheContext) {
  const TaskRecord r = generator().generate(RulerTask::Vt, 4096, 11, 2, Split::Test);
  EXPECT_EQ(r.max_new_tokens, 30);
  ASSERT_EQ(r.answers.size(), 5u);
  const std::string lead = "Question: Find all variables that are assigned the value ";
  ASSERT_TRUE(r.question.starts_with(lead)) << r.question;
  const std::string value = r.question.substr(lead.size(), 5);
  EXPECT_EQ(r.question, lead + value + " in the text above. ");
  EXPECT_EQ(r.answer_prefix, "Answer: According to the chain(s) of variable assignment in the text above, 5 variables are "
                             "assigned the value " + value + ", they are: ");
  EXPECT_EQ(occurrences(r.context, "VAR " + r.answers[0] + " = " + value + "\n"), 1u);
  for (std::size_t i = 1; i < 5; ++i)
    EXPECT_EQ(occurrences(r.context, "VAR " + r.answers[i] + " = VAR " + r.answers[i - 1] + " \n"), 1u);
  for (const std::string& a : r.answers) EXPECT_EQ(a.size(), 5u);
  // The solved example comes first and ends with its 5 three-letter answers.
  EXPECT_TRUE(r.context.starts_with("Memorize and track the chain(s) of variable assignment hidden in the following text."));
  EXPECT_EQ(occurrences(r.context, "Memorize and track the chain(s)"), 2u);
  EXPECT_EQ(occurrences(r.context, "they are:  "), 1u);
}

// Counts of each "N. word" entry of the last numbered list in a CWE context.
std::map<std::string, int> last_list_counts(const std::string& context) {
  const std::size_t at = context.rfind("Memorize the ones that appear most often.\n");
  const std::vector<std::string> tokens = text::split_whitespace(context.substr(at + 42));
  std::map<std::string, int> counts;
  for (std::size_t i = 1; i < tokens.size(); i += 2) ++counts[tokens[i]];
  return counts;
}

TEST(RulerGenerator, CommonWordsAreTheMostFrequent) {
  for (auto [target, common, rare] : {std::tuple{4096, 30, 3}, std::tuple{2048, 6, 1}}) {
    const TaskRecord r = generator().generate(RulerTask::Cwe, target, 2, 0, Split::Test);
    EXPECT_EQ(r.max_new_tokens, 120);
    EXPECT_EQ(r.question, "Question: What are the 10 most common words in the above list? ");
    EXPECT_EQ(r.answer_prefix, "Answer: The top 10 words that appear most often in the list are:");
    ASSERT_EQ(r.answers.size(), 10u);
    const auto counts = last_list_counts(r.context);
    for (const auto& [word, n] : counts) {
      const bool is_answer = std::find(r.answers.begin(), r.answers.end(), word) != r.answers.end();
      EXPECT_EQ(n, is_answer ? common : rare) << word << " at " << target;
    }
    for (const std::string& a : r.answers) EXPECT_EQ(counts.count(a), 1u);
    // The solved example's answer line is in the context before the real list.
    EXPECT_EQ(occurrences(r.context, "Answer: The top 10 words that appear most often in the list are: 1. "), 1u);
  }
}

TEST(RulerGenerator, FrequentWordsAreRanksTwoToFour) {
  const TaskRecord r = generator().generate(RulerTask::Fwe, 4096, 2, 0, Split::Test);
  EXPECT_EQ(r.max_new_tokens, 50);
  EXPECT_EQ(r.question, "Question: Do not provide any explanation. Please ignore the dots '....'. What are the three most "
                        "frequently appeared words in the above coded text? ");
  EXPECT_EQ(r.answer_prefix, "Answer: According to the coded text above, the three most frequently appeared words are:");
  ASSERT_EQ(r.answers.size(), 3u);
  std::map<std::string, int> counts;
  for (const std::string& w : text::split_whitespace(r.context))
    if (w.size() == 6 && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; })) ++counts[w];
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, n] : counts) ranked.emplace_back(n, w);
  std::sort(ranked.rbegin(), ranked.rend());
  ASSERT_GE(ranked.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(ranked[i].second, r.answers[i]);
  EXPECT_GT(ranked[2].first, ranked[3].first);
  EXPECT_GT(occurrences(r.context, "... "), static_cast<std::size_t>(ranked[0].first));  // rank 1 is the noise "..."
}

TEST(RulerGenerator, DeterministicPerSeedAndIndex) {
  for (std::string_view name : ruler_task_names()) {
    const RulerTask t = parse_ruler_task(name);
    const TaskRecord a = generator().generate(t, 1024, 42, 3, Split::Test);
    const TaskRecord b = generator().generate(t, 1024, 42, 3, Split::Test);
    EXPECT_EQ(a.context, b.context) << name;
    EXPECT_EQ(a.question, b.question) << name;
    EXPECT_EQ(a.answer_prefix, b.answer_prefix) << name;
    EXPECT_EQ(a.answers, b.answers) << name;
    const TaskRecord c = generator().generate(t, 1024, 43, 3, Split::Test);
    const TaskRecord d = generator().generate(t, 1024, 42, 4, Split::Test);
    EXPECT_NE(a.answers, c.answers) << name;
    EXPECT_NE(a.answers, d.answers) << name;
  }
}

TEST(RulerGenerator, SplitPromptUsesLastQuestionAndFirstAnswerMatch) {
  const RulerPromptParts p = split_ruler_prompt("vt", "ex Question: Find all variables that are assigned the value 1 x Answer: A\n"
                                                 "main Question: Find all variables that are assigned the value 2 y Answer: B");
  EXPECT_EQ(p.context, "ex Question: Find all variables that are assigned the value 1 x Answer: A\nmain ");
  EXPECT_EQ(p.question, "Question: Find all variables that are assigned the value 2 y ");
  EXPECT_EQ(p.answer_prefix, "Answer: B");
  const RulerPromptParts n = split_ruler_prompt("niah", "ctx\nWhat are all the special magic numbers for k? The special magic x");
  EXPECT_EQ(n.question, "What are all the special magic numbers for k? ");
  EXPECT_EQ(n.answer_prefix, "The special magic x");
  EXPECT_THROW(split_ruler_prompt("niah", "no question here"), Error);
  EXPECT_THROW(split_ruler_prompt("xyz", "text"), Error);
}

}  // namespace
}  // namespace kvpress
