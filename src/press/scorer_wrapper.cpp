// Taking a wrapper's inner scorer, and scratch passes over pieces of a layer (chunk, block).
#include "press/scorer_wrapper.h"

#include <algorithm>

#include "core/error.h"
#include "press/press_args.h"
#include "press/press_registry.h"

namespace kvpress {

std::unique_ptr<ScorerPress> take_scorer(PressArgs& args, const char* default_spec) {
  auto inner = args.take_inner(default_spec ? 0 : 1, 1);
  if (args.describing()) return nullptr;
  if (inner.empty()) inner.push_back(make_press(default_spec, 0.0));
  auto* scorer = dynamic_cast<ScorerPress*>(inner.front().get());
  if (!scorer)
    fail("press '", args.press_name(), "' needs a scorer press inside (e.g. ", args.press_name(), "(snapkv)); '",
         inner.front()->name(), "' is not one");
  inner.front().release();
  return std::unique_ptr<ScorerPress>(scorer);
}

SubPass::SubPass(const LayerPrefill& layer, const std::vector<std::vector<int64_t>>& entries, const float* hidden,
                 int64_t query_first, ScorerPress& scorer)
    : cache_(layer.cache.n_layers(), layer.cache.n_heads_kv(), layer.cache.head_dim(), layer.cache.types()),
      prefill_{layer.model, layer.layer, 0, 0, nullptr, nullptr, 0, nullptr, cache_, layer.pool} {
  const int64_t Hkv = layer.cache.n_heads_kv();
  KV_CHECK((int64_t)entries.size() == Hkv);
  const int64_t n = (int64_t)entries[0].size();
  std::vector<uint8_t> keys, values;
  std::vector<int32_t> positions;
  for (int64_t h = 0; h < Hkv; ++h) {
    KV_CHECK((int64_t)entries[h].size() == n);
    const KvRows k = layer.cache.keys(layer.layer, h), v = layer.cache.values(layer.layer, h);
    if (k.pruned())  // the piece copies encoded rows at head_dim
      fail("press '", scorer.name(), "' cannot score pieces of a layer whose key channels were pruned ",
           "(think before chunk or block); apply think after it");
    keys.resize((size_t)(n * k.row_bytes));
    values.resize((size_t)(n * v.row_bytes));
    positions.resize((size_t)n);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t e = entries[h][j];
      KV_CHECK(e >= 0 && e < k.n_rows);
      std::copy_n(k.row(e), k.row_bytes, keys.data() + j * k.row_bytes);
      std::copy_n(v.row(e), v.row_bytes, values.data() + j * v.row_bytes);
      positions[j] = layer.cache.positions(layer.layer, h)[e];
    }
    cache_.assign_encoded(layer.layer, h, n, keys.data(), values.data(),
                          reinterpret_cast<const uint8_t*>(positions.data()));
    if (h == 0) positions_ = positions;  // query positions of the piece's tokens
  }
  prefill_.n_tokens = n;
  prefill_.positions = positions_.data();
  prefill_.hidden_normed = hidden;
  if (query_first >= 0) {
    // The layer kept the queries of its last n_query_rows tokens; the piece gets those that are its own.
    const int64_t first_kept = layer.n_tokens - layer.n_query_rows;
    const int64_t rows = std::clamp<int64_t>(query_first + n - first_kept, 0, n);
    prefill_.n_query_rows = rows;
    if (rows > 0) prefill_.queries = layer.query(query_first + n - rows);
  }
  if (hidden && n > 0) {
    const auto& c = layer.model.config();
    pre_rope_.resize((size_t)(n * c.n_heads * c.head_dim));
    layer.model.project_queries(layer.layer, hidden, n, pre_rope_.data(), layer.pool);
    scorer.observe(LayerChunk{layer.model, layer.layer, n, 0, n, pre_rope_.data(), positions_.data(), layer.pool});
  }
}

}  // namespace kvpress
