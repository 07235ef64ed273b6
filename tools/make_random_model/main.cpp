// kvpress-make-random-model: writes a random-weight Llama-family GGUF of any shape and weight type,
// for benchmarks (e.g. a Qwen2.5-0.5B-shaped file) without downloading a model.
#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "gguf/gguf_writer.h"
#include "kernels/kernels.h"

namespace {

using kvpress::GgmlType;

struct Shape {
  std::string arch = "qwen2";
  int64_t n_vocab = 151936, n_embd = 896, n_layers = 24, n_heads = 14, n_heads_kv = 2, head_dim = 64, n_ff = 4864;
};

std::vector<float> random_values(std::mt19937_64& rng, int64_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Type actually used for a matrix whose rows are n_cols long: a 256-block k-quant cannot encode rows that
// are not a multiple of 256 (e.g. Qwen2.5-0.5B's 896), so such matrices get the same smaller-block
// substitute that llama-quantize picks, which keeps our files comparable with quantized downloads.
GgmlType type_for_cols(GgmlType wanted, int64_t n_cols) {
  if (n_cols % kvpress::traits_of(wanted).block_size == 0) return wanted;
  GgmlType fallback = GgmlType::F16;
  switch (wanted) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: fallback = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: fallback = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: fallback = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: fallback = GgmlType::Q8_0; break;
    default: break;
  }
  if (n_cols % kvpress::traits_of(fallback).block_size != 0) fallback = GgmlType::F16;
  if (n_cols % kvpress::traits_of(fallback).block_size != 0) fallback = GgmlType::F32;
  return fallback;
}

std::vector<uint8_t> encode(GgmlType type, const std::vector<float>& values, int64_t n_cols) {
  const int64_t rows = (int64_t)values.size() / n_cols;
  const int64_t rb = kvpress::row_bytes(type, n_cols);
  std::vector<uint8_t> out((size_t)(rows * rb));
  for (int64_t r = 0; r < rows; ++r) kvpress::kernels::quantize_row(type, &values[r * n_cols], &out[r * rb], n_cols);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a random-weight GGUF model (benchmarks and tests)"};
  Shape s;
  std::string out, type_name = "Q8_0";
  uint64_t seed = 1;
  app.add_option("--out", out, "output .gguf path")->required();
  app.add_option("--arch", s.arch, "llama, qwen2 or qwen3");
  app.add_option("--type", type_name, "weight type of the matrices (F32, F16, Q8_0, Q4_K, ...)");
  app.add_option("--vocab", s.n_vocab, "vocabulary size");
  app.add_option("--embd", s.n_embd, "hidden size");
  app.add_option("--layers", s.n_layers, "layers");
  app.add_option("--heads", s.n_heads, "query heads");
  app.add_option("--heads-kv", s.n_heads_kv, "key/value heads");
  app.add_option("--head-dim", s.head_dim, "head dimension");
  app.add_option("--ff", s.n_ff, "feed-forward size");
  app.add_option("--seed", seed, "random seed");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto type = kvpress::ggml_type_from_name(type_name);
    if (!type) kvpress::fail("unknown --type '", type_name, "'");
    std::mt19937_64 rng(seed);
    kvpress::gguf::GgufWriter w;
    const std::string a = s.arch + ".";
    w.set_string("general.architecture", s.arch);
    w.set_string("general.name", "random-" + s.arch);
    w.set_uint32(a + "context_length", 32768);
    w.set_uint32(a + "embedding_length", (uint32_t)s.n_embd);
    w.set_uint32(a + "block_count", (uint32_t)s.n_layers);
    w.set_uint32(a + "feed_forward_length", (uint32_t)s.n_ff);
    w.set_uint32(a + "attention.head_count", (uint32_t)s.n_heads);
    w.set_uint32(a + "attention.head_count_kv", (uint32_t)s.n_heads_kv);
    w.set_uint32(a + "attention.key_length", (uint32_t)s.head_dim);
    w.set_uint32(a + "attention.value_length", (uint32_t)s.head_dim);
    w.set_float32(a + "rope.freq_base", 1000000.0f);
    w.set_float32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
    // A placeholder SentencePiece-style vocabulary: control tokens, 256 byte tokens, then filler pieces.
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256 && (int64_t)tokens.size() < s.n_vocab; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      tokens.push_back(buf);
      types.push_back(6);
    }
    while ((int64_t)tokens.size() < s.n_vocab) {
      tokens.push_back("\xe2\x96\x81t" + std::to_string(tokens.size()));
      types.push_back(1);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string("tokenizer.ggml.pre", "default");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_float32_array("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
    w.set_int32_array("tokenizer.ggml.token_type", types);
    w.set_uint32("tokenizer.ggml.bos_token_id", 1);
    w.set_uint32("tokenizer.ggml.eos_token_id", 2);

    const float scale = 0.02f;
    int n_fallback = 0;
    GgmlType fallback_type = *type;
    auto matrix = [&](const std::string& name, int64_t n_cols, int64_t n_rows) {
      const GgmlType t = type_for_cols(*type, n_cols);
      if (t != *type) ++n_fallback, fallback_type = t;
      w.add_tensor(name, {n_cols, n_rows}, t, encode(t, random_values(rng, n_cols * n_rows, scale), n_cols));
    };
    auto ones = [&](const std::string& name, int64_t n) { w.add_tensor_f32(name, {n}, std::vector<float>((size_t)n, 1.0f)); };
    matrix("token_embd.weight", s.n_embd, s.n_vocab);
    ones("output_norm.weight", s.n_embd);
    const int64_t q_dim = s.n_heads * s.head_dim, kv_dim = s.n_heads_kv * s.head_dim;
    for (int64_t l = 0; l < s.n_layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      ones(p + "attn_norm.weight", s.n_embd);
      matrix(p + "attn_q.weight", s.n_embd, q_dim);
      matrix(p + "attn_k.weight", s.n_embd, kv_dim);
      matrix(p + "attn_v.weight", s.n_embd, kv_dim);
      if (s.arch == "qwen2") {
        w.add_tensor_f32(p + "attn_q.bias", {q_dim}, random_values(rng, q_dim, scale));
        w.add_tensor_f32(p + "attn_k.bias", {kv_dim}, random_values(rng, kv_dim, scale));
        w.add_tensor_f32(p + "attn_v.bias", {kv_dim}, random_values(rng, kv_dim, scale));
      }
      if (s.arch == "qwen3") {
        ones(p + "attn_q_norm.weight", s.head_dim);
        ones(p + "attn_k_norm.weight", s.head_dim);
      }
      matrix(p + "attn_output.weight", q_dim, s.n_embd);
      ones(p + "ffn_norm.weight", s.n_embd);
      matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff);
      matrix(p + "ffn_up.weight", s.n_embd, s.n_ff);
      matrix(p + "ffn_down.weight", s.n_ff, s.n_embd);
    }
    w.write(out);
    if (n_fallback > 0)
      std::fprintf(stderr, "%d matrices have rows not a multiple of %s's block: written as %s\n", n_fallback,
                   type_name.c_str(), std::string(kvpress::ggml_type_name(fallback_type)).c_str());
    std::fprintf(stderr, "wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvpress-make-random-model: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
