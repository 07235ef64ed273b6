// One evaluation example with kvpress's record fields, and the tokenizer hooks the generators are given.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvpress {

// The fields of a kvpress dataset row (spec §6.3). The prompt the model sees is
// context + question + answer_prefix (question and answer_prefix go through the chat template).
struct TaskRecord {
  std::string context;
  std::string question;
  std::string answer_prefix;
  std::vector<std::string> answers;   // references; RULER: every one must appear in the prediction
  std::string task;                   // e.g. "niah_single_1", "vt", "niah"
  int max_new_tokens = 0;

  // Optional extras (absent in plain kvpress rows), used by scorers and reports.
  std::string needle;                 // NIAH: the inserted needle, the rouge hypothesis
  int needle_depth = -1;              // NIAH: insertion depth in percent; -1 when not NIAH
  int length = 0;                     // target length in tokens (generators) or LongBench-e "length"
  std::vector<std::string> all_classes;  // LongBench trec/lsht classification labels
};

// Counts the tokens of a text (no BOS/EOS). The eval layer never links the tokenizer: the CLI injects
// a lambda around Tokenizer::encode; tests inject a whitespace-word counter.
using TokenCounter = std::function<std::size_t(std::string_view)>;

// Encode/decode pair for generators that cut and splice token sequences (needle in a haystack).
struct TokenCodec {
  std::function<std::vector<int32_t>(std::string_view)> encode;       // without special tokens
  std::function<std::string(std::span<const int32_t>)> decode;        // skipping special tokens
};

// Which key/value vocabulary a generator draws from. Train and Test are disjoint (a stable hash of each
// word, number, UUID or name decides its side), so a model trained on Train is tested on unseen keys
// and values. All draws from both (the plain RULER setting).
enum class Split { Train, Test, All };

// "train" / "test" / "all"; throws Error naming the value otherwise.
Split parse_split(std::string_view name);
const char* split_name(Split split);

}  // namespace kvpress
