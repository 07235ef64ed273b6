// Weight tensors of a Llama-family model bound from a GGUF file, with shape and type checks.
// Views only: the GgufFile mapping owns the bytes and must outlive the weights.
#pragma once
#include <vector>

#include "kernels/kernels.h"
#include "model/model_config.h"

namespace kvpress::gguf {
class GgufFile;
}

namespace kvpress {

struct LayerWeights {
  std::vector<float> attn_norm;                 // [n_embd]
  kernels::MatrixView wq, wk, wv, wo;           // wq: [n_heads*head_dim rows, n_embd cols]; wo: [n_embd, n_heads*head_dim]
  std::vector<float> bq, bk, bv;                // qwen2 only, else empty
  std::vector<float> q_norm, k_norm;            // qwen3 only: [head_dim]
  std::vector<float> ffn_norm;                  // [n_embd]
  kernels::MatrixView w_gate, w_up, w_down;     // gate/up: [n_ff, n_embd]; down: [n_embd, n_ff]
};

struct ModelWeights {
  kernels::MatrixView token_embd;  // [n_vocab rows, n_embd cols]
  kernels::MatrixView output;      // [n_vocab, n_embd]; token_embd when tied
  std::vector<float> output_norm;  // [n_embd]
  std::vector<float> rope_freq_factors;  // [head_dim/2] divisors of RoPE frequencies (Llama 3.1), or empty
  std::vector<LayerWeights> layers;

  // Binds every tensor; sets config.n_vocab from token_embd. Throws Error naming file and tensor.
  static ModelWeights bind(const gguf::GgufFile& file, ModelConfig& config);
  // Every matrix a forward pass multiplies with (MatrixView::int8_activations).
  void set_int8_activations(bool on);
};

}  // namespace kvpress
