// Running one bench row: context (real prefill with a press, or a synthetic cache), timed test, memory.
#include "bench/bench_run.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <string>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "model/model.h"
#include "pipeline/sampler.h"
#include "press/press.h"
#include "pipeline/prefill.h"
#include "press/press_prefill.h"
#include "press/press_registry.h"
#include "runtime/thread_pool.h"

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

// The cache a press at `ratio` would leave after n_depth tokens, filled with uniform random keys and
// values (decode speed does not depend on them), kept positions spread evenly over the context.
void fill_synthetic(KvCache& cache, int64_t n_depth, double ratio, uint64_t seed) {
  const int64_t n = kept_count(n_depth, ratio);
  const int64_t row = cache.n_heads_kv() * cache.head_dim();
  constexpr int64_t kChunk = 4096;
  std::vector<float> k((size_t)(kChunk * row)), v(k.size());
  std::vector<int32_t> pos((size_t)kChunk);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next = [&state] {  // xorshift64*: cheap, the values do not matter
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    return (float)((state * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
  };
  for (int64_t l = 0; l < cache.n_layers(); ++l) {
    cache.reserve(l, n);
    for (int64_t t0 = 0; t0 < n; t0 += kChunk) {
      const int64_t c = std::min(kChunk, n - t0);
      for (int64_t i = 0; i < c * row; ++i) k[i] = next(), v[i] = next();
      for (int64_t t = 0; t < c; ++t) pos[t] = (int32_t)((t0 + t) * n_depth / n);
      cache.append(l, c, k.data(), v.data(), pos.data());
    }
  }
}

}  // namespace

int64_t decode_weight_bytes(const Model& model) {
  int64_t bytes = 0;
  for (const auto& t : model.file().tensors())
    if (t.name != "token_embd.weight") bytes += (int64_t)t.n_bytes;
  const auto& out = model.weights().output;
  return bytes + (out.data == model.weights().token_embd.data ? out.n_rows * out.row_bytes : 0);
}

RowResult run_row(const Model& model, ThreadPool& pool, const RowSpec& spec) {
  const auto& c = model.config();
  RowResult result;
  result.kv_bytes_full = spec.n_depth * c.kv_bytes_per_token(spec.kv_types);
  std::mt19937_64 rng(spec.seed);
  auto random_ids = [&](int64_t n) {
    std::vector<int32_t> ids((size_t)n);
    for (auto& id : ids) id = (int32_t)(rng() % (uint64_t)c.n_vocab);
    return ids;
  };
  const auto depth_ids = random_ids(spec.n_depth), prompt_ids = random_ids(spec.n_prompt);
  const int32_t first_token = random_ids(1)[0];
  result.peak_rss_of_row = reset_peak_rss();
  const int n_contexts = spec.one_context ? 1 : spec.repetitions;
  const int tests_per_context = spec.one_context ? spec.repetitions : 1;
  for (int rep = 0; rep < n_contexts; ++rep) {
    KvCache cache = model.make_cache(spec.kv_types);
    auto press = make_press(spec.press, spec.ratio);
    double press_s = 0;
    std::vector<float> context_logits;
    const auto t_context = Clock::now();
    if (spec.synthetic) {
      if (spec.n_depth > 0) fill_synthetic(cache, spec.n_depth, press ? spec.ratio : 0.0, spec.seed + rep);
    } else if (spec.n_depth > 0) {
      PressPrefill with_press(press.get());
      press_s = prefill_context(model, cache, pool, depth_ids, with_press, {}, spec.prefill_chunk).press_ms / 1000.0;
    }
    result.context_s += seconds_since(t_context) / n_contexts;
    result.press_ms += press_s * 1000.0 / n_contexts;
    result.kv_bytes = cache.bytes();
    const auto snapshot = cache.lengths();

    for (int test = 0; test < tests_per_context; ++test) {
      cache.truncate(snapshot);
      std::vector<float> logits = context_logits;
      int32_t pos = (int32_t)spec.n_depth;
      const auto t_test = Clock::now();
      if (spec.n_prompt > 0) {
        std::vector<int32_t> positions(prompt_ids.size());
        std::iota(positions.begin(), positions.end(), pos);
        model.forward(prompt_ids, positions, cache, pool);
      }
      for (int64_t i = 0; i < spec.n_gen; ++i) {
        const int32_t tok[1] = {logits.empty() ? first_token : argmax(logits)}, p[1] = {pos++};
        logits = model.forward(tok, p, cache, pool);
      }
      result.samples_ns.push_back(seconds_since(t_test) * 1e9);
      result.kv_bytes_end = cache.bytes();
    }
  }
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

}  // namespace kvpress::cli::bench
