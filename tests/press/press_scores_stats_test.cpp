// expected_attention_with_stats (spec §2.22): the statistics `kvpress query-stats` writes
// (Engine::write_query_stats) against a re-derivation from the pre-RoPE queries (the snapshot's queries
// rotated back by their positions, press_reference_channels.cpp's RoPE), characters cut as Python's
// text[:max_chars]; the press selecting by the file's statistics as ExpectedAttention's formula with
// those moments (ref_expected_attention) at ratios 0.25, 0.5 and 0.9; and the file's validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/error.h"
#include "kvpress/engine.h"
#include "press/press_registry.h"
#include "press/query_stats_file.h"
#include "press_reference.h"
#include "press_reference_channels.h"
#include "press_test_util.h"
#include "tiny_model.h"

namespace kvpress::testing {
namespace {

constexpr double kRatios[] = {0.25, 0.5, 0.9};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kvpress_stats_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Pre-RoPE queries [H][d] of token t: the snapshot's post-RoPE rows rotated back by their position.
std::vector<std::vector<double>> pre_rope_queries(const LayerSnapshot& s, const ModelConfig& c, int64_t t) {
  std::vector<std::vector<double>> q((size_t)c.n_heads);
  for (int64_t h = 0; h < c.n_heads; ++h) {
    const float* row = &s.queries[(t * c.n_heads + h) * c.head_dim];
    q[h].assign(row, row + c.head_dim);
    ref_rotate(q[h], c, -(int64_t)s.positions[t]);
  }
  return q;
}

// Mean and covariance (divided by N - ddof) of the rows t >= n_sink of every snapshot, per layer and head,
// as a stats file.
QueryStatsFile moments_of(const std::vector<std::vector<LayerSnapshot>>& runs, const ModelConfig& c, int64_t n_sink,
                          double ddof) {
  QueryStatsFile f;
  f.n_layers = c.n_layers, f.n_heads = c.n_heads, f.head_dim = c.head_dim, f.n_sink = n_sink;
  const int64_t d = c.head_dim;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::vector<std::vector<std::vector<double>>> rows((size_t)c.n_heads);  // [h][t][d]
    for (const auto& run : runs)
      for (int64_t t = n_sink; t < run[l].n_tokens; ++t) {
        const auto q = pre_rope_queries(run[l], c, t);
        for (int64_t h = 0; h < c.n_heads; ++h) rows[h].push_back(q[h]);
      }
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const double N = (double)rows[h].size();
      f.n_queries = (int64_t)N;
      std::vector<double> mu((size_t)d, 0.0);
      for (const auto& q : rows[h])
        for (int64_t i = 0; i < d; ++i) mu[i] += q[i] / N;
      for (int64_t i = 0; i < d; ++i) f.mean.push_back((float)mu[i]);
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
          double v = 0;
          for (const auto& q : rows[h]) v += (q[i] - mu[i]) * (q[j] - mu[j]);
          f.cov.push_back((float)(v / (N - ddof)));
        }
    }
  }
  return f;
}

// Python's text[:n] on UTF-8: the first n code points.
std::string first_code_points(const std::string& text, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (((unsigned char)text[i] & 0xC0) != 0x80 && chars++ == n) return text.substr(0, i);
  return text;
}

TEST(QueryStats, MatchTheReferenceMoments) {
  TinyModelSpec spec;
  spec.arch = "qwen3";  // q_norm: statistics are of the queries after it
  spec.seed = 23;
  const std::string model_path = temp_path("model.gguf");
  write_tiny_model(spec, model_path);
  const Engine engine = Engine::load(model_path, {2});
  const auto model = Model::load(model_path);
  const auto& c = model->config();
  // "é" and "ü" are two bytes each: the cut counts characters, not bytes.
  const std::vector<std::string> texts = {"café über alles and so on, a text of some length for the queries",
                                          "zebra quick brown fox jumps over the lazy dog again and again",
                                          "a third text that is never used because samples is two"};
  QueryStatsOptions o;
  o.max_chars = 40;
  o.max_samples = 2;
  o.n_sink = 3;
  const std::string stats_path = temp_path("stats.bin");
  const QueryStatsSummary summary = engine.write_query_stats(texts, o, stats_path);
  EXPECT_EQ(summary.n_samples, 2);

  ThreadPool pool(2);
  std::vector<std::vector<LayerSnapshot>> runs;
  for (int k = 0; k < 2; ++k) {
    const std::vector<int32_t> ids = engine.tokenize(first_code_points(texts[k], 40), true, false);
    runs.push_back(prefill(*model, ids, nullptr, pool).snapshots);
  }
  const QueryStatsFile ref = moments_of(runs, c, 3, 1.0);  // kvpress: covariance over N - 1
  const QueryStatsFile got = read_query_stats_file(stats_path);
  EXPECT_EQ(got.n_queries, ref.n_queries);
  EXPECT_EQ(summary.n_queries, ref.n_queries);
  EXPECT_EQ(got.n_layers, c.n_layers);
  EXPECT_EQ(got.n_heads, c.n_heads);
  EXPECT_EQ(got.head_dim, c.head_dim);
  EXPECT_EQ(got.n_sink, 3);
  EXPECT_EQ(got.max_chars, 40);
  ASSERT_EQ(got.mean.size(), ref.mean.size());
  ASSERT_EQ(got.cov.size(), ref.cov.size());
  for (size_t i = 0; i < ref.mean.size(); ++i) ASSERT_NEAR(got.mean[i], ref.mean[i], 1e-4) << "mean " << i;
  for (size_t i = 0; i < ref.cov.size(); ++i) ASSERT_NEAR(got.cov[i], ref.cov[i], 1e-4) << "cov " << i;
  std::filesystem::remove(model_path);
  std::filesystem::remove(stats_path);
}

class StatsPress : public ::testing::TestWithParam<std::string> {};

// With a file holding the context's own (biased) moments, the press must select as ExpectedAttention's
// formula does with them: ref_expected_attention re-derives exactly that from the snapshot.
TEST_P(StatsPress, SelectsByTheFileStatistics) {
  TinyModelSpec spec;
  spec.arch = GetParam();
  spec.seed = 11;
  const auto model = make_tiny_model(spec);
  const auto& c = model->config();
  ThreadPool pool(2);
  const auto ids = tiny_token_ids(100, 5);
  const auto base = prefill(*model, ids, nullptr, pool);
  const std::string path = temp_path(GetParam() + "_context.bin");
  write_query_stats_file(path, moments_of({base.snapshots}, c, 4, 0.0));
  for (double r : kRatios) {
    SCOPED_TRACE("ratio " + std::to_string(r));
    auto press = make_press("expected_attention_with_stats:stats_file=" + path, r);
    const auto run = prefill(*model, ids, press.get(), pool);
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const RefScores ref = ref_expected_attention(run.snapshots[l], c, {});
      double scale = 0;
      for (const auto& row : ref)
        for (double v : row) scale = std::max(scale, std::fabs(v));
      for (int64_t h = 0; h < c.n_heads_kv; ++h)
        expect_top_selection(ref[h], kept_positions(run.cache, l, h), ref_kept_count(100, r), 1e-5 * scale,
                             "layer " + std::to_string(l) + " head " + std::to_string(h));
    }
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Archs, StatsPress, ::testing::Values("llama", "qwen2", "qwen3"));

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error (expected one mentioning '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(StatsFile, RejectsBadFilesWithClearErrors) {
  const auto model = make_tiny_model({});
  const auto& c = model->config();
  ThreadPool pool(2);
  QueryStatsFile good;
  good.n_layers = c.n_layers, good.n_heads = c.n_heads, good.head_dim = c.head_dim, good.n_queries = 10;
  good.mean.assign((size_t)(c.n_layers * c.n_heads * c.head_dim), 0.1f);
  good.cov.assign((size_t)(c.n_layers * c.n_heads * c.head_dim * c.head_dim), 0.0f);
  const std::string path = temp_path("bad.bin");
  write_query_stats_file(path, good);
  EXPECT_EQ(read_query_stats_file(path).mean, good.mean);
  const auto size = std::filesystem::file_size(path);

  expect_error([&] { read_query_stats_file(temp_path("missing.bin")); }, "cannot open");
  std::filesystem::resize_file(path, size - 3);
  expect_error([&] { read_query_stats_file(path); }, "expected");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "GGUF and more bytes";
  }
  expect_error([&] { read_query_stats_file(path); }, "not a query stats file");
  QueryStatsFile nan = good;
  nan.cov[5] = std::nanf("");
  write_query_stats_file(path, nan);
  expect_error([&] { read_query_stats_file(path); }, "not finite");
  // Another model's shape: the press says so when it compresses.
  QueryStatsFile other = good;
  other.n_heads = c.n_heads * 2;
  other.mean.resize(other.mean.size() * 2, 0.1f);
  other.cov.resize(other.cov.size() * 2, 0.0f);
  write_query_stats_file(path, other);
  auto press = make_press("expected_attention_with_stats:stats_file=" + path, 0.5);
  expect_error([&] { prefill(*model, tiny_token_ids(30, 1), press.get(), pool); }, "this model has");
  // No file given: the registry still lists and builds the press; compressing explains what is missing.
  auto no_file = make_press("expected_attention_with_stats", 0.5);
  expect_error([&] { prefill(*model, tiny_token_ids(30, 1), no_file.get(), pool); }, "stats_file=PATH");
  std::filesystem::remove(path);
}

TEST(StatsPress, NameRoundTripsWithThePath) {
  auto p = make_press("expected_attention_with_stats:stats_file=/data/stats-llama_3.1.bin,n_sink=2", 0.5);
  EXPECT_EQ(p->name(),
            "expected_attention_with_stats:stats_file=/data/stats-llama_3.1.bin,n_future_positions=512,n_sink=2,"
            "use_covariance=true,use_vnorm=true,epsilon=0");
  EXPECT_EQ(make_press(p->name(), 0.5)->name(), p->name());
}

}  // namespace
}  // namespace kvpress::testing
