// Output of `kvpress bench`: llama-bench's formats (md, json, jsonl, csv) with its field and test names,
// our own columns (press, ratio, KV bytes, peak RSS, roofline), and the figure files (bench.json,
// bench.md, memory.svg, decode.svg: peak memory and decode speed vs context length).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_run.h"

namespace kvpress::cli::bench {

// What every row shares: the model file, threads and the machine's measured read bandwidth.
struct BenchSetup {
  std::string model_filename, model_type, cpu, kernel_set;
  int64_t model_size = 0, model_n_params = 0;
  int64_t decode_weight_bytes = 0;  // bytes of weights one decoded token reads
  int64_t kv_entries_per_token = 0; // n_layers * n_heads_kv (entries one token adds)
};

struct BenchRow {
  RowSpec spec;
  RowResult result;
  int n_threads = 1;
  double read_bandwidth = 0;  // bytes/s measured with this row's thread count
};

// "pp512", "tg128", "tg32 @ d16384"; figure rows (context + decode) are "ctx16384+tg32".
std::string test_name(const RowSpec& spec);
nlohmann::ordered_json row_json(const BenchRow& row, const BenchSetup& setup);
// Renders rows as "md" (llama-bench's table plus our columns), "json" (array), "jsonl" or "csv".
std::string format_rows(const std::vector<BenchRow>& rows, const BenchSetup& setup, const std::string& format);
// The figure-mode table (one line per KV type, press ratio and context length).
std::string figure_markdown(const std::vector<BenchRow>& rows, const BenchSetup& setup);
// Writes bench.json, bench.md, memory.svg and decode.svg into dir (created if missing).
void write_figure(const std::string& dir, const std::vector<BenchRow>& rows, const BenchSetup& setup);

}  // namespace kvpress::cli::bench
