// `kvpress demo`: the toolkit's story in one minute. Fresh RULER-style samples (test split: keys and
// values the shipped model never trained on) are answered with the full cache and with several presses at
// one compression ratio; one table shows accuracy, KV bytes and timings side by side.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "eval/metrics.h"
#include "eval/text_utils.h"
#include "eval_runner.h"
#include "install_paths.h"
#include "kvpress/pipeline.h"

namespace kvpress::cli {
namespace {

struct DemoRow {
  std::string press;
  double correct = 0;  // sum of per-sample string_match_all in [0, 1]
  int64_t samples = 0, kv_bytes_full = 0, kv_bytes = 0, generated = 0;
  double prefill_ms = 0, compression_ms = 0, decode_ms = 0;
  std::string first_answer;
};

DemoRow run_press(const Engine& engine, const std::vector<TaskRecord>& records, const std::string& spec, double ratio,
                  const KvTypes& kv_types) {
  DemoRow row;
  row.press = spec;
  const PressConfig press = PressConfig::from_spec(spec, ratio);
  for (const TaskRecord& r : records) {
    AnswerOptions opts;
    opts.answer_prefix = r.answer_prefix;
    opts.max_new_tokens = r.max_new_tokens;
    opts.kv_types = kv_types;
    const AnswerResult res = answer(engine, r.context, {r.question}, press, opts);
    const std::string& pred = res.answers.front();
    if (row.samples == 0) row.first_answer = pred;
    row.correct += string_match_all_row(pred, r.answers);
    row.samples += 1;
    row.kv_bytes_full += res.stats.kv_bytes_full;
    row.kv_bytes += res.stats.kv_bytes;
    row.generated += res.stats.generated_tokens;
    row.prefill_ms += res.stats.prefill_ms;
    row.compression_ms += res.stats.compression_ms;
    row.decode_ms += res.stats.decode_ms;
  }
  return row;
}

void print_row(const DemoRow& r) {
  const double n = static_cast<double>(r.samples);
  std::printf("%-20s %7.1f%% %14.0f %13.0f %10.1f %9.1f %12.1f\n", r.press.c_str(), 100.0 * r.correct / n,
              static_cast<double>(r.kv_bytes_full) / n, static_cast<double>(r.kv_bytes) / n, r.prefill_ms / n,
              r.compression_ms / n, r.decode_ms > 0 ? static_cast<double>(r.generated) * 1000.0 / r.decode_ms : 0.0);
  std::fflush(stdout);
}

// A generated answer on one short line (an untrained or confused model may ramble).
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  s = text::strip(s);
  return s.size() > 72 ? s.substr(0, 72) + "..." : s;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, tasks = "niah_single_1,niah_single_2,niah_single_3,niah_multivalue";
    std::string length = "1k", presses = "knorm,snapkv,streaming_llm,expected_attention", data_dir;
    std::size_t samples = 3;
    double ratio = 0.5;
    uint64_t seed = 2026;
    int threads = default_threads();
    KvTypeArgs kv;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("demo", "Answer fresh RULER-style samples with no press and with several presses; print one table");
  cmd->add_option("--model", args->model,
                  "GGUF model (default: the shipped kvpress-needle-2m.gguf from share/kvpress/models next to the "
                  "binary, $KVPRESS_MODELS_DIR, or the source tree's models/)");
  cmd->add_option("--tasks", args->tasks, "comma-separated RULER tasks")->capture_default_str();
  cmd->add_option("--length", args->length, "target length in tokens (e.g. 1k, 2048)")->capture_default_str();
  cmd->add_option("--samples", args->samples, "samples per task")->check(CLI::Range(1, 10000))->capture_default_str();
  cmd->add_option("--presses", args->presses, "comma-separated press specifications (see `kvpress presses`)")
      ->capture_default_str();
  cmd->add_option("--compression-ratio", args->ratio, "fraction of KV pairs each press removes")->capture_default_str();
  cmd->add_option("--seed", args->seed, "sample seed (the model trained on other seeds and the train split)")
      ->check(at_least(0))->capture_default_str();
  add_data_dir_option(cmd, args->data_dir);
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  add_kv_type_options(cmd, args->kv);
  cmd->callback([&action, args] {
    action = [args] {
      // Validate the presses before the model loads.
      std::vector<std::string> specs = {"none"};
      for (const std::string& s : text::split_on(args->presses, ",")) {
        if (text::strip(s).empty()) fail("--presses '", args->presses, "' has an empty item");
        specs.push_back(text::strip(s));
        PressConfig::from_spec(specs.back(), args->ratio);
      }
      const KvTypes kv_types = args->kv.resolve();
      if (args->model.empty()) args->model = default_model_file().string();
      if (!std::filesystem::exists(args->model)) fail("model file not found: ", args->model);
      const Engine engine = Engine::load(args->model, {args->threads});

      // The same dataset loading as `kvpress eval` (the model's tokenizer counts and encodes).
      eval::EvalConfig config;
      config.dataset = "ruler:" + args->tasks + ":" + args->length;
      config.samples = args->samples;
      config.seed = args->seed;
      config.data_dir = data_dir_or_default(args->data_dir);
      const std::vector<TaskRecord> records = eval::load_eval_dataset(config, engine);

      std::printf("kvpress demo: %s\nessays: %s\n%zu samples (%s at %s tokens, test split, seed %llu), compression ratio %.2f, "
                  "%d threads, KV cache %s/%s\n\n", args->model.c_str(),
                  (config.data_dir / "paul_graham_essays").c_str(), records.size(), args->tasks.c_str(),
                  args->length.c_str(), static_cast<unsigned long long>(args->seed), args->ratio, args->threads,
                  std::string(kv_type_name(kv_types.k)).c_str(), std::string(kv_type_name(kv_types.v)).c_str());
      std::printf("%-20s %8s %14s %13s %10s %9s %12s\n", "press", "accuracy", "kv_bytes_full", "kv_bytes",
                  "prefill_ms", "press_ms", "decode_tok/s");
      std::vector<DemoRow> rows;
      for (const std::string& spec : specs) {
        rows.push_back(run_press(engine, records, spec, spec == "none" ? 0.0 : args->ratio, kv_types));
        print_row(rows.back());
      }
      const TaskRecord& first = records.front();
      std::printf("\nFirst sample (%s): \"%s %s\"\n  expected: %s\n", first.task.c_str(),
                  one_line(first.question).c_str(), first.answer_prefix.c_str(), text::join(first.answers, ", ").c_str());
      for (const DemoRow& r : rows) std::printf("  %-18s %s\n", r.press.c_str(), one_line(r.first_answer).c_str());
      std::printf("\naccuracy: RULER string_match_all; kv_bytes: mean per sample, exact from the cache; times: mean "
                  "per sample.\n");
      return 0;
    };
  });
}

}  // namespace kvpress::cli
