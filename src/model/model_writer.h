// Writes Llama-family GGUF files (llama / qwen2 / qwen3) with the keys and tensor names that
// model_config.cpp and model_weights.cpp read: the test fixtures and `kvpress make-model` build
// their random-weight models with it, each choosing the tensor values.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "gguf/gguf_writer.h"

namespace kvpress {

struct ModelFileShape {
  std::string arch = "llama";  // "llama", "qwen2" (q/k/v biases) or "qwen3" (q/k norms)
  std::string name;            // general.name
  int64_t n_embd = 64, n_layers = 2, n_heads = 4, n_heads_kv = 2, head_dim = 16, n_ff = 96;
  uint32_t context_length = 4096;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // no output.weight: the token embedding is reused
  // Per-frequency RoPE divisors (head_dim / 2 of them, Llama 3.1+ scaling), written as rope_freqs.weight;
  // empty: none.
  std::vector<float> rope_freq_factors;
  // general.file_type (llama.cpp's llama_ftype: 1 F16, 7 Q8_0, 15 Q4_K_M, ...) with
  // general.quantization_version; negative: neither key is written.
  int32_t file_type = -1;
  std::string chat_template;  // tokenizer.chat_template (Jinja source); empty: no template
};

// A SentencePiece ("llama" tokenizer model) vocabulary, stored as tokenizer.ggml.* keys.
struct SpmVocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;   // one per token
  std::vector<int32_t> types;  // one per token (1 normal, 2 unknown, 3 control, 6 byte)
  int32_t bos_id = 1, eos_id = 2, unk_id = 0;
};

// What a tensor is for, so a filler can pick its type and value distribution.
enum class TensorRole { Embedding, Output, Matrix, Norm, Bias };

// Adds the tensor `name` with dims `ne` (ne[0] = row length) to the writer. Called once per tensor, in
// file order: token_embd, output_norm, output, then per layer attn_norm, attn_q/k/v, [q/k/v biases],
// [q/k norms], attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down (rope_freqs.weight, when the shape has
// factors, is added by the writer itself after output).
using TensorFiller = std::function<void(gguf::GgufWriter& writer, const std::string& name,
                                        const std::vector<int64_t>& ne, TensorRole role)>;

// Adds the metadata and every tensor to `writer` (which should be empty), without writing anything:
// callers that stream large files (GgufWriter::add_tensor_rows) or only need the size use this.
// Throws Error for an unknown arch, a bad head layout or rope factors, or a vocabulary whose arrays disagree.
void build_model_file(gguf::GgufWriter& writer, const ModelFileShape& shape, const SpmVocabulary& vocab,
                      const TensorFiller& fill);

// build_model_file, then writes the whole file to `path`; also throws Error on an I/O failure.
void write_model_file(const ModelFileShape& shape, const SpmVocabulary& vocab, const TensorFiller& fill,
                      const std::string& path);

// A row-major f32 matrix with rows of n_cols values, encoded row by row in `type`.
std::vector<uint8_t> encode_rows(GgmlType type, const std::vector<float>& values, int64_t n_cols);

}  // namespace kvpress
