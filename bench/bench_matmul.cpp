// matmul throughput per weight type on a Qwen2.5-0.5B FFN-down sized matrix (896 x 4864):
// decode (1 token, reported as GB/s of weight bytes) and prefill (64 tokens, GFLOP/s), 1 and 2
// threads. "decode_cold" cycles through enough copies of the matrix to defeat the caches, which is
// what a real model's decode sees; "decode" re-reads one cache-resident matrix.
// Run: bench_matmul [--benchmark_filter=Q4_K] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/kernels.h"
#include "runtime/cpu_features.h"
#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

constexpr int64_t kRows = 896;
constexpr int64_t kCols = 4864;
constexpr int64_t kPrefillTokens = 64;
constexpr int64_t kColdBytes = int64_t{192} << 20;  // well above any L3 of the machines we run on

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K,
                           GgmlType::Q5_K, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q3_K, GgmlType::Q2_K};

// One random matrix of `type`, encoded by the reference quantizer.
std::vector<uint8_t> make_matrix(GgmlType type) {
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(kCols);
  const int64_t rb = row_bytes(type, kCols);
  std::vector<uint8_t> m((size_t)(rb * kRows));
  for (int64_t r = 0; r < kRows; ++r) {
    for (auto& v : row) v = dist(rng);
    kernels::quantize_row(type, row.data(), m.data() + r * rb, kCols);
  }
  return m;
}

std::vector<float> make_activations(int64_t n) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x((size_t)n);
  for (auto& v : x) v = dist(rng);
  return x;
}

kernels::MatrixView view_of(GgmlType type, const uint8_t* data) {
  return {type, data, kRows, kCols, row_bytes(type, kCols)};
}

void bench_decode(benchmark::State& state, GgmlType type, bool cold) {
  const auto one = make_matrix(type);
  const int64_t bytes = (int64_t)one.size();
  const int64_t n_copies = cold ? (kColdBytes + bytes - 1) / bytes : 1;
  std::vector<uint8_t> copies((size_t)(bytes * n_copies));
  for (int64_t c = 0; c < n_copies; ++c) std::memcpy(copies.data() + c * bytes, one.data(), (size_t)bytes);
  const auto x = make_activations(kCols);
  std::vector<float> y(kRows);
  ThreadPool pool((int)state.range(0));
  int64_t c = 0;
  for (auto _ : state) {
    kernels::matmul(view_of(type, copies.data() + c * bytes), x.data(), 1, kCols, y.data(), kRows, pool);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % n_copies;
  }
  state.counters["GB/s"] = benchmark::Counter((double)bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_prefill(benchmark::State& state, GgmlType type) {
  const auto m = make_matrix(type);
  const auto x = make_activations(kCols * kPrefillTokens);
  std::vector<float> y(kRows * kPrefillTokens);
  ThreadPool pool((int)state.range(0));
  for (auto _ : state) {
    kernels::matmul(view_of(type, m.data()), x.data(), kPrefillTokens, kCols, y.data(), kRows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kRows * kCols * kPrefillTokens / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter((double)m.size() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (GgmlType type : kTypes) {
    const std::string name(ggml_type_name(type));
    benchmark::RegisterBenchmark(("decode/" + name).c_str(), bench_decode, type, false)
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("decode_cold/" + name).c_str(), bench_decode, type, true)
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("prefill64/" + name).c_str(), bench_prefill, type)
        ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace kvpress

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("kernel_set", kvpress::kernels::active_kernels().name);
  benchmark::AddCustomContext("matrix", std::to_string(kvpress::kRows) + "x" + std::to_string(kvpress::kCols));
  kvpress::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
