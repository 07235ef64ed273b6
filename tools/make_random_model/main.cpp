// kvpress-make-random-model: writes a random-weight Llama-family GGUF of any shape and weight type,
// for benchmarks (e.g. a Qwen2.5-0.5B-shaped file) without downloading a model.
#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "model/model_writer.h"

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
    kvpress::ModelFileShape shape;
    shape.arch = s.arch;
    shape.name = "random-" + s.arch;
    shape.n_embd = s.n_embd, shape.n_layers = s.n_layers, shape.n_heads = s.n_heads, shape.n_heads_kv = s.n_heads_kv;
    shape.head_dim = s.head_dim, shape.n_ff = s.n_ff;
    shape.context_length = 32768;
    shape.rope_base = 1000000.0f;
    shape.rms_eps = 1e-6f;
    shape.tied_output = true;
    // A placeholder SentencePiece-style vocabulary: control tokens, 256 byte tokens, then filler pieces.
    kvpress::SpmVocabulary vocab;
    vocab.tokens = {"<unk>", "<s>", "</s>"};
    vocab.types = {2, 3, 3};
    for (int b = 0; b < 256 && (int64_t)vocab.tokens.size() < s.n_vocab; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      vocab.tokens.push_back(buf);
      vocab.types.push_back(6);
    }
    while ((int64_t)vocab.tokens.size() < s.n_vocab) {
      vocab.tokens.push_back("\xe2\x96\x81t" + std::to_string(vocab.tokens.size()));
      vocab.types.push_back(1);
    }
    vocab.scores.assign(vocab.tokens.size(), 0.0f);

    const float scale = 0.02f;
    int n_fallback = 0;
    GgmlType fallback_type = *type;
    auto fill = [&](kvpress::gguf::GgufWriter& w, const std::string& name, const std::vector<int64_t>& ne,
                    kvpress::TensorRole role) {
      using kvpress::TensorRole;
      if (role == TensorRole::Norm) {
        w.add_tensor_f32(name, ne, std::vector<float>((size_t)ne[0], 1.0f));
      } else if (role == TensorRole::Bias) {
        w.add_tensor_f32(name, ne, random_values(rng, ne[0], scale));
      } else {  // embedding and matrices, in the requested type where their rows allow it
        const GgmlType t = type_for_cols(*type, ne[0]);
        if (t != *type) ++n_fallback, fallback_type = t;
        w.add_tensor(name, ne, t, kvpress::encode_rows(t, random_values(rng, ne[0] * ne[1], scale), ne[0]));
      }
    };
    kvpress::write_model_file(shape, vocab, fill, out);
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
