// `kvpress bench`: speed and memory. Two modes:
//  - llama-bench's interface (-m -p -n -d -t -r -ctk -ctv -o md|json|jsonl|csv, the same test names and
//    fields), plus a press compressing the depth context (--press, --compression-ratio);
//  - the figure mode (--context-lengths): per KV type, ratio and context length, prefill t/s, press ms,
//    decode t/s, KV bytes, peak RSS and the share of the memory bandwidth; --out writes bench.json,
//    bench.md and two SVG plots; --synthetic-cache measures decoding on a random cache without prefill.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bench/bench_output.h"
#include "bench/bench_run.h"
#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "kvpress/engine.h"

namespace kvpress::cli {
namespace {

std::vector<std::string> split_list(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  if (out.empty()) out.push_back("");
  return out;
}

// "512", "4k" (= 4096), "128K"; zero allowed only when allow_zero.
std::vector<int64_t> parse_lengths(const std::string& csv, const char* what, bool allow_zero) {
  std::vector<int64_t> out;
  for (std::string item : split_list(csv)) {
    int64_t scale = 1;
    if (!item.empty() && (item.back() == 'k' || item.back() == 'K')) scale = 1024, item.pop_back();
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 0 || (v == 0 && !allow_zero) || v > (int64_t{1} << 24))
      fail(what, ": '", item, scale > 1 ? "k" : "", "' is not a ", allow_zero ? "non-negative" : "positive",
           " token count (e.g. 512 or 4k)");
    out.push_back(v * scale);
  }
  return out;
}

std::vector<double> parse_ratios(const std::string& csv) {
  std::vector<double> out;
  for (const std::string& item : split_list(csv)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size()) fail("--compression-ratio: '", item, "' is not a number");
    out.push_back(v);
  }
  return out;
}

std::vector<KvType> parse_kv_types(const std::string& csv) {
  std::vector<KvType> out;
  for (const std::string& item : split_list(csv)) out.push_back(parse_kv_type(item));
  return out;
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

bench::BenchSetup describe(const Engine& engine, const std::string& path) {
  const ModelInfo& info = engine.info();
  bench::BenchSetup s;
  s.model_filename = path;
  s.model_size = info.file_bytes;
  s.model_n_params = info.n_params;
  s.model_type = info.arch + " " + info.weight_types;
  s.cpu = cpu_name();
  s.kernel_set = engine.kernel_set();
  s.decode_weight_bytes = info.decode_weight_bytes;
  s.kv_entries_per_token = info.n_layers * info.n_heads_kv;
  return s;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, prompts = "512", gens = "128", depths = "0", threads = std::to_string(default_threads());
    std::string kv = "f16", kv_k, kv_v, output = "md", press = "none", ratios = "0", lengths, out;
    int repetitions = 0;
    int64_t decode_tokens = 32, spin_us = kDefaultSpinUs;
    bool exact_matmul = false;
    std::string synthetic_from;
    bool synthetic = false;
    uint64_t seed = 1;
    int64_t prefill_chunk = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Measure speed and memory: llama-bench's tests, or the figure of decode "
                                          "speed and peak memory vs context length (--context-lengths)");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-p,--n-prompt", args->prompts, "prompt lengths of the pp tests (0 = none)")->capture_default_str();
  cmd->add_option("-n,--n-gen", args->gens, "tokens decoded by the tg tests (0 = none)")->capture_default_str();
  cmd->add_option("-d,--n-depth", args->depths, "context tokens before each test (compressed by --press)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "thread counts")->capture_default_str();
  cmd->add_option("-r,--repetitions", args->repetitions,
                  "runs per test (default 5); with --context-lengths, decode runs on one prefill (default 3)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--kv-type", args->kv, "KV cache types of keys and values (list): " + kv_type_choices())
      ->capture_default_str();
  cmd->add_option("--kv-type-k", args->kv_k, "key types (list, as llama-bench's -ctk; default --kv-type)");
  cmd->add_option("--kv-type-v", args->kv_v, "value types (list, as llama-bench's -ctv; default --kv-type)");
  cmd->add_option("-o,--output", args->output, "md, json, jsonl or csv")->capture_default_str();
  cmd->add_option("--press", args->press, "press compressing the context (see `kvpress presses`)")
      ->capture_default_str();
  cmd->add_option("--compression-ratio,--ratios", args->ratios, "compression ratios (list)")->capture_default_str();
  cmd->add_option("--context-lengths", args->lengths,
                  "figure mode: context lengths (list, e.g. 1k,4k,16k,32k), each prefilled then decoded");
  cmd->add_option("--decode-tokens", args->decode_tokens, "figure mode: tokens decoded after each context")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--synthetic-cache", args->synthetic,
                "figure mode: fill each context's cache with random entries instead of prefilling (decode only)");
  cmd->add_option("--synthetic-from", args->synthetic_from, "figure mode: synthetic cache from this length on (e.g. 64k)");
  cmd->add_option("--out", args->out, "figure mode: folder for bench.json, bench.md, memory.svg, decode.svg");
  cmd->add_flag("--exact-matmul", args->exact_matmul,
               "multiply weights with f32 activations only (the exact reference path; default: quantized weights multiply int8-rounded activations, as llama.cpp)");
  cmd->add_option("--spin-us", args->spin_us, "microseconds idle workers poll before sleeping (0 on busy machines)")
      ->check(CLI::Range(0, 1000000))->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the random tokens")->capture_default_str();
  add_prefill_chunk_option(cmd, args->prefill_chunk);
  cmd->callback([&action, args] {
    action = [args] {
      // Everything is validated before the model loads.
      const bool figure = !args->lengths.empty();
      if (!figure && (args->synthetic || !args->synthetic_from.empty() || !args->out.empty()))
        fail("--synthetic-cache, --synthetic-from and --out belong to the figure mode: add --context-lengths");
      const auto prompts = parse_lengths(args->prompts, "-p", true);
      const auto gens = parse_lengths(args->gens, "-n", true);
      const auto depths = parse_lengths(args->depths, "-d", true);
      std::vector<int> threads;
      for (int64_t t : parse_lengths(args->threads, "-t", false)) {
        if (t > 256) fail("-t: at most 256 threads");
        threads.push_back((int)t);
      }
      const auto lengths = figure ? parse_lengths(args->lengths, "--context-lengths", false) : std::vector<int64_t>{};
      const int64_t synthetic_from = args->synthetic ? 0
                                     : args->synthetic_from.empty()
                                         ? INT64_MAX
                                         : parse_lengths(args->synthetic_from, "--synthetic-from", false).front();
      const auto ratios = parse_ratios(args->ratios);
      for (double r : ratios) PressConfig::from_spec(args->press, r);  // validates the spec and every ratio
      const auto all = parse_kv_types(args->kv);
      const auto keys = args->kv_k.empty() ? all : parse_kv_types(args->kv_k);
      const auto values = args->kv_v.empty() ? all : parse_kv_types(args->kv_v);
      std::vector<KvTypes> kv_pairs;
      if (args->kv_k.empty() && args->kv_v.empty()) {
        for (KvType t : all) kv_pairs.push_back({t, t});
      } else {
        for (KvType k : keys)
          for (KvType v : values) kv_pairs.push_back({k, v});
      }
      if (args->output != "md" && args->output != "json" && args->output != "jsonl" && args->output != "csv")
        fail("-o: unknown output format '", args->output, "' (choose md, json, jsonl or csv)");
      const int reps = args->repetitions > 0 ? args->repetitions : figure ? 3 : 5;

      const int64_t head_dim = Engine::load(args->model, {1, 0}).info().head_dim;
      for (const KvTypes& t : kv_pairs) kv_entry_bytes(t, head_dim);  // blocks fit head_dim

      std::vector<bench::RowSpec> specs;
      for (const KvTypes& kv : kv_pairs)
        for (double ratio : ratios) {
          bench::RowSpec s;
          s.kv_types = kv;
          s.press = args->press;
          s.ratio = ratio;
          s.repetitions = reps;
          s.seed = args->seed;
          s.prefill_chunk = args->prefill_chunk;
          if (figure) {
            for (int64_t n : lengths) {
              s.n_depth = n, s.n_gen = args->decode_tokens, s.synthetic = n >= synthetic_from, s.one_context = true;
              specs.push_back(s);
            }
            continue;
          }
          for (int64_t d : depths) {
            s.n_depth = d;
            for (int64_t p : prompts)
              if (p > 0) s.n_prompt = p, s.n_gen = 0, specs.push_back(s);
            for (int64_t n : gens)
              if (n > 0) s.n_prompt = 0, s.n_gen = n, specs.push_back(s);
          }
        }
      if (specs.empty()) fail("nothing to measure: every -p and -n is 0");

      std::vector<bench::BenchRow> rows;
      bench::BenchSetup setup;
      bool header_done = false;
      for (int n_threads : threads) {
        const Engine engine = Engine::load(args->model, {n_threads, args->spin_us, args->exact_matmul});
        setup = describe(engine, args->model);
        {
          // Warm-up: one token through every layer pages the mapped weights in before anything is timed.
          const int32_t tok[1] = {0};
          GenerationOptions warm;
          warm.max_new_tokens = 1;
          engine.generate(tok, warm);
        }
        const double read_bandwidth = engine.measure_read_bandwidth();
        for (size_t i = 0; i < specs.size(); ++i) {
          std::fprintf(stderr, "kvpress bench: [%zu/%zu] %d threads, KV %s/%s, %s %.3g, %s%s\n", i + 1, specs.size(),
                       n_threads, std::string(kv_type_name(specs[i].kv_types.k)).c_str(),
                       std::string(kv_type_name(specs[i].kv_types.v)).c_str(), specs[i].press.c_str(), specs[i].ratio,
                       bench::test_name(specs[i]).c_str(), specs[i].synthetic ? " (synthetic cache)" : "");
          rows.push_back({specs[i], bench::run_row(engine, specs[i]), n_threads, read_bandwidth});
          if (figure || args->output == "json") continue;
          // Rows print as they finish (the md and csv headers once).
          std::string text = bench::format_rows({rows.back()}, setup, args->output);
          const int header_lines = !header_done ? 0 : args->output == "md" ? 2 : args->output == "csv" ? 1 : 0;
          for (int h = 0; h < header_lines; ++h) text.erase(0, text.find('\n') + 1);
          header_done = true;
          std::fputs(text.c_str(), stdout);
          std::fflush(stdout);
        }
      }
      if (figure) {
        std::fputs(bench::figure_markdown(rows, setup).c_str(), stdout);
        if (!args->out.empty()) {
          bench::write_figure(args->out, rows, setup);
          std::fprintf(stderr, "kvpress bench: wrote bench.json, bench.md, memory.svg, decode.svg to %s\n",
                       args->out.c_str());
        }
      } else if (args->output == "json") {
        std::fputs(bench::format_rows(rows, setup, "json").c_str(), stdout);
      }
      return 0;
    };
  });
}

}  // namespace kvpress::cli
