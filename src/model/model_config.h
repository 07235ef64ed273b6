// Hyper-parameters of a Llama-family model, read from GGUF metadata.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvpress/kv_type.h"

namespace kvpress::gguf {
class GgufFile;
}

namespace kvpress {

enum class RopeStyle {
  Adjacent,  // llama: rotates pairs (2i, 2i+1)
  Halves,    // qwen2/qwen3 (NeoX/HF style): rotates pairs (i, i + d/2)
};

struct ModelConfig {
  std::string arch;  // "llama", "qwen2", "qwen3"
  std::string name;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;
  int64_t head_dim = 0;      // key/value length per head
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  int64_t n_rot = 0;         // rotated dimensions per head (== head_dim for supported models)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_scale = 1.0f;   // linear position scaling (rope.scale_linear / scaling.factor for type linear)
  RopeStyle rope_style = RopeStyle::Adjacent;
  bool qkv_bias = false;     // qwen2
  bool qk_norm = false;      // qwen3

  int64_t group_size() const { return n_heads / n_heads_kv; }  // query heads per KV head
  // Bytes of one cached token over every layer and KV head, stored in `types`.
  int64_t kv_bytes_per_token(const KvTypes& types = {}) const {
    return kv_entry_bytes(types, head_dim) * n_heads_kv * n_layers;
  }

  static ModelConfig from_gguf(const gguf::GgufFile& file);  // throws Error naming the file and key
};

// Architectures kvpress runs (general.architecture values).
const std::vector<std::string>& supported_architectures();

}  // namespace kvpress
