// Evaluation dataset specs ("ruler:<tasks>:<lengths>", "niah:<lengths>:<depths>", "jsonl:<file>") parsed
// and turned into TaskRecords.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "eval/haystack.h"
#include "eval/ruler_generator.h"
#include "eval/task_record.h"

namespace kvpress {

struct DatasetOptions {
  std::filesystem::path data_dir = default_data_dir();  // holds paul_graham_essays/
  uint64_t seed = 42;                                   // kvpress's default seed
  std::size_t n_samples = 10;                           // RULER samples per task and length
  Split split = Split::Test;   // keys/values a trained model has not seen; Split::All = plain RULER
  TokenCodec codec;            // ruler counts tokens with encode(); niah encodes and decodes; jsonl: unused
};

// A token length: "4096", or with a k suffix meaning x1024 ("4k" = 4096, "128k" = 131072).
// Throws Error naming the text unless it is a positive integer that fits in int.
int parse_token_length(std::string_view text);

// "ruler:<tasks>:<lengths>": tasks = "all" or comma-separated RULER task names; lengths comma-separated.
struct RulerSpec {
  std::vector<RulerTask> tasks;
  std::vector<int> lengths;
};
RulerSpec parse_ruler_spec(std::string_view spec);

// "niah:<lengths>:<depths>": comma-separated context lengths and depths in percent (0-100).
struct NiahSpec {
  std::vector<int> lengths;
  std::vector<int> depths;
};
NiahSpec parse_niah_spec(std::string_view spec);

// Records for a spec. ruler: for each length, each task, samples 0..n_samples-1 (RulerGenerator::generate
// with options.seed and options.split). niah: make_niah_dataset over the grid with the default needle.
// jsonl: the file's records (everything after "jsonl:" is the path). Throws Error for a malformed spec, an
// unknown task, missing data, or a codec missing when ruler/niah need it.
std::vector<TaskRecord> load_dataset(std::string_view spec, const DatasetOptions& options);

}  // namespace kvpress
