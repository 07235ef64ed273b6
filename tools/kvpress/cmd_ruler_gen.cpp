// `kvpress ruler-gen`: RULER-style synthetic task records fitted to a model's tokenizer, written as JSONL
// (the training data of tools/train/ and fresh evaluation sets).
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "eval/dataset.h"
#include "eval/jsonl_dataset.h"
#include "eval/ruler_generator.h"
#include "eval/text_utils.h"
#include "gguf/gguf_file.h"
#include "install_paths.h"
#include "tokenizer/tokenizer.h"

namespace kvpress::cli {
namespace {

// "all" or comma-separated task names; an unknown name throws Error listing the valid ones.
std::vector<RulerTask> parse_task_list(const std::string& list) {
  std::vector<RulerTask> tasks;
  if (text::strip(list) == "all") {
    for (std::size_t i = 0; i < kNumRulerTasks; ++i) tasks.push_back(static_cast<RulerTask>(i));
    return tasks;
  }
  for (const std::string& name : text::split_on(list, ",")) {
    const std::string t = text::strip(name);
    if (t.empty()) fail("--tasks '", list, "' has an empty item");
    tasks.push_back(parse_ruler_task(t));
  }
  return tasks;
}

// Records go to <out>.tmp, renamed over <out> by commit(); a failed run removes it, leaving no file behind.
class PendingFile {
 public:
  explicit PendingFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) fail("cannot open '", path, "' for writing");
  }
  ~PendingFile() {
    if (committed_) return;
    out_.close();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
  std::ofstream& stream() { return out_; }
  void commit() {
    out_.close();
    if (!out_) fail("cannot write '", path_, "'");
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) fail("cannot write '", path_, "' (", ec.message(), ")");
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

std::vector<int> parse_length_list(const std::string& list) {
  std::vector<int> lengths;
  for (const std::string& item : text::split_on(list, ",")) lengths.push_back(parse_token_length(text::strip(item)));
  return lengths;
}

}  // namespace

void add_ruler_gen_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, tasks, lengths, split = "test", data_dir, out;
    std::size_t samples = 10;
    uint64_t seed = 42, first_index = 0;
    bool skip_unfit = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("ruler-gen", "Generate RULER-style task records (JSONL) fitted to a model's tokenizer");
  cmd->add_option("--model", args->model, "GGUF model or vocab file whose tokenizer counts the tokens")->required();
  cmd->add_option("--tasks", args->tasks, "comma-separated RULER task names, or 'all'")->required();
  cmd->add_option("--length", args->lengths, "target lengths in tokens, comma-separated (e.g. 512,1k)")->required();
  cmd->add_option("--samples", args->samples, "samples per task and length")->check(at_least(1))->capture_default_str();
  cmd->add_option("--seed", args->seed, "generator seed")->check(at_least(0))->capture_default_str();
  cmd->add_option("--first-index", args->first_index, "index of the first sample, for disjoint batches")
      ->check(at_least(0))->capture_default_str();
  cmd->add_option("--split", args->split, "keys/values from train, test or all")->capture_default_str();
  add_data_dir_option(cmd, args->data_dir);
  cmd->add_flag("--skip-unfit", args->skip_unfit,
               "skip samples that cannot be generated (e.g. too long for the length) instead of failing");
  cmd->add_option("--out", args->out, "output JSONL file ('-' = stdout)")->required();
  cmd->callback([&action, args] {
    action = [args] {
      // Validate every option before the (possibly slow) tokenizer and data loading.
      const std::vector<RulerTask> tasks = parse_task_list(args->tasks);
      const std::vector<int> lengths = parse_length_list(args->lengths);
      const Split split = parse_split(args->split);
      const std::filesystem::path data_dir = data_dir_or_default(args->data_dir);

      // Only the vocabulary is needed: vocab-only GGUF files work too.
      const auto file = gguf::GgufFile::open(args->model);
      const Tokenizer tok(Vocab::from_gguf(file));
      const TokenCounter count = [&tok](std::string_view text) { return tok.encode(text, false, false).size(); };
      const RulerGenerator gen = RulerGenerator::from_data_dir(data_dir, count);

      const bool to_stdout = args->out == "-";
      std::optional<PendingFile> file_out;
      if (!to_stdout) file_out.emplace(args->out);
      std::size_t n_written = 0, n_skipped = 0;
      for (const int length : lengths) {
        for (const RulerTask task : tasks) {
          std::size_t n_task = 0;
          std::string first_error;
          for (std::size_t i = 0; i < args->samples; ++i) {
            TaskRecord r;
            try {
              r = gen.generate(task, length, args->seed, args->first_index + i, split);
            } catch (const Error& e) {
              // Key and value lengths vary per sample, so near a task's minimum length some samples fit
              // and some do not; training data generation keeps the ones that do.
              if (!args->skip_unfit) throw;
              if (first_error.empty()) first_error = e.what();
              ++n_skipped;
              continue;
            }
            ++n_task;
            const std::string line = to_jsonl_line(r) + "\n";
            if (to_stdout) {
              std::fwrite(line.data(), 1, line.size(), stdout);
            } else {
              file_out->stream() << line;
            }
            ++n_written;
          }
          if (n_task == 0) fail("no sample of ", ruler_task_name(task), " at ", length, " tokens: ", first_error);
        }
      }
      if (!to_stdout) {
        file_out->commit();
        std::fprintf(stderr, "kvpress ruler-gen: wrote %zu records (%zu tasks x %zu lengths x %zu samples, split %s; "
                     "%zu skipped) to %s\n", n_written, tasks.size(), lengths.size(), args->samples, split_name(split),
                     n_skipped, args->out.c_str());
      }
      return 0;
    };
  });
}

}  // namespace kvpress::cli
