// The logits check runs on every forward pass, so it is one linear scan; the diagnosis decodes the whole
// file and cache and runs only after a failure.
#include "pipeline/finite_check.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "cache/kv_cache.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/kernels.h"
#include "model/model.h"

namespace kvpress {
namespace {

bool all_finite(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Forward order: the embedding, then blk.0, blk.1, ..., then the output tensors.
int layer_rank(const std::string& name) {
  if (name.starts_with("token_embd")) return -1;
  if (!name.starts_with("blk.")) return INT_MAX;
  return std::atoi(name.c_str() + 4);
}

bool rows_finite(const KvRows& rows, std::vector<float>& scratch) {
  scratch.resize((size_t)rows.head_dim());
  for (int64_t j = 0; j < rows.n_rows; ++j)
    if (!all_finite({rows.row_f32(j, scratch.data()), (size_t)rows.head_dim()})) return false;
  return true;
}

}  // namespace

std::string first_non_finite_tensor(const gguf::GgufFile& file) {
  std::vector<const gguf::TensorInfo*> order;
  for (const auto& t : file.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(),
                   [](auto* a, auto* b) { return layer_rank(a->name) < layer_rank(b->name); });
  std::vector<float> row;
  for (const gguf::TensorInfo* t : order) {
    const int64_t n_rows = t->rows(), n_cols = t->ne[0];
    const uint64_t row_bytes = t->n_bytes / (uint64_t)n_rows;
    row.resize((size_t)n_cols);
    for (int64_t r = 0; r < n_rows; ++r) {
      kernels::dequantize_row(t->type, t->data + r * row_bytes, row.data(), n_cols);
      if (!all_finite(row)) return t->name + " (row " + std::to_string(r) + ")";
    }
  }
  return "";
}

int64_t first_non_finite_cache_layer(const KvCache& cache) {
  std::vector<float> scratch;
  for (int64_t l = 0; l < cache.n_layers(); ++l)
    for (int64_t h = 0; h < cache.n_heads_kv(); ++h)
      if (!rows_finite(cache.keys(l, h), scratch) || !rows_finite(cache.values(l, h), scratch)) return l;
  return -1;
}

void check_finite_logits(const Model& model, const KvCache& cache, std::span<const float> logits) {
  if (all_finite(logits)) return;
  const std::string what = model.file().path() + ": the model computed non-finite logits (NaN or Inf); ";
  const std::string tensor = first_non_finite_tensor(model.file());
  if (!tensor.empty()) fail(what, "the first weight tensor holding a non-finite value is ", tensor);
  const int64_t layer = first_non_finite_cache_layer(cache);
  if (layer >= 0)
    fail(what, "the weights are finite, but layer ", layer,
         " is the first whose keys/values are not (activations overflow; try --kv-type f32)");
  fail(what, "the weights and the KV cache are finite, so the output norm or projection overflowed");
}

}  // namespace kvpress
