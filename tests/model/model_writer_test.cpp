// Model writer: the file it writes reads back (config keys, tensor names/dims/order, values), and bad
// shapes or vocabularies are refused before anything is written.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/model_config.h"
#include "model/model_writer.h"

namespace kvpress {
namespace {

SpmVocabulary small_vocab(int n) {
  SpmVocabulary v;
  for (int i = 0; i < n; ++i) {
    v.tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "\xe2\x96\x81w" + std::to_string(i));
    v.scores.push_back(-(float)i);
    v.types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);
  }
  return v;
}

// Every element of tensor number k holds the value k (so order and placement are checkable).
struct CountingFiller {
  std::vector<std::string> names;
  std::vector<TensorRole> roles;
  void operator()(gguf::GgufWriter& w, const std::string& name, const std::vector<int64_t>& ne, TensorRole role) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    w.add_tensor_f32(name, ne, std::vector<float>((size_t)n, (float)names.size()));
    names.push_back(name);
    roles.push_back(role);
  }
};

std::string temp_path(const char* tag) {
  return (std::filesystem::temp_directory_path() / (std::string("kvpress_model_writer_") + tag + ".gguf")).string();
}

TEST(ModelWriter, Qwen2FileReadsBackWithItsShapeAndTensorOrder) {
  ModelFileShape s;
  s.arch = "qwen2";
  s.n_embd = 32, s.n_layers = 2, s.n_heads = 4, s.n_heads_kv = 2, s.head_dim = 8, s.n_ff = 48;
  s.context_length = 2048, s.rope_base = 500000.0f, s.rms_eps = 1e-6f;
  CountingFiller filler;
  const auto path = temp_path("qwen2");
  write_model_file(s, small_vocab(40), std::ref(filler), path);

  const auto file = gguf::GgufFile::open(path);
  const auto c = ModelConfig::from_gguf(file);
  EXPECT_EQ(c.arch, "qwen2");
  EXPECT_EQ(c.n_embd, 32);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_heads_kv, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_ff, 48);
  EXPECT_EQ(c.n_ctx_train, 2048);
  EXPECT_FLOAT_EQ(c.rope_base, 500000.0f);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-6f);
  EXPECT_TRUE(c.qkv_bias);
  // 3 global tensors + 12 per qwen2 layer (2 norms, q/k/v, 3 biases, attn_output, gate/up/down).
  ASSERT_EQ(filler.names.size(), 3u + 2 * 12);
  EXPECT_EQ(filler.names[2], "output.weight");
  EXPECT_EQ(filler.names[7], "blk.0.attn_q.bias");
  EXPECT_EQ(filler.roles[7], TensorRole::Bias);
  ASSERT_EQ(file.tensors().size(), filler.names.size());
  for (size_t k = 0; k < filler.names.size(); ++k) {
    const auto& t = file.tensors()[k];
    EXPECT_EQ(t.name, filler.names[k]);
    EXPECT_EQ(reinterpret_cast<const float*>(t.data)[t.n_elements - 1], (float)k) << t.name;
  }
  EXPECT_EQ(file.tensors()[3].ne, (std::vector<int64_t>{32}));          // blk.0.attn_norm
  EXPECT_EQ(file.tensors()[5].ne, (std::vector<int64_t>{32, 16}));      // blk.0.attn_k: [n_embd, kv_dim]
  EXPECT_EQ(file.tensors()[0].ne, (std::vector<int64_t>{32, 40}));      // token_embd: [n_embd, n_vocab]
  EXPECT_EQ(Model::load(path)->config().n_vocab, 40);  // the loader agrees on the vocabulary and token_embd
  std::filesystem::remove(path);
}

TEST(ModelWriter, TiedOutputAndQkNormChangeTheTensorList) {
  ModelFileShape s;
  s.arch = "qwen3";
  s.tied_output = true;
  CountingFiller filler;
  const auto path = temp_path("qwen3");
  write_model_file(s, small_vocab(20), std::ref(filler), path);
  EXPECT_EQ(std::count(filler.names.begin(), filler.names.end(), "output.weight"), 0);
  EXPECT_EQ(std::count(filler.names.begin(), filler.names.end(), "blk.1.attn_k_norm.weight"), 1);
  EXPECT_NO_THROW(Model::load(path));
  std::filesystem::remove(path);
}

TEST(ModelWriter, RopeFactorsAndFileTypeAreWrittenWhenGiven) {
  ModelFileShape s;
  s.head_dim = 16;
  s.rope_freq_factors = {1, 1, 1, 2, 4, 8, 8, 8};
  s.file_type = 15;
  CountingFiller filler;
  const auto path = temp_path("rope");
  write_model_file(s, small_vocab(20), std::ref(filler), path);
  const auto file = gguf::GgufFile::open(path);
  EXPECT_EQ(file.get_uint("general.file_type"), 15u);
  EXPECT_EQ(file.get_uint("general.quantization_version"), 2u);
  EXPECT_EQ(std::count(filler.names.begin(), filler.names.end(), "rope_freqs.weight"), 0);  // not the filler's
  EXPECT_EQ(Model::load(path)->weights().rope_freq_factors, s.rope_freq_factors);
  std::filesystem::remove(path);

  s.rope_freq_factors.pop_back();  // head_dim / 2 of them or none
  EXPECT_THROW(write_model_file(s, small_vocab(20), std::ref(filler), path), Error);
  ModelFileShape plain;
  gguf::GgufWriter w;
  build_model_file(w, plain, small_vocab(20), std::ref(filler));
  const auto bytes = w.to_bytes();
  EXPECT_EQ(bytes.size(), w.file_size());
  const auto f = gguf::GgufFile::parse(bytes, "plain");
  EXPECT_FALSE(f.has("general.file_type"));
  EXPECT_EQ(f.find_tensor("rope_freqs.weight"), nullptr);
}

TEST(ModelWriter, RefusesBadShapesAndVocabularies) {
  CountingFiller filler;
  const auto path = temp_path("refused");
  ModelFileShape s;
  s.arch = "gpt2";
  EXPECT_THROW(write_model_file(s, small_vocab(10), std::ref(filler), path), Error);
  s = {};
  s.n_heads = 6;  // not a multiple of n_heads_kv
  s.n_heads_kv = 4;
  EXPECT_THROW(write_model_file(s, small_vocab(10), std::ref(filler), path), Error);
  s = {};
  auto v = small_vocab(10);
  v.scores.pop_back();
  EXPECT_THROW(write_model_file(s, v, std::ref(filler), path), Error);
  EXPECT_TRUE(filler.names.empty());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ModelWriter, EncodeRowsMatchesRowByRowQuantisation) {
  std::vector<float> values(2 * 64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = (float)((int)(i * 37 % 23) - 11) / 4.0f;
  const auto q8 = encode_rows(GgmlType::Q8_0, values, 64);
  EXPECT_EQ((int64_t)q8.size(), 2 * row_bytes(GgmlType::Q8_0, 64));
  const auto f32 = encode_rows(GgmlType::F32, values, 64);
  ASSERT_EQ(f32.size(), values.size() * sizeof(float));
  EXPECT_EQ(0, std::memcmp(f32.data(), values.data(), f32.size()));
  EXPECT_THROW(encode_rows(GgmlType::F32, values, 60), Error);
}

}  // namespace
}  // namespace kvpress
