// matmul throughput per weight type on a Qwen2.5-0.5B FFN-down sized matrix (896 x 4864): decode (1
// token, GB/s of weight bytes) and prefill (64 tokens, GFLOP/s), 1 and 2 threads, on the exact path (f32
// activations) and the int8 path (decode_int8, prefill64_int8: activations rounded to int8 blocks,
// integer dots / tiles) where the type has one. "decode_cold" cycles through enough copies of the
// matrix to defeat the caches, which is what a real model's decode sees; "decode" re-reads one
// cache-resident matrix (the kernel's compute ceiling). "dot" is one row's kernel call alone.
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

kernels::MatrixView view_of(GgmlType type, const uint8_t* data, bool int8 = false) {
  kernels::MatrixView m{type, data, kRows, kCols, row_bytes(type, kCols)};
  m.int8_activations = int8;
  return m;
}

void bench_decode(benchmark::State& state, GgmlType type, bool cold, bool int8) {
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
    kernels::matmul(view_of(type, copies.data() + c * bytes, int8), x.data(), 1, kCols, y.data(), kRows, pool);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % n_copies;
  }
  state.counters["GB/s"] = benchmark::Counter((double)bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// One row: dot_row (exact) or quantize + dot_row_q8 amortised over the row count of a matrix.
void bench_dot(benchmark::State& state, GgmlType type, bool int8) {
  const auto m = make_matrix(type);
  const auto x = make_activations(kCols);
  const auto& ks = kernels::active_kernels();
  std::vector<int8_t> qs(kCols);
  std::vector<float> d(kCols / kernels::kQ8Block), ds16(kCols / 16);
  ks.quantize_activations(x.data(), kCols, qs.data(), d.data(), ds16.data());
  const kernels::Q8Activations q8{qs.data(), d.data(), ds16.data()};
  const int64_t rb = row_bytes(type, kCols);
  int64_t r = 0;
  for (auto _ : state) {
    const uint8_t* row = m.data() + r * rb;
    benchmark::DoNotOptimize(int8 ? ks.dot_row_q8(type, row, q8, kCols) : ks.dot_row(type, row, x.data(), kCols));
    r = (r + 1) % kRows;
  }
  state.counters["GB/s"] = benchmark::Counter((double)rb / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kCols / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_prefill(benchmark::State& state, GgmlType type, bool int8) {
  const auto m = make_matrix(type);
  const auto x = make_activations(kCols * kPrefillTokens);
  std::vector<float> y(kRows * kPrefillTokens);
  ThreadPool pool((int)state.range(0));
  for (auto _ : state) {
    kernels::matmul(view_of(type, m.data(), int8), x.data(), kPrefillTokens, kCols, y.data(), kRows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kRows * kCols * kPrefillTokens / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter((double)m.size() / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  for (GgmlType type : kTypes) {
    const std::string name(ggml_type_name(type));
    for (const bool int8 : {false, true}) {
      if (int8 && !kernels::has_int8_dot(type)) continue;
      const std::string path = int8 ? "_int8/" : "/";
      benchmark::RegisterBenchmark(("dot" + path + name).c_str(), bench_dot, type, int8)->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("decode" + path + name).c_str(), bench_decode, type, false, int8)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("decode_cold" + path + name).c_str(), bench_decode, type, true, int8)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    for (const bool int8 : {false, true}) {
      if (int8 && !kernels::has_int8_gemm(type)) continue;
      benchmark::RegisterBenchmark(((int8 ? "prefill64_int8/" : "prefill64/") + name).c_str(), bench_prefill, type, int8)
          ->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    }
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
