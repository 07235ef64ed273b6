// Model fingerprints: cheap enough to compute at every load of a cache file, even for a 500 MB model.
#include "cache_file/model_binding.h"

#include <algorithm>
#include <cstdio>

#include "cache_file/hash64.h"
#include "core/error.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace kvpress {
namespace {

constexpr uint64_t kEdgeBytes = 4096, kSamples = 16, kSampleBytes = 256;

// Sampling instead of hashing every byte: a different model, another quantisation or retrained weights
// change the header or nearly every sampled window; hashing 500 MB would cost more than a 4k prefill.
void hash_tensor(Hash64& h, const uint8_t* data, uint64_t n) {
  h.update_u64(n);
  if (n <= 2 * kEdgeBytes + kSamples * kSampleBytes) return h.update(data, n);
  h.update(data, kEdgeBytes);
  h.update(data + n - kEdgeBytes, kEdgeBytes);
  for (uint64_t i = 0; i < kSamples; ++i) {
    const uint64_t at = kEdgeBytes + (n - 2 * kEdgeBytes - kSampleBytes) * i / (kSamples - 1);
    h.update(data + at, kSampleBytes);
  }
}

std::string hex(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

}  // namespace

uint64_t model_fingerprint(const Model& model) {
  const auto& file = model.file();
  const auto bytes = file.bytes();
  uint64_t data_start = bytes.size();
  for (const auto& t : file.tensors()) data_start = std::min<uint64_t>(data_start, t.offset);
  Hash64 h(0x6d6f64656c);  // "model"
  h.update(bytes.data(), (size_t)data_start);
  for (const auto& t : file.tensors()) hash_tensor(h, t.data, t.n_bytes);
  return h.digest();
}

uint64_t tokenizer_fingerprint(const Model& model) {
  const Vocab& v = model.tokenizer().vocab();
  Hash64 h(0x746f6b656e);  // "token"
  h.update(v.model);
  h.update(v.pre);
  h.update_u64(v.tokens.size());
  for (const auto& t : v.tokens) h.update(t);
  h.update_u64(v.scores.size());
  h.update(v.scores.data(), v.scores.size() * sizeof(float));
  h.update_u64(v.types.size());
  h.update(v.types.data(), v.types.size() * sizeof(TokenType));
  h.update_u64(v.merges.size());
  for (const auto& m : v.merges) h.update(m);
  for (int32_t id : {v.bos_id, v.eos_id, v.eot_id, v.unk_id, v.pad_id, v.eom_id}) h.update_u64((uint64_t)(int64_t)id);
  h.update_u64((uint64_t)v.add_bos | (uint64_t)v.add_eos << 1 | (uint64_t)v.add_space_prefix << 2);
  h.update(v.chat_template);
  return h.digest();
}

ModelBinding binding_of(const Model& model) {
  const auto& c = model.config();
  ModelBinding b;
  b.arch = model.file().get_string_or("general.architecture", "");
  b.n_layers = c.n_layers, b.n_heads = c.n_heads, b.n_heads_kv = c.n_heads_kv, b.head_dim = c.head_dim;
  b.n_embd = c.n_embd, b.n_vocab = c.n_vocab;
  b.weights_fingerprint = model_fingerprint(model);
  b.tokenizer_hash = tokenizer_fingerprint(model);
  return b;
}

void check_binding(const ModelBinding& saved, const Model& model, const std::string& name) {
  const ModelBinding now = binding_of(model);
  const std::string prefix = name + ": the cache was made for another model: ";
  const std::string model_name = model.file().path();
  if (saved.arch != now.arch)
    fail(prefix, "architecture '", one_line(saved.arch), "' in the file, '", now.arch, "' in ", model_name);
  const std::pair<const char*, std::pair<int64_t, int64_t>> shapes[] = {
      {"n_layers", {saved.n_layers, now.n_layers}},     {"n_heads_kv", {saved.n_heads_kv, now.n_heads_kv}},
      {"head_dim", {saved.head_dim, now.head_dim}},     {"n_heads", {saved.n_heads, now.n_heads}},
      {"n_embd", {saved.n_embd, now.n_embd}},           {"n_vocab", {saved.n_vocab, now.n_vocab}}};
  for (const auto& [what, v] : shapes)
    if (v.first != v.second) fail(prefix, what, " ", v.first, " in the file, ", v.second, " in ", model_name);
  if (saved.tokenizer_hash != now.tokenizer_hash)
    fail(prefix, "its tokenizer differs (tokenizer hash ", hex(saved.tokenizer_hash), " in the file, ",
         hex(now.tokenizer_hash), " for ", model_name, ")");
  if (saved.weights_fingerprint != now.weights_fingerprint)
    fail(prefix, "same shapes but other weights or metadata (model fingerprint ", hex(saved.weights_fingerprint),
         " in the file, ", hex(now.weights_fingerprint), " for ", model_name, ")");
}

}  // namespace kvpress
