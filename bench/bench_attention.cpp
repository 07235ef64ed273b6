// Decode attention over a long KV cache per storage type: one token of a Qwen2.5-0.5B-shaped layer
// (14 query heads, 2 KV heads, head_dim 64) attending over L cached entries, reported as GB/s of
// K/V bytes read. Enough layers are cycled to defeat the caches (a real decode reads every layer's
// cache once per token), so the figure compares with the machine's memory bandwidth. A "stream"
// benchmark measures that bandwidth (a STREAM-like read of 256 MB); decode_attention_hot re-reads one
// cache-resident layer (the compute bound).
// Run: bench_attention [--benchmark_filter=f16] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cache/kv_cache.h"
#include "kernels/kernels.h"
#include "model/attention.h"
#include "runtime/read_bandwidth.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

constexpr int64_t kHeads = 14, kHeadsKv = 2, kHeadDim = 64;
constexpr int64_t kColdBytes = int64_t{192} << 20;

void bench_decode(benchmark::State& state, KvType type, bool cold) {
  const int64_t n = state.range(0);
  const KvTypes types{type, type};
  const int64_t layer_bytes = n * kHeadsKv * kv_entry_bytes(types, kHeadDim);
  const int64_t n_layers = cold ? std::max<int64_t>(1, (kColdBytes + layer_bytes - 1) / layer_bytes) : 1;
  KvCache cache(n_layers, kHeadsKv, kHeadDim, types);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> k((size_t)(n * kHeadsKv * kHeadDim)), v(k.size());
  std::vector<int32_t> pos((size_t)n);
  std::iota(pos.begin(), pos.end(), 0);
  for (int64_t l = 0; l < n_layers; ++l) {
    for (auto& x : k) x = dist(rng);
    for (auto& x : v) x = dist(rng);
    cache.append(l, n, k.data(), v.data(), pos.data());
  }
  std::vector<float> q((size_t)(kHeads * kHeadDim)), out(q.size());
  for (auto& x : q) x = dist(rng);
  const int32_t q_pos = (int32_t)n;
  ThreadPool pool((int)state.range(1));
  const AttentionShape shape{kHeads, kHeadsKv, kHeadDim};
  int64_t l = 0;
  for (auto _ : state) {
    attention(q.data(), &q_pos, 1, cache, l, shape, out.data(), pool);
    benchmark::DoNotOptimize(out.data());
    l = (l + 1) % n_layers;
  }
  state.counters["GB/s"] = benchmark::Counter((double)layer_bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Prefill attention: a chunk of 256 query tokens at the end of an L-token context (the work of one
// chunk of a long prefill), as GFLOP/s of the score and value products (4 * rows * keys * head_dim).
void bench_prefill(benchmark::State& state, KvType type) {
  const int64_t n = state.range(0), chunk = 256;
  KvCache cache(1, kHeadsKv, kHeadDim, {type, type});
  std::mt19937 rng(4);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> k((size_t)(n * kHeadsKv * kHeadDim)), v(k.size());
  for (auto& x : k) x = dist(rng);
  for (auto& x : v) x = dist(rng);
  std::vector<int32_t> pos((size_t)n);
  std::iota(pos.begin(), pos.end(), 0);
  cache.append(0, n, k.data(), v.data(), pos.data());
  std::vector<float> q((size_t)(chunk * kHeads * kHeadDim)), out(q.size());
  for (auto& x : q) x = dist(rng);
  std::vector<int32_t> q_pos(pos.end() - chunk, pos.end());
  ThreadPool pool((int)state.range(1));
  const AttentionShape shape{kHeads, kHeadsKv, kHeadDim};
  for (auto _ : state) {
    attention(q.data(), q_pos.data(), chunk, cache, 0, shape, out.data(), pool);
    benchmark::DoNotOptimize(out.data());
  }
  const double visible = (double)chunk * (double)(n - chunk) + (double)chunk * (chunk + 1) / 2;  // causal
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * visible * kHeads * kHeadDim / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Memory read bandwidth: the probe `kvpress bench` uses (src/runtime/read_bandwidth).
void bench_stream(benchmark::State& state) {
  ThreadPool pool((int)state.range(0));
  double best = 0;
  for (auto _ : state) best = std::max(best, measure_read_bandwidth(pool));
  state.counters["GB/s"] = best / 1e9;
}

void register_all() {
  for (KvType type : {KvType::F32, KvType::F16, KvType::BF16, KvType::Q8_0, KvType::Q4_0})
    for (bool cold : {true, false})
      benchmark::RegisterBenchmark(
          ((cold ? "decode_attention/" : "decode_attention_hot/") + std::string(kv_type_name(type))).c_str(),
          bench_decode, type, cold)
          ->ArgsProduct({{1024, 4096, 16384, 65536}, {1, 2}})
          ->ArgNames({"ctx", "threads"})
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  for (KvType type : {KvType::F32, KvType::F16, KvType::Q8_0})
    benchmark::RegisterBenchmark(("prefill_attention/" + std::string(kv_type_name(type))).c_str(), bench_prefill, type)
        ->ArgsProduct({{4096, 16384}, {1, 2}})
        ->ArgNames({"ctx", "threads"})
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("stream_read", bench_stream)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace kvpress

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("kernel_set", kvpress::kernels::active_kernels().name);
  kvpress::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
