// Reads the shared reference models and vocab files (facts checked against an independent dump of the
// files) and truncates real files at many cut points: every cut must throw Error, never crash.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "gguf_test_util.h"
#include "test_paths.h"

namespace kvpress::gguf {
namespace {

using namespace kvpress::gguf::test;
using kvpress::testing::shared_dir;

std::vector<std::filesystem::path> gguf_files(const std::string& sub) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(shared_dir() / sub))
    if (e.path().extension() == ".gguf") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

Bytes read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Invariants every parsed file satisfies, whatever its content.
void check_directory(const GgufFile& f) {
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
    EXPECT_LE(t.offset + t.n_bytes, f.file_bytes()) << t.name;
    EXPECT_EQ(t.n_bytes, static_cast<uint64_t>(row_bytes(t.type, t.ne[0]) * t.rows())) << t.name;
    sorted.push_back(&t);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < sorted.size(); ++k) EXPECT_GE(sorted[k]->offset, sorted[k - 1]->offset + sorted[k - 1]->n_bytes);
}

TEST(GgufReference, EveryModelFileParses) {
  KVPRESS_REQUIRE_SHARED("reference");
  const auto files = gguf_files("reference");
  ASSERT_FALSE(files.empty());
  const std::set<std::string> archs = {"llama", "qwen2", "qwen3"};
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const auto f = GgufFile::open(path.string());
    EXPECT_EQ(f.version(), 3u);
    EXPECT_TRUE(archs.count(f.get_string("general.architecture")));
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 1024u);
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")[1], "<s>");
    EXPECT_EQ(f.get_float_array("tokenizer.ggml.scores").size(), 1024u);
    EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type")[0], 2);  // <unk> is UNKNOWN
    EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
    const TensorInfo* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->ne, (std::vector<int64_t>{256, 1024}));
    check_directory(f);
    // The last tensor ends at the end of the file (the writer that made them does not pad the end).
    uint64_t end = 0;
    for (const auto& t : f.tensors()) end = std::max(end, t.offset + t.n_bytes);
    EXPECT_EQ(end, f.file_bytes());
  }
}

TEST(GgufReference, LlamaGqaFacts) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa.gguf");
  const auto f = GgufFile::open((shared_dir() / "reference/llama-gqa.gguf").string());
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_uint("llama.block_count"), 3u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 256u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 768u);
  EXPECT_EQ(f.get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), 21u);
  EXPECT_EQ(f.tensors().size(), 30u);  // embd, output, output_norm + 9 per layer
  const TensorInfo* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, GgmlType::F32);
  EXPECT_EQ(embd->n_bytes, 256u * 1024u * 4u);
  EXPECT_EQ(embd->offset, 23840u);  // directory ends at 23815, aligned up to 32
  EXPECT_EQ(f.tensors()[0].name, "token_embd.weight");
  const TensorInfo* k = f.find_tensor("blk.2.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne, (std::vector<int64_t>{256, 64}));  // 2 kv heads * head_dim 32
  EXPECT_EQ(f.find_tensor("blk.3.attn_k.weight"), nullptr);
}

TEST(GgufReference, QuantizedFilesHoldTheirType) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa-Q4_0.gguf");
  const std::vector<std::pair<std::string, GgmlType>> cases = {
      {"F16", GgmlType::F16},   {"BF16", GgmlType::BF16},   {"Q8_0", GgmlType::Q8_0},  {"Q4_0", GgmlType::Q4_0},
      {"Q4_1", GgmlType::Q4_1}, {"Q5_0", GgmlType::Q5_0},   {"Q5_1", GgmlType::Q5_1},  {"Q2_K", GgmlType::Q2_K},
      {"Q3_K_S", GgmlType::Q3_K}, {"Q4_K_S", GgmlType::Q4_K}, {"Q5_K_S", GgmlType::Q5_K}, {"Q6_K", GgmlType::Q6_K},
  };
  for (const auto& [suffix, type] : cases) {
    SCOPED_TRACE(suffix);
    const auto f = GgufFile::open((shared_dir() / "reference" / ("llama-gqa-" + suffix + ".gguf")).string());
    const TensorInfo* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->type, type);
    const auto& tr = traits_of(type);
    EXPECT_EQ(embd->n_bytes, static_cast<uint64_t>(256 / tr.block_size * tr.block_bytes * 1024));
    EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, GgmlType::F32);  // norms stay F32
  }
}

TEST(GgufReference, VocabFiles) {
  KVPRESS_REQUIRE_SHARED("vocab");
  const std::map<std::string, std::pair<std::string, size_t>> expected = {
      {"ggml-vocab-llama-spm.gguf", {"llama", 32000}},     {"ggml-vocab-phi-3.gguf", {"llama", 32064}},
      {"ggml-vocab-llama-bpe.gguf", {"gpt2", 128256}},     {"ggml-vocab-qwen2.gguf", {"gpt2", 151936}},
      {"ggml-vocab-gpt-2.gguf", {"gpt2", 50257}},          {"ggml-vocab-deepseek-llm.gguf", {"gpt2", 102400}},
  };
  const auto files = gguf_files("vocab");
  ASSERT_EQ(files.size(), expected.size());
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const auto it = expected.find(path.filename().string());
    ASSERT_NE(it, expected.end());
    const auto f = GgufFile::open(path.string());
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), it->second.first);
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), it->second.second);
    EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type").size(), it->second.second);
  }
  const auto qwen = GgufFile::open((shared_dir() / "vocab/ggml-vocab-qwen2.gguf").string());
  EXPECT_EQ(qwen.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(qwen.get_string_array("tokenizer.ggml.merges").size(), 151387u);
  EXPECT_EQ(qwen.get_string_array("tokenizer.ggml.merges")[0], "\xc4\xa0 \xc4\xa0");  // "Ġ Ġ"
  EXPECT_EQ(qwen.get_uint("tokenizer.ggml.eos_token_id"), 151643u);
}

// Cuts at every 1/200th of the length and at each of the first 4096 bytes.
void expect_every_cut_throws(const std::filesystem::path& path) {
  const Bytes bytes = read_all(path);
  ASSERT_GT(bytes.size(), 4096u);
  std::set<size_t> cuts;
  for (size_t k = 0; k < 200; ++k) cuts.insert(bytes.size() * k / 200);
  for (size_t n = 0; n <= 4096; ++n) cuts.insert(n);
  cuts.insert(bytes.size() - 1);
  size_t n_truncated_messages = 0;
  for (size_t n : cuts) {
    try {
      GgufFile::parse(std::span<const uint8_t>(bytes.data(), n), "cut.gguf");
      ADD_FAILURE() << "a prefix of " << n << " bytes parsed";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("cut.gguf: ", 0), 0u) << msg;
      if (msg.find("truncated") != std::string::npos || msg.find("past the end") != std::string::npos ||
          msg.find("outside the file") != std::string::npos || msg.find("empty file") != std::string::npos)
        ++n_truncated_messages;
    }
  }
  // Counts and lengths checked against the bytes left are also legitimate reasons; most cuts say truncated.
  EXPECT_GT(n_truncated_messages, cuts.size() / 2);
  EXPECT_NO_THROW(GgufFile::parse(bytes, "whole.gguf"));
}

TEST(GgufReference, TruncatedModelAlwaysThrows) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa-Q2_K.gguf");
  expect_every_cut_throws(shared_dir() / "reference/llama-gqa-Q2_K.gguf");
}

TEST(GgufReference, TruncatedVocabAlwaysThrows) {
  KVPRESS_REQUIRE_SHARED("vocab/ggml-vocab-llama-spm.gguf");
  expect_every_cut_throws(shared_dir() / "vocab/ggml-vocab-llama-spm.gguf");
}

}  // namespace
}  // namespace kvpress::gguf
