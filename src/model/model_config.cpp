// Reads and validates model hyper-parameters from `<arch>.*` GGUF keys.
#include "model/model_config.h"

#include <algorithm>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace kvpress {

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> archs = {"llama", "qwen2", "qwen3"};
  return archs;
}

ModelConfig ModelConfig::from_gguf(const gguf::GgufFile& file) {
  ModelConfig c;
  c.arch = file.get_string("general.architecture");
  const auto& archs = supported_architectures();
  if (std::find(archs.begin(), archs.end(), c.arch) == archs.end())
    fail(file.path(), ": unsupported architecture '", c.arch, "' (supported: llama, qwen2, qwen3)");
  const std::string a = c.arch + ".";
  c.name = file.get_string_or("general.name", "");
  c.n_embd = (int64_t)file.get_uint(a + "embedding_length");
  c.n_layers = (int64_t)file.get_uint(a + "block_count");
  c.n_heads = (int64_t)file.get_uint(a + "attention.head_count");
  c.n_heads_kv = (int64_t)file.get_uint_or(a + "attention.head_count_kv", (uint64_t)c.n_heads);
  c.n_ff = (int64_t)file.get_uint(a + "feed_forward_length");
  c.n_ctx_train = (int64_t)file.get_uint_or(a + "context_length", 4096);
  c.rms_eps = (float)file.get_float(a + "attention.layer_norm_rms_epsilon");
  c.rope_base = (float)file.get_float_or(a + "rope.freq_base", 10000.0);
  if (c.n_heads > 0) c.head_dim = (int64_t)file.get_uint_or(a + "attention.key_length", (uint64_t)(c.n_embd / c.n_heads));
  const int64_t value_length = (int64_t)file.get_uint_or(a + "attention.value_length", (uint64_t)c.head_dim);
  c.n_rot = (int64_t)file.get_uint_or(a + "rope.dimension_count", (uint64_t)c.head_dim);
  const std::string scaling = file.get_string_or(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = file.get_float_or(a + "rope.scaling.factor", 1.0);
    if (factor > 0) c.rope_scale = (float)(1.0 / factor);
  } else if (file.has(a + "rope.scale_linear")) {
    const double factor = file.get_float(a + "rope.scale_linear");
    if (factor > 0) c.rope_scale = (float)(1.0 / factor);
  } else if (scaling != "none" && scaling != "llama3") {
    fail(file.path(), ": unsupported rope scaling type '", scaling, "'");
  }
  c.rope_style = c.arch == "llama" ? RopeStyle::Adjacent : RopeStyle::Halves;
  c.qkv_bias = c.arch == "qwen2";
  c.qk_norm = c.arch == "qwen3";

  auto require = [&](bool ok, const std::string& what) {
    if (!ok) fail(file.path(), ": invalid model hyper-parameters: ", what);
  };
  require(c.n_embd > 0 && c.n_embd <= (1 << 16), "embedding_length must be in [1, 65536]");
  require(c.n_layers > 0 && c.n_layers <= 1024, "block_count must be in [1, 1024]");
  require(c.n_heads > 0 && c.n_heads <= 1024, "attention.head_count must be in [1, 1024]");
  require(c.n_heads_kv > 0 && c.n_heads % c.n_heads_kv == 0, "head_count must be a multiple of head_count_kv");
  require(c.head_dim > 0 && c.head_dim % 2 == 0 && c.head_dim <= 1024, "head dimension must be even, in [2, 1024]");
  require(value_length == c.head_dim, "attention.value_length must equal key_length");
  require(c.n_rot == c.head_dim, "partial rotary embeddings (rope.dimension_count != head dim) are not supported");
  require(c.n_ff > 0 && c.n_ff <= (1 << 20), "feed_forward_length must be in [1, 2^20]");
  require(c.rms_eps > 0 && c.rms_eps < 1, "layer_norm_rms_epsilon must be in (0, 1)");
  require(c.rope_base > 0, "rope.freq_base must be positive");
  return c;
}

}  // namespace kvpress
