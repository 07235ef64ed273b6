// Engine::write_query_stats: kvpress's collect_queries (expected_attention_with_stats.py) over our
// forward pass. The pre-RoPE queries of each chunk are folded into ExpectedAttention's accumulator
// (press/query_stats.h: shifted moments in double); the covariance divided by N - 1 as kvpress does.
#include <algorithm>
#include <numeric>

#include "api/engine_impl.h"
#include "cache/kv_cache.h"
#include "core/error.h"
#include "kvpress/engine.h"
#include "press/query_stats.h"
#include "press/query_stats_file.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

// The first max_chars code points of UTF-8 text (Python's text[:max_chars]).
std::string first_chars(const std::string& text, int64_t max_chars) {
  int64_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if (((unsigned char)text[i] & 0xC0) != 0x80 && chars++ == max_chars) return text.substr(0, i);
  return text;
}

}  // namespace

QueryStatsSummary Engine::write_query_stats(const std::vector<std::string>& texts, const QueryStatsOptions& options,
                                            const std::string& out_path) const {
  if (options.max_chars <= 0) fail("query stats: max_chars must be positive, got ", options.max_chars);
  if (options.max_samples <= 0) fail("query stats: the number of samples must be positive, got ", options.max_samples);
  if (options.n_sink < 0) fail("query stats: n_sink must be >= 0, got ", options.n_sink);
  if (texts.empty()) fail("query stats: no texts given");
  const Model& model = *impl_->model;
  const auto& c = model.config();
  const int64_t L = c.n_layers, H = c.n_heads, d = c.head_dim;
  // ExpectedAttention's accumulator (shifted moments in double), one per layer, over every text.
  std::vector<QueryStats> stats((size_t)L);
  for (int64_t l = 0; l < L; ++l) stats[l].start(l, c, true);
  const ChunkObserver observe = [&](const LayerChunk& chunk) {
    const int64_t skip = std::max<int64_t>(0, options.n_sink - chunk.first), n = chunk.n - skip;
    if (n > 0) stats[chunk.layer].add(chunk.queries_pre_rope + skip * H * d, n, chunk.pool);  // [n, H * d]
  };

  QueryStatsSummary summary;
  const int64_t n_texts = std::min<int64_t>((int64_t)texts.size(), options.max_samples);
  for (int64_t k = 0; k < n_texts; ++k) {
    const std::vector<int32_t> ids = model.tokenizer().encode(first_chars(texts[k], options.max_chars), true, false);
    ++summary.n_samples;
    if ((int64_t)ids.size() <= options.n_sink) continue;  // nothing after the sinks (kvpress: an empty slice)
    std::vector<int32_t> positions(ids.size());
    std::iota(positions.begin(), positions.end(), 0);
    KvCache cache = model.make_cache();
    ForwardOptions fwd;
    fwd.logits = LogitsMode::None;
    fwd.chunk_observer = &observe;
    fwd.needs = {0, false};
    impl_->with_compute([&] { model.forward(ids, positions, cache, impl_->pool, fwd); });
  }
  const int64_t n_queries = stats[0].count;  // every layer sees the same tokens
  if (n_queries < 2)
    fail("query stats: ", n_queries, " query rows after leaving out n_sink=", options.n_sink,
         " tokens of each text; the covariance needs at least 2 (give longer or more texts)");

  QueryStatsFile out;
  out.n_layers = L;
  out.n_heads = H;
  out.head_dim = d;
  out.n_sink = options.n_sink;
  out.n_samples = summary.n_samples;
  out.max_chars = options.max_chars;
  out.n_queries = n_queries;
  out.model_name = impl_->info.name;
  out.mean.resize((size_t)(L * H * d));
  out.cov.resize((size_t)(L * H * d * d));
  // kvpress divides the covariance by N - 1; the accumulator's is biased (1/N).
  const double unbias = (double)n_queries / (double)(n_queries - 1);
  std::vector<double> mu((size_t)d), sigma((size_t)(d * d));
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h) {
      stats[l].moments(h, mu.data(), sigma.data());
      const int64_t lh = l * H + h;
      for (int64_t i = 0; i < d; ++i) out.mean[lh * d + i] = (float)mu[i];
      for (int64_t i = 0; i < d * d; ++i) out.cov[lh * d * d + i] = (float)(sigma[i] * unbias);
    }
  write_query_stats_file(out_path, out);
  summary.n_queries = n_queries;
  return summary;
}

}  // namespace kvpress
