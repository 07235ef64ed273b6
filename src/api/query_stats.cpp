// Engine::write_query_stats: kvpress's collect_queries (expected_attention_with_stats.py) over our
// forward pass. The pre-RoPE queries of each chunk are folded into shifted first and second moments
// per (layer, head) in double (shifted by each head's first query, so that the covariance does not
// cancel when the mean dominates); covariance divided by N - 1 as kvpress does.
#include <algorithm>
#include <numeric>

#include "api/engine_impl.h"
#include "cache/kv_cache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "kvpress/engine.h"
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

kernels::MatrixView f32_rows(const float* data, int64_t n_rows, int64_t n_cols) {
  kernels::MatrixView m;
  m.type = GgmlType::F32;
  m.data = reinterpret_cast<const uint8_t*>(data);
  m.n_rows = n_rows;
  m.n_cols = n_cols;
  m.row_bytes = n_cols * (int64_t)sizeof(float);
  return m;
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
  std::vector<float> shift((size_t)(L * H * d), 0.0f);
  std::vector<bool> shifted((size_t)L, false);
  std::vector<double> sum((size_t)(L * H * d), 0.0), m2((size_t)(L * H * d * d), 0.0);
  int64_t n_queries = 0;  // per layer (every layer sees the same tokens)
  std::vector<float> x, gram((size_t)(d * d));
  const ChunkObserver observe = [&](const LayerChunk& chunk) {
    const int64_t skip = std::max<int64_t>(0, options.n_sink - chunk.first), n = chunk.n - skip;
    if (n <= 0) return;
    const float* q = chunk.queries_pre_rope + skip * H * d;  // [n, H * d]
    const int64_t l = chunk.layer;
    if (!shifted[l]) {
      std::copy_n(q, H * d, &shift[l * H * d]);
      shifted[l] = true;
    }
    x.resize((size_t)(d * n));
    for (int64_t h = 0; h < H; ++h) {
      const float* s = &shift[(l * H + h) * d];
      double* acc = &sum[(l * H + h) * d];
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < d; ++i) {
          const float v = q[(t * H + h) * d + i] - s[i];
          x[i * n + t] = v;  // [d, n]: the Gram matrix X^T X as one matmul
          acc[i] += v;
        }
      kernels::matmul(f32_rows(x.data(), d, n), x.data(), d, n, gram.data(), d, chunk.pool);
      double* g = &m2[(l * H + h) * d * d];
      for (int64_t i = 0; i < d * d; ++i) g[i] += gram[i];
    }
    if (l == 0) n_queries += n;
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
  const double N = (double)n_queries;
  for (int64_t lh = 0; lh < L * H; ++lh) {
    const double* s = &sum[lh * d];
    const double* g = &m2[lh * d * d];
    for (int64_t i = 0; i < d; ++i) out.mean[lh * d + i] = (float)(shift[lh * d + i] + s[i] / N);
    // sum_t (x_t - mean)(x_t - mean)^T = sum_t x'_t x'_t^T - N mean' mean'^T (x' shifted), over N - 1.
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        out.cov[(lh * d + i) * d + j] = (float)((g[i * d + j] - s[i] * s[j] / N) / (N - 1.0));
  }
  write_query_stats_file(out_path, out);
  summary.n_queries = n_queries;
  return summary;
}

}  // namespace kvpress
