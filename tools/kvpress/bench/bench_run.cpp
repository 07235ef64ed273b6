// Running one bench row: context (real prefill with a press, or a synthetic cache), timed test, memory.
#include "bench/bench_run.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <string>

#include "kvpress/session.h"

namespace kvpress::cli::bench {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; false where /proc does not allow it.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return (bool)out;
}

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

}  // namespace

RowResult run_row(const Engine& engine, const RowSpec& spec) {
  const ModelInfo& info = engine.info();
  RowResult result;
  result.kv_bytes_full = spec.n_depth * engine.kv_bytes_per_token(spec.kv_types);
  std::mt19937_64 rng(spec.seed);
  auto random_ids = [&](int64_t n) {
    std::vector<int32_t> ids((size_t)n);
    for (auto& id : ids) id = (int32_t)(rng() % (uint64_t)info.n_vocab);
    return ids;
  };
  const auto depth_ids = random_ids(spec.n_depth), prompt_ids = random_ids(spec.n_prompt);
  const int32_t first_token = random_ids(1)[0];
  // pp: one pass over the prompt (one token sampled, not fed); tg: n_gen passes of one token each.
  const std::vector<int32_t> test_ids = spec.n_prompt > 0 ? prompt_ids : std::vector<int32_t>{first_token};
  const int64_t new_tokens = spec.n_prompt > 0 ? 1 : spec.n_gen;
  SessionOptions options;
  options.kv_types = spec.kv_types;
  options.prefill_chunk = spec.prefill_chunk;
  AskOptions ask;
  ask.max_new_tokens = new_tokens;
  ask.stop_at_end_of_generation = false;
  GenerationOptions gen;
  gen.max_new_tokens = new_tokens;
  gen.stop_at_end_of_generation = false;
  gen.kv_types = spec.kv_types;
  const PressConfig press = PressConfig::from_spec(spec.press, spec.ratio);
  // A press compressing while decoding consumes its context with the first test: each test gets its own.
  const bool one_context = spec.one_context && !press.compresses_while_decoding();
  if (press.compresses_while_decoding()) gen.press = press;
  result.peak_rss_of_row = reset_peak_rss();
  const int n_contexts = one_context ? 1 : spec.repetitions;
  const int tests_per_context = one_context ? spec.repetitions : 1;
  for (int rep = 0; rep < n_contexts; ++rep) {
    std::optional<Session> context;
    const auto t_context = Clock::now();
    if (spec.n_depth > 0)
      context = spec.synthetic
                    ? Session::from_random_cache(engine, spec.n_depth, press.is_none() ? 0.0 : spec.ratio, options,
                                                 spec.seed + rep)
                    : Session::from_tokens(engine, depth_ids, press, options);
    result.context_s += seconds_since(t_context) / n_contexts;
    if (context) {
      result.press_ms += context->stats().compression_ms / n_contexts;
      result.kv_bytes = context->stats().kv_bytes;
    }
    for (int test = 0; test < tests_per_context; ++test) {
      const auto t_test = Clock::now();
      // Without a context the test runs on a fresh cache; after one, on the context's (restored after it).
      result.kv_bytes_end = context ? (context->ask_tokens(test_ids, ask), context->kv_bytes_peak())
                                    : engine.generate(test_ids, gen).kv_bytes;
      result.samples_ns.push_back(seconds_since(t_test) * 1e9);
    }
  }
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

}  // namespace kvpress::cli::bench
