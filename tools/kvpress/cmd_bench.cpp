// `kvpress bench`: prefill and decode speed and KV memory versus context length and compression ratio.
// Prints one JSON line per configuration (comparable across runs: CPU, threads, types, press, ratio);
// with --repetitions, the mean and standard deviation of the rates (as llama-bench reports them).
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cache/kv_cache.h"
#include "cli_common.h"
#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "pipeline/sampler.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"

namespace kvpress::cli {
namespace {

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (int64_t)u.ru_maxrss * 1024;
}

std::vector<int64_t> parse_int_list(const std::string& csv, const char* what) {
  std::vector<int64_t> out;
  for (int32_t v : parse_token_list(csv)) {
    if (v <= 0) fail(what, ": values must be positive");
    out.push_back(v);
  }
  return out;
}

std::vector<double> parse_ratio_list(const std::string& csv) {
  std::vector<double> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("--ratios: '", item, "' is not a number");
    }
  }
  return out;
}

// Mean and sample standard deviation.
std::pair<double, double> mean_sd(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / (double)v.size();
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(ss / (double)(v.size() - 1)) : 0.0};
}

// Weight bytes one decoded token streams: every matrix once, the output matrix included (it is
// token_embd when tied), token_embd's own single row excepted.
int64_t decode_weight_bytes(const Model& model) {
  int64_t bytes = 0;
  for (const auto& t : model.file().tensors())
    if (t.name != "token_embd.weight") bytes += (int64_t)t.n_bytes;
  const auto& out = model.weights().output;
  return bytes + (out.data == model.weights().token_embd.data ? out.n_rows * out.row_bytes : 0);
}

struct Timing {
  double prefill_s = 0, decode_s = 0;
  int64_t kv_bytes = 0;
};

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, press = "none", lengths = "512", ratios = "0";
    int64_t decode_tokens = 32;
    int threads = default_threads();
    int repetitions = 1;
    int64_t spin_us = ThreadPool::kDefaultSpin.count();
    uint64_t seed = 1;
    KvTypeArgs kv;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("bench", "Measure prefill/decode tokens per second and KV bytes (JSON lines)");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--context-lengths", args->lengths, "comma-separated context lengths in tokens");
  cmd->add_option("--press", args->press, "press specification");
  cmd->add_option("--ratios", args->ratios, "comma-separated compression ratios");
  cmd->add_option("--decode-tokens", args->decode_tokens, "tokens decoded after the context")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads, "worker threads")->check(CLI::Range(1, 256));
  cmd->add_option("--repetitions", args->repetitions, "runs per configuration (mean and standard deviation reported)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--spin-us", args->spin_us, "microseconds idle workers poll before sleeping (0 on busy machines)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--seed", args->seed, "seed of the random context tokens");
  add_kv_type_options(cmd, args->kv);
  cmd->callback([&action, args] {
    action = [args] {
      const KvTypes kv_types = args->kv.resolve();
      const auto lengths = parse_int_list(args->lengths, "--context-lengths");
      const auto ratios = parse_ratio_list(args->ratios);
      for (double r : ratios) make_press(args->press, r);  // validate every ratio up front
      auto model = Model::load(args->model);
      ThreadPool pool(args->threads, std::chrono::microseconds(args->spin_us));
      const auto& c = model->config();
      std::string types;
      for (const auto& t : model->file().tensors())
        if (t.ne.size() == 2 && types.find(ggml_type_name(t.type)) == std::string::npos)
          types += (types.empty() ? "" : "+") + std::string(ggml_type_name(t.type));
      const int64_t weight_bytes = decode_weight_bytes(*model);
      {
        // Warm-up: one token through every layer pages the mapped weights in before anything is timed.
        KvCache cache = model->make_cache(kv_types);
        const int32_t tok[1] = {0}, p[1] = {0};
        model->forward(tok, p, cache, pool);
      }
      std::mt19937_64 rng(args->seed);
      for (int64_t n_ctx : lengths) {
        std::vector<int32_t> ids((size_t)n_ctx);
        for (auto& id : ids) id = (int32_t)(rng() % (uint64_t)c.n_vocab);
        std::vector<int32_t> positions(ids.size());
        std::iota(positions.begin(), positions.end(), 0);
        for (double ratio : ratios) {
          auto run_once = [&] {
            auto press = make_press(args->press, ratio);
            KvCache cache = model->make_cache(kv_types);
            LayerObserver observer = [&](const LayerPrefill& layer) { press->compress(layer); };
            ForwardOptions fwd;
            if (press) fwd.observer = &observer;
            using Clock = std::chrono::steady_clock;
            Timing timing;
            const auto t0 = Clock::now();
            auto logits = model->forward(ids, positions, cache, pool, fwd);
            timing.prefill_s = std::chrono::duration<double>(Clock::now() - t0).count();
            timing.kv_bytes = cache.bytes();
            const auto t1 = Clock::now();
            int32_t pos = (int32_t)n_ctx;
            for (int64_t i = 0; i < args->decode_tokens; ++i) {
              const int32_t tok[1] = {argmax(logits)}, p[1] = {pos++};
              logits = model->forward(tok, p, cache, pool);
            }
            timing.decode_s = std::chrono::duration<double>(Clock::now() - t1).count();
            return timing;
          };
          std::vector<double> prefill_tps, decode_tps;
          int64_t kv_bytes = 0;
          for (int rep = 0; rep < args->repetitions; ++rep) {
            const Timing t = run_once();
            prefill_tps.push_back((double)n_ctx / t.prefill_s);
            decode_tps.push_back((double)args->decode_tokens / t.decode_s);
            kv_bytes = t.kv_bytes;
          }
          const auto [prefill_mean, prefill_sd] = mean_sd(prefill_tps);
          const auto [decode_mean, decode_sd] = mean_sd(decode_tps);
          nlohmann::json j = {
              {"model", args->model}, {"arch", c.arch}, {"weight_types", types}, {"cpu", cpu_name()},
              {"threads", args->threads}, {"press", args->press}, {"compression_ratio", ratio},
              {"context_tokens", n_ctx}, {"repetitions", args->repetitions},
              {"prefill_tokens_per_s", prefill_mean}, {"prefill_tokens_per_s_sd", prefill_sd},
              {"decode_tokens", args->decode_tokens}, {"decode_tokens_per_s", decode_mean},
              {"decode_tokens_per_s_sd", decode_sd},
              // Weight streaming rate of decoding (KV reads not counted): compare with memory bandwidth.
              {"decode_weight_gb_per_s", (double)weight_bytes * decode_mean / 1e9},
              {"kv_type_k", kv_type_name(kv_types.k)}, {"kv_type_v", kv_type_name(kv_types.v)},
              {"kv_bytes_full", n_ctx * c.kv_bytes_per_token(kv_types)}, {"kv_bytes", kv_bytes},
              {"peak_rss_bytes", peak_rss_bytes()},
          };
          std::printf("%s\n", j.dump().c_str());
          std::fflush(stdout);
        }
      }
      return 0;
    };
  });
}

}  // namespace kvpress::cli
