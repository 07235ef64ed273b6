// RULER task table, token-budget fitting, kvpress's context/question/answer-prefix split, and the generator.
#include "eval/ruler_generator.h"

#include <algorithm>

#include "core/error.h"
#include "eval/ruler_builders.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

struct TaskInfo {
  RulerTask task;
  std::string_view name;
  std::string_view family;  // "niah", "vt", "cwe", "fwe"
  ruler::NiahConfig niah;   // used by the niah family only
};

using ruler::HaystackKind;
using ruler::ItemKind;

// RULER scripts/synthetic.yaml.
constexpr TaskInfo kTasks[kNumRulerTasks] = {
    {RulerTask::NiahSingle1, "niah_single_1", "niah", {HaystackKind::Noise, ItemKind::Words, ItemKind::Numbers, 1, 1, 1}},
    {RulerTask::NiahSingle2, "niah_single_2", "niah", {HaystackKind::Essay, ItemKind::Words, ItemKind::Numbers, 1, 1, 1}},
    {RulerTask::NiahSingle3, "niah_single_3", "niah", {HaystackKind::Essay, ItemKind::Words, ItemKind::Uuids, 1, 1, 1}},
    {RulerTask::NiahMultikey1, "niah_multikey_1", "niah", {HaystackKind::Essay, ItemKind::Words, ItemKind::Numbers, 4, 1, 1}},
    {RulerTask::NiahMultikey2, "niah_multikey_2", "niah", {HaystackKind::Needle, ItemKind::Words, ItemKind::Numbers, 1, 1, 1}},
    {RulerTask::NiahMultikey3, "niah_multikey_3", "niah", {HaystackKind::Needle, ItemKind::Uuids, ItemKind::Uuids, 1, 1, 1}},
    {RulerTask::NiahMultivalue, "niah_multivalue", "niah", {HaystackKind::Essay, ItemKind::Words, ItemKind::Numbers, 1, 4, 1}},
    {RulerTask::NiahMultiquery, "niah_multiquery", "niah", {HaystackKind::Essay, ItemKind::Words, ItemKind::Numbers, 1, 1, 4}},
    {RulerTask::Vt, "vt", "vt", {}},
    {RulerTask::Cwe, "cwe", "cwe", {}},
    {RulerTask::Fwe, "fwe", "fwe", {}},
};

const TaskInfo& info(RulerTask task) {
  const auto i = static_cast<std::size_t>(task);
  KV_CHECK(i < kNumRulerTasks && kTasks[i].task == task);
  return kTasks[i];
}

// kvpress create_huggingface_dataset.py QUESTION_PATTERNS / ANSWER_PATTERNS (plain strings suffice:
// the only alternation is "What (?:is|are all) the special magic").
struct SplitPatterns {
  std::vector<std::string_view> question;
  std::string_view answer;
};

SplitPatterns patterns_for(std::string_view family) {
  if (family == "niah") return {{"What is the special magic", "What are all the special magic"}, "The special magic"};
  if (family == "vt") return {{"Question: Find all variables that are assigned the value"}, "Answer:"};
  if (family == "cwe") return {{"Question: What are the 10 most common words in the above list?"}, "Answer:"};
  if (family == "fwe") return {{"Question: Do not provide any explanation."}, "Answer:"};
  if (family == "qa") return {{"Answer the question based on the given documents."}, "Answer:"};
  fail("unknown RULER task family '", family, "' (expected niah, vt, cwe, fwe or qa)");
}

}  // namespace

const std::vector<std::string_view>& ruler_task_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const TaskInfo& t : kTasks) v.push_back(t.name);
    return v;
  }();
  return names;
}

std::string_view ruler_task_name(RulerTask task) { return info(task).name; }

RulerTask parse_ruler_task(std::string_view name) {
  for (const TaskInfo& t : kTasks)
    if (t.name == name) return t.task;
  std::string valid;
  for (const TaskInfo& t : kTasks) valid += (valid.empty() ? "" : ", ") + std::string(t.name);
  fail("unknown RULER task '", name, "' (expected one of: ", valid, ")");
}

int ruler_max_new_tokens(RulerTask task) {
  const std::string_view family = info(task).family;
  if (family == "niah") return 128;
  if (family == "vt") return 30;
  if (family == "cwe") return 120;
  return 50;  // fwe
}

RulerPromptParts split_ruler_prompt(std::string_view family, std::string_view prompt) {
  const SplitPatterns p = patterns_for(family);
  std::size_t q = std::string_view::npos;
  for (std::string_view pattern : p.question) {
    const std::size_t at = prompt.rfind(pattern);
    if (at != std::string_view::npos && (q == std::string_view::npos || at > q)) q = at;
  }
  if (q == std::string_view::npos) fail("RULER ", family, " prompt has no question matching its pattern");
  const std::string_view qa = prompt.substr(q);
  const std::size_t a = qa.find(p.answer);
  if (a == std::string_view::npos) fail("RULER ", family, " prompt has no answer prefix '", p.answer, "'");
  return {std::string(prompt.substr(0, q)), std::string(qa.substr(0, a)), std::string(qa.substr(a))};
}

namespace ruler {

std::string format_template(std::string_view tmpl,
                            std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      const std::size_t close = tmpl.find('}', i);
      KV_CHECK(close != std::string_view::npos);
      const std::string_view name = tmpl.substr(i + 1, close - i - 1);
      bool found = false;
      for (const auto& [key, value] : fields) {
        if (key == name) {
          out.append(value);
          found = true;
          break;
        }
      }
      KV_CHECK(found);  // our templates name only fields we pass
      i = close + 1;
    } else {
      out.push_back(tmpl[i++]);
    }
  }
  return out;
}

Prompt fit_to_budget(const BuildFn& build, const TokenCounter& count, std::size_t min_units, std::size_t budget_tokens,
                     std::string_view what) {
  Prompt best = build(min_units);
  const std::size_t min_tokens = count(best.text);
  if (min_tokens > budget_tokens)
    fail(what, ": the smallest prompt has ", min_tokens, " tokens, more than the budget of ", budget_tokens,
         " (raise the target length)");
  // Bracket [lo feasible, hi infeasible): start from a linear estimate, as RULER does, then widen.
  std::size_t lo = min_units;
  const std::size_t probe = std::max<std::size_t>(min_units * 2, 16);
  const std::size_t probe_tokens = std::max<std::size_t>(1, count(build(probe).text));
  const double per_unit = static_cast<double>(probe_tokens) / static_cast<double>(probe);
  std::size_t hi = std::max(lo + 1, static_cast<std::size_t>(1.5 * static_cast<double>(budget_tokens) / per_unit) + 1);
  while (true) {
    Prompt p = build(hi);
    if (count(p.text) > budget_tokens) break;
    lo = hi;
    best = std::move(p);
    hi *= 2;
  }
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    Prompt p = build(mid);
    if (count(p.text) <= budget_tokens) {
      lo = mid;
      best = std::move(p);
    } else {
      hi = mid;
    }
  }
  return best;
}

}  // namespace ruler

RulerGenerator::RulerGenerator(Haystack haystack, WordLists words, TokenCounter count_tokens)
    : haystack_(std::move(haystack)), words_(std::move(words)), count_tokens_(std::move(count_tokens)) {
  KV_CHECK(count_tokens_);
}

RulerGenerator RulerGenerator::from_data_dir(const std::filesystem::path& data_dir, TokenCounter count_tokens) {
  Haystack haystack = Haystack::load(data_dir);
  WordLists words = WordLists::from_text(haystack.text());
  return RulerGenerator(std::move(haystack), std::move(words), std::move(count_tokens));
}

TaskRecord RulerGenerator::generate(RulerTask task, int target_length, uint64_t seed, uint64_t index,
                                    Split split) const {
  const TaskInfo& t = info(task);
  const int max_new = ruler_max_new_tokens(task);
  if (target_length <= max_new)
    fail("RULER ", t.name, ": target length ", target_length, " must exceed max_new_tokens ", max_new);
  const ruler::SampleSource src{haystack_, words_, count_tokens_, split, seed, stable_hash(t.name), index, target_length};

  ruler::BuildFn build;
  std::size_t min_units = 1;
  if (t.family == "niah") {
    build = ruler::make_niah_builder(t.niah, src);
    min_units = ruler::niah_min_units(t.niah);
  } else if (t.family == "vt") {
    build = ruler::make_vt_builder(src);
    min_units = ruler::kVtMinUnits;
  } else if (t.family == "cwe") {
    build = ruler::make_cwe_builder(src);
    min_units = ruler::kCweMinUnits;
  } else {
    build = ruler::make_fwe_builder(src);
    min_units = ruler::kFweMinUnits;
  }
  const std::string what = "RULER " + std::string(t.name) + " at " + std::to_string(target_length) + " tokens";
  const ruler::Prompt prompt =
      ruler::fit_to_budget(build, count_tokens_, min_units, static_cast<std::size_t>(target_length - max_new), what);

  RulerPromptParts parts = split_ruler_prompt(t.family, prompt.text);
  TaskRecord r;
  r.context = std::move(parts.context);
  r.question = std::move(parts.question);
  r.answer_prefix = std::move(parts.answer_prefix);
  r.answers = prompt.answers;
  r.task = std::string(t.name);
  r.max_new_tokens = max_new;
  r.length = target_length;
  return r;
}

std::vector<TaskRecord> RulerGenerator::generate_many(RulerTask task, int target_length, uint64_t seed, std::size_t n,
                                                      Split split, uint64_t first_index) const {
  std::vector<TaskRecord> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(generate(task, target_length, seed, first_index + i, split));
  return out;
}

}  // namespace kvpress
