// Loads the evaluation dataset with the engine's tokenizer (token counting and encoding for the generators).
#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "eval/dataset.h"
#include "eval_runner.h"
#include "kvpress/engine.h"

namespace kvpress::eval {

namespace {

std::vector<TaskRecord> load_with(const EvalConfig& config, TokenCodec codec) {
  DatasetOptions opts;
  if (!config.data_dir.empty()) opts.data_dir = config.data_dir;
  opts.seed = config.seed;
  opts.n_samples = config.samples.value_or(10);
  opts.split = parse_split(config.split);
  opts.codec = std::move(codec);
  std::vector<TaskRecord> records = load_dataset(config.dataset, opts);
  if (config.dataset.starts_with("jsonl:") && config.samples && *config.samples < records.size()) {
    // A seeded subset in file order (kvpress samples a fraction of the rows with its seed).
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(config.seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(*config.samples);
    std::sort(order.begin(), order.end());
    std::vector<TaskRecord> subset;
    for (size_t i : order) subset.push_back(std::move(records[i]));
    records = std::move(subset);
  }
  if (records.empty()) fail("dataset '", config.dataset, "' has no records");
  return records;
}

}  // namespace

std::vector<TaskRecord> load_eval_dataset(const EvalConfig& config, const Engine& engine) {
  TokenCodec codec;
  codec.encode = [&engine](std::string_view text) { return engine.tokenize(std::string(text), false, false); };
  codec.decode = [&engine](std::span<const int32_t> ids) { return engine.detokenize(ids, true); };
  return load_with(config, std::move(codec));
}

}  // namespace kvpress::eval
