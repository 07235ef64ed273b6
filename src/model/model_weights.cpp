// Binds GGUF tensors to the model's weight slots, checking every shape and type.
#include "model/model_weights.h"

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace kvpress {
namespace {

std::string shape_text(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

class Binder {
 public:
  Binder(const gguf::GgufFile& file) : file_(file) {}

  const gguf::TensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

  const gguf::TensorInfo& require(const std::string& name, const std::vector<int64_t>& ne) const {
    const auto* t = file_.find_tensor(name);
    if (!t) fail(file_.path(), ": missing tensor '", name, "'");
    if (t->ne != ne)
      fail(file_.path(), ": tensor '", name, "' has shape ", shape_text(t->ne), ", expected ", shape_text(ne));
    return *t;
  }

  kernels::MatrixView matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const {
    return view(require(name, {n_cols, n_rows}));
  }

  static kernels::MatrixView view(const gguf::TensorInfo& t) {
    kernels::MatrixView m;
    m.type = t.type;
    m.data = t.data;
    m.n_cols = t.ne[0];
    m.n_rows = t.rows();
    m.row_bytes = row_bytes(t.type, t.ne[0]);
    return m;
  }

  // Small 1-D tensors (norms, biases) are converted to f32 once.
  std::vector<float> vector(const std::string& name, int64_t n) const { return to_f32(require(name, {n})); }

  std::vector<float> to_f32(const gguf::TensorInfo& t) const {
    std::vector<float> out((size_t)t.n_elements);
    const auto m = view(t);
    for (int64_t r = 0; r < m.n_rows; ++r)
      kernels::dequantize_row(t.type, m.row(r), out.data() + r * m.n_cols, m.n_cols);
    return out;
  }

 private:
  const gguf::GgufFile& file_;
};

}  // namespace

ModelWeights ModelWeights::bind(const gguf::GgufFile& file, ModelConfig& c) {
  Binder b(file);
  ModelWeights w;
  const auto* embd = b.find("token_embd.weight");
  if (!embd) fail(file.path(), ": missing tensor 'token_embd.weight'");
  if (embd->ne.size() != 2 || embd->ne[0] != c.n_embd)
    fail(file.path(), ": tensor 'token_embd.weight' has shape ", shape_text(embd->ne), ", expected [",
         c.n_embd, ", n_vocab]");
  c.n_vocab = embd->ne[1];
  w.token_embd = Binder::view(*embd);
  w.output = b.find("output.weight") ? b.matrix("output.weight", c.n_embd, c.n_vocab) : w.token_embd;
  w.output_norm = b.vector("output_norm.weight", c.n_embd);
  if (b.find("rope_freqs.weight")) {
    w.rope_freq_factors = b.vector("rope_freqs.weight", c.head_dim / 2);
    for (float f : w.rope_freq_factors)
      if (!(f > 0)) fail(file.path(), ": tensor 'rope_freqs.weight' has a non-positive factor");
  }

  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_heads_kv * c.head_dim;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.attn_norm = b.vector(p + "attn_norm.weight", c.n_embd);
    lw.wq = b.matrix(p + "attn_q.weight", c.n_embd, q_dim);
    lw.wk = b.matrix(p + "attn_k.weight", c.n_embd, kv_dim);
    lw.wv = b.matrix(p + "attn_v.weight", c.n_embd, kv_dim);
    lw.wo = b.matrix(p + "attn_output.weight", q_dim, c.n_embd);
    if (c.qkv_bias) {
      lw.bq = b.vector(p + "attn_q.bias", q_dim);
      lw.bk = b.vector(p + "attn_k.bias", kv_dim);
      lw.bv = b.vector(p + "attn_v.bias", kv_dim);
    }
    if (c.qk_norm) {
      lw.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim);
      lw.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    lw.ffn_norm = b.vector(p + "ffn_norm.weight", c.n_embd);
    lw.w_gate = b.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
    lw.w_up = b.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
    lw.w_down = b.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
    w.layers.push_back(std::move(lw));
  }
  return w;
}

void ModelWeights::set_int8_activations(bool on) {
  output.int8_activations = on;
  for (LayerWeights& l : layers)
    for (kernels::MatrixView* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) m->int8_activations = on;
}

}  // namespace kvpress
