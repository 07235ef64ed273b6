// `kvpress query-stats`: the query statistics file of expected_attention_with_stats (kvpress's
// expected_attention_with_stats.py main: first 100 texts, 1000 characters each, n_sink 4).
#include <cstdio>

#include "cli_common.h"
#include "commands.h"
#include "kvpress/engine.h"

namespace kvpress::cli {

void add_query_stats_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, out;
    std::vector<std::string> texts;
    QueryStatsOptions options;
    int threads = 2;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "query-stats", "Write the query statistics (mean, covariance) that expected_attention_with_stats reads");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--text", args->texts, "calibration text files (each one sample), in order")->required();
  cmd->add_option("--out", args->out, "statistics file to write (press parameter stats_file=...)")->required();
  cmd->add_option("--max-chars", args->options.max_chars, "characters of each text used (kvpress: 1000)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--samples", args->options.max_samples, "texts used at most (kvpress: 100)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--n-sink", args->options.n_sink, "first tokens of each text left out (kvpress: 4)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->callback([&action, args] {
    action = [args] {
      std::vector<std::string> texts;
      for (const auto& path : args->texts) texts.push_back(read_file(path));
      const Engine engine = Engine::load(args->model, {args->threads});
      const QueryStatsSummary s = engine.write_query_stats(texts, args->options, args->out);
      const ModelInfo& m = engine.info();
      std::printf("wrote %s: %lld samples, %lld queries per head, %lld layers x %lld heads x head_dim %lld\n",
                  args->out.c_str(), (long long)s.n_samples, (long long)s.n_queries, (long long)m.n_layers,
                  (long long)m.n_heads, (long long)m.head_dim);
      std::printf("use: --press expected_attention_with_stats:stats_file=%s\n", args->out.c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
