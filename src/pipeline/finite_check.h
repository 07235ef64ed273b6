// Non-finite logits (NaN/Inf weights, overflowing activations): a cheap check of every step's logits
// and, only once it fails, a diagnosis naming the first bad weight tensor or cache layer.
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace kvpress {

class KvCache;
class Model;

namespace gguf {
class GgufFile;
}

// Throws Error when any logit is NaN or Inf; the message names the first tensor (in layer order) holding
// a non-finite value, else the first layer whose cached keys/values do, else says both are finite.
void check_finite_logits(const Model& model, const KvCache& cache, std::span<const float> logits);

// "blk.1.ffn_up.weight (row 3)", or "" when every tensor is finite. Scans the file: slow, diagnosis only.
std::string first_non_finite_tensor(const gguf::GgufFile& file);
// The first layer whose cached keys or values hold a non-finite value, or -1.
int64_t first_non_finite_cache_layer(const KvCache& cache);

}  // namespace kvpress
