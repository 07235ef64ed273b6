// `kvpress logits`: logits of given token ids, as one JSON object (the parity contract).
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "cli_common.h"
#include "commands.h"
#include "model/model.h"
#include "pipeline/finite_check.h"
#include "pipeline/generator.h"
#include "runtime/thread_pool.h"

namespace kvpress::cli {

void add_logits_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, tokens;
    int greedy = 0;
    bool exact_matmul = false;
    int threads = default_threads();
    KvTypeArgs kv;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("logits", "Print argmax per position, first/last logits (and a greedy continuation) as JSON");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--tokens", args->tokens, "comma-separated token ids, used as given (no BOS added)")->required();
  cmd->add_option("--greedy", args->greedy, "also generate N greedy tokens after the last one")->check(at_least(0))->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_flag("--exact-matmul", args->exact_matmul,
               "multiply weights with f32 activations only (default: quantized weights multiply int8-rounded activations, as llama.cpp)");
  add_kv_type_options(cmd, args->kv);
  cmd->callback([&action, args] {
    action = [args] {
      const KvTypes kv_types = args->kv.resolve();
      const auto tokens = parse_token_list(args->tokens);
      auto model = Model::load(args->model, args->exact_matmul);
      ThreadPool pool(args->threads);
      KvCache cache = model->make_cache(kv_types);
      std::vector<int32_t> positions(tokens.size());
      std::iota(positions.begin(), positions.end(), 0);
      ForwardOptions opts;
      opts.logits = LogitsMode::All;
      const auto logits = model->forward(tokens, positions, cache, pool, opts);
      check_finite_logits(*model, cache, logits);  // JSON would print NaN as null
      const int64_t V = model->config().n_vocab;
      const int64_t T = (int64_t)tokens.size();
      nlohmann::json out;
      std::vector<int32_t> am(T);
      for (int64_t t = 0; t < T; ++t) am[t] = argmax(std::span<const float>(&logits[t * V], V));
      out["argmax"] = am;
      out["logits_first"] = std::vector<float>(logits.begin(), logits.begin() + V);
      out["logits_last"] = std::vector<float>(logits.end() - V, logits.end());
      if (args->greedy > 0) {
        std::vector<int32_t> greedy;
        int32_t next = am[T - 1];
        int32_t pos = (int32_t)T;
        for (int i = 0; i < args->greedy; ++i) {
          greedy.push_back(next);
          if (i + 1 == args->greedy) break;
          const int32_t tok[1] = {next}, p[1] = {pos++};
          const auto step = model->forward(tok, p, cache, pool);
          check_finite_logits(*model, cache, step);
          next = argmax(step);
        }
        out["greedy"] = greedy;
      }
      std::printf("%s\n", out.dump().c_str());
      return 0;
    };
  });
}

}  // namespace kvpress::cli
