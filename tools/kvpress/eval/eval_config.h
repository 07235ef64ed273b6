// Configuration of an evaluation run (`kvpress eval`): options, the press x ratio plan, and config.json,
// which a --resume must match.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kvpress/kv_type.h"

namespace kvpress::eval {

inline constexpr std::string_view kNoPress = "no_press";

struct EvalConfig {
  std::string model_path;                  // GGUF file (recorded in config.json; the caller loads it)
  std::string dataset;                     // "ruler:<tasks>:<lengths>", "niah:<lengths>:<depths>", "jsonl:<file>"
  std::vector<std::string> presses;        // press specifications; "no_press"/"none" = the uncompressed baseline
  std::vector<double> ratios;              // compression ratios for every press but no_press
  std::optional<std::size_t> samples;      // ruler: per task and length (default 10); jsonl: a seeded subset
  uint64_t seed = 42;
  std::string split = "test";              // ruler keys/values: train, test or all
  bool query_aware = false;                // context <- context + question, question <- "" (kvpress)
  std::optional<int64_t> max_context_length;
  std::optional<int64_t> max_new_tokens;   // overrides each record's value
  bool use_chat_template = true;
  bool fidelity = true;                    // teacher-force the baseline answer through every compressed cache
  std::filesystem::path data_dir;          // essays for ruler/niah; empty = the build's data/ folder
  std::filesystem::path out_dir;
  bool resume = false;
  KvTypes kv_types;                        // storage of every cache of the run
  int64_t prefill_chunk = 0;               // > 0: compressed runs prefill in chunks of this many tokens
};

// One (press, ratio) the runner evaluates. The baseline is {"no_press", 0}.
struct PressRun {
  std::string press;  // the specification as the user wrote it, or "no_press"
  double ratio = 0;
  bool is_baseline() const { return press == kNoPress; }
};

// The runs of a config: no_press once (forced ratio 0, as kvpress does) when listed or when fidelity
// needs the baseline, first; then every other press x every ratio, in the order given. Every spec is
// built once with make_press to validate it. Throws Error for an empty press/ratio list, a ratio outside
// [0, 1), a bad spec, or a duplicate run.
std::vector<PressRun> plan_runs(const EvalConfig& config);

// Splits "snapkv:window_size=32,kernel_size=7,knorm,composed(knorm,streaming_llm)" into press specs: a
// comma at parenthesis depth 0 starts a new press unless what follows is `word=` (a parameter).
std::vector<std::string> split_press_list(std::string_view list);
// "0.25,0.5" -> {0.25, 0.5}; throws Error naming the bad item.
std::vector<double> parse_ratio_list(std::string_view list);

// Stable text of a ratio for keys and labels ("0.5", "0.875").
std::string ratio_key(double ratio);

// What config.json holds: the options that decide each item's result (model file, dataset, samples,
// seed, split, query_aware, lengths, chat template, fidelity) plus the plan for information.
nlohmann::json config_to_json(const EvalConfig& config);
// Throws Error naming every option whose value differs from a previous run's config.json (presses and
// ratios may differ: finished items are recognised by their press and ratio).
void check_resume_compatible(const nlohmann::json& previous, const nlohmann::json& current);

}  // namespace kvpress::eval
