// Llama-family GGUF writer: metadata keys and tensor names in the order llama.cpp's converters use.
#include "model/model_writer.h"

#include "core/error.h"
#include "kernels/kernels.h"

namespace kvpress {
namespace {

void add_metadata(gguf::GgufWriter& w, const ModelFileShape& s, const SpmVocabulary& v) {
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", s.name.empty() ? s.arch : s.name);
  w.set_uint32(a + "context_length", s.context_length);
  w.set_uint32(a + "embedding_length", (uint32_t)s.n_embd);
  w.set_uint32(a + "block_count", (uint32_t)s.n_layers);
  w.set_uint32(a + "feed_forward_length", (uint32_t)s.n_ff);
  w.set_uint32(a + "attention.head_count", (uint32_t)s.n_heads);
  w.set_uint32(a + "attention.head_count_kv", (uint32_t)s.n_heads_kv);
  w.set_uint32(a + "attention.key_length", (uint32_t)s.head_dim);
  w.set_uint32(a + "attention.value_length", (uint32_t)s.head_dim);
  w.set_uint32(a + "rope.dimension_count", (uint32_t)s.head_dim);
  w.set_float32(a + "rope.freq_base", s.rope_base);
  w.set_float32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  w.set_float32_array("tokenizer.ggml.scores", v.scores);
  w.set_int32_array("tokenizer.ggml.token_type", v.types);
  w.set_uint32("tokenizer.ggml.bos_token_id", (uint32_t)v.bos_id);
  w.set_uint32("tokenizer.ggml.eos_token_id", (uint32_t)v.eos_id);
  w.set_uint32("tokenizer.ggml.unknown_token_id", (uint32_t)v.unk_id);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  if (!s.chat_template.empty()) w.set_string("tokenizer.chat_template", s.chat_template);
  if (s.file_type >= 0) {
    w.set_uint32("general.file_type", (uint32_t)s.file_type);
    w.set_uint32("general.quantization_version", 2);
  }
}

}  // namespace

void build_model_file(gguf::GgufWriter& w, const ModelFileShape& s, const SpmVocabulary& v, const TensorFiller& fill) {
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") fail("model writer: unknown arch '", s.arch, "'");
  if (s.n_heads <= 0 || s.n_heads_kv <= 0 || s.n_heads % s.n_heads_kv != 0 || s.head_dim <= 0 || s.head_dim % 2 != 0)
    fail("model writer: bad head layout (", s.n_heads, " heads, ", s.n_heads_kv, " KV heads, head_dim ", s.head_dim, ")");
  if (v.tokens.empty() || v.scores.size() != v.tokens.size() || v.types.size() != v.tokens.size())
    fail("model writer: vocabulary arrays disagree (", v.tokens.size(), " tokens, ", v.scores.size(), " scores, ",
         v.types.size(), " types)");
  if (!s.rope_freq_factors.empty() && (int64_t)s.rope_freq_factors.size() != s.head_dim / 2)
    fail("model writer: ", s.rope_freq_factors.size(), " rope frequency factors for head_dim ", s.head_dim,
         " (expected ", s.head_dim / 2, ")");
  add_metadata(w, s, v);
  const int64_t n_vocab = (int64_t)v.tokens.size();
  const int64_t q_dim = s.n_heads * s.head_dim, kv_dim = s.n_heads_kv * s.head_dim;
  fill(w, "token_embd.weight", {s.n_embd, n_vocab}, TensorRole::Embedding);
  fill(w, "output_norm.weight", {s.n_embd}, TensorRole::Norm);
  if (!s.tied_output) fill(w, "output.weight", {s.n_embd, n_vocab}, TensorRole::Output);
  if (!s.rope_freq_factors.empty())
    w.add_tensor_f32("rope_freqs.weight", {(int64_t)s.rope_freq_factors.size()}, s.rope_freq_factors);
  for (int64_t l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    fill(w, p + "attn_norm.weight", {s.n_embd}, TensorRole::Norm);
    fill(w, p + "attn_q.weight", {s.n_embd, q_dim}, TensorRole::Matrix);
    fill(w, p + "attn_k.weight", {s.n_embd, kv_dim}, TensorRole::Matrix);
    fill(w, p + "attn_v.weight", {s.n_embd, kv_dim}, TensorRole::Matrix);
    if (s.arch == "qwen2") {
      fill(w, p + "attn_q.bias", {q_dim}, TensorRole::Bias);
      fill(w, p + "attn_k.bias", {kv_dim}, TensorRole::Bias);
      fill(w, p + "attn_v.bias", {kv_dim}, TensorRole::Bias);
    }
    if (s.arch == "qwen3") {
      fill(w, p + "attn_q_norm.weight", {s.head_dim}, TensorRole::Norm);
      fill(w, p + "attn_k_norm.weight", {s.head_dim}, TensorRole::Norm);
    }
    fill(w, p + "attn_output.weight", {q_dim, s.n_embd}, TensorRole::Matrix);
    fill(w, p + "ffn_norm.weight", {s.n_embd}, TensorRole::Norm);
    fill(w, p + "ffn_gate.weight", {s.n_embd, s.n_ff}, TensorRole::Matrix);
    fill(w, p + "ffn_up.weight", {s.n_embd, s.n_ff}, TensorRole::Matrix);
    fill(w, p + "ffn_down.weight", {s.n_ff, s.n_embd}, TensorRole::Matrix);
  }
}

void write_model_file(const ModelFileShape& s, const SpmVocabulary& v, const TensorFiller& fill, const std::string& path) {
  gguf::GgufWriter w;
  build_model_file(w, s, v, fill);
  w.write(path);
}

std::vector<uint8_t> encode_rows(GgmlType type, const std::vector<float>& values, int64_t n_cols) {
  if (n_cols <= 0 || (int64_t)values.size() % n_cols != 0) fail("encode_rows: ", values.size(), " values are not rows of ", n_cols);
  const int64_t n_rows = (int64_t)values.size() / n_cols;
  const int64_t rb = row_bytes(type, n_cols);
  std::vector<uint8_t> out((size_t)(rb * n_rows));
  for (int64_t r = 0; r < n_rows; ++r) kernels::quantize_row(type, &values[(size_t)(r * n_cols)], &out[(size_t)(r * rb)], n_cols);
  return out;
}

}  // namespace kvpress
