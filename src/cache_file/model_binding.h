// What binds a saved cache to the model it was computed with: architecture, shapes, a fingerprint of
// the GGUF file (metadata and tensor directory whole, tensor data sampled) and one of the tokenizer.
#pragma once
#include <cstdint>
#include <string>

namespace kvpress {

class Model;

struct ModelBinding {
  std::string arch;  // general.architecture
  int64_t n_layers = 0, n_heads = 0, n_heads_kv = 0, head_dim = 0, n_embd = 0, n_vocab = 0;
  uint64_t weights_fingerprint = 0;  // model_fingerprint()
  uint64_t tokenizer_hash = 0;       // tokenizer_fingerprint()
};

// Hash of the GGUF file's bytes before the tensor data (every metadata key, the tokenizer, the tensor
// names, shapes, types and offsets), then of each tensor's first and last 4 KiB and 16 evenly spaced
// 256-byte samples. Cost: the header (a few MB for a 150k-token vocabulary) plus at most 12 KiB per
// tensor, however large the file (docs/kv-cache-file.md).
uint64_t model_fingerprint(const Model& model);
// Hash of everything the tokenizer reads (model, pre-tokenizer, tokens, scores, types, merges,
// special ids and flags, chat template).
uint64_t tokenizer_fingerprint(const Model& model);

ModelBinding binding_of(const Model& model);

// Throws Error "<name>: the cache was made for another model: <what differs>" (the first difference,
// shapes before fingerprints so the message says the most useful thing).
void check_binding(const ModelBinding& saved, const Model& model, const std::string& name);

}  // namespace kvpress
