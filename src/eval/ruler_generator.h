// RULER's synthetic tasks (NIAH variants, variable tracking, common/frequent word extraction) generated
// in C++ with RULER's templates, fitted to a token budget of an injected tokenizer, deterministic per seed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "eval/haystack.h"
#include "eval/task_record.h"
#include "eval/word_lists.h"

namespace kvpress {

// The RULER task names of kvpress's dataset (generate.sh / synthetic.yaml) that we can generate; qa_1/qa_2
// need SQuAD/HotpotQA and are not included.
enum class RulerTask {
  NiahSingle1,     // noise haystack, word key -> 7-digit number
  NiahSingle2,     // essay haystack, word key -> number
  NiahSingle3,     // essay haystack, word key -> UUID
  NiahMultikey1,   // essay haystack, 4 keys, one queried
  NiahMultikey2,   // haystack of distractor needles (word keys, numbers)
  NiahMultikey3,   // haystack of distractor needles (UUID keys, UUID values)
  NiahMultivalue,  // one key with 4 values
  NiahMultiquery,  // 4 keys, all 4 queried
  Vt,              // variable tracking: 1 chain of 4 hops in noise, with one in-context example
  Cwe,             // common words: 10 words x30 among words x3, with one solved example
  Fwe,             // frequent coded words: Zipf (alpha 2) counts, top-3 asked
};

inline constexpr std::size_t kNumRulerTasks = 11;
const std::vector<std::string_view>& ruler_task_names();   // "niah_single_1" ... "fwe", in enum order
std::string_view ruler_task_name(RulerTask task);
// Throws Error listing the valid names.
RulerTask parse_ruler_task(std::string_view name);
// RULER's tokens_to_generate: niah 128, vt 30, cwe 120, fwe 50.
int ruler_max_new_tokens(RulerTask task);

// kvpress's split of a full RULER prompt (benchmarks/ruler/create_huggingface_dataset.py): the question
// starts at the LAST match of the family's question pattern, the answer prefix at the first match of the
// answer pattern inside the question part. family: "niah", "vt", "cwe", "fwe".
struct RulerPromptParts {
  std::string context, question, answer_prefix;
};
RulerPromptParts split_ruler_prompt(std::string_view family, std::string_view prompt);

// Thread-safety: generate() is const and may run concurrently if the injected counter allows it.
class RulerGenerator {
 public:
  RulerGenerator(Haystack haystack, WordLists words, TokenCounter count_tokens);
  // Haystack and word lists from data_dir (normally the repo's data/); throws Error if missing.
  static RulerGenerator from_data_dir(const std::filesystem::path& data_dir, TokenCounter count_tokens);

  // One sample. The haystack size is the largest for which count(context + question + answer_prefix) +
  // max_new_tokens <= target_length (RULER's criterion, found by binary search). Throws Error if even the
  // smallest haystack does not fit. Identical output for identical (task, target_length, seed, index, split)
  // and counter; keys and values come only from the split's vocabulary.
  TaskRecord generate(RulerTask task, int target_length, uint64_t seed, uint64_t index, Split split) const;

  // Samples first_index .. first_index + n - 1.
  std::vector<TaskRecord> generate_many(RulerTask task, int target_length, uint64_t seed, std::size_t n, Split split,
                                        uint64_t first_index = 0) const;

  const Haystack& haystack() const { return haystack_; }
  const WordLists& words() const { return words_; }

 private:
  Haystack haystack_;
  WordLists words_;
  TokenCounter count_tokens_;
};

}  // namespace kvpress
