// The shared llama-gqa-<TYPE>.gguf files hold the weights of llama-gqa.gguf (F32) quantized by
// llama.cpp: dequantizing them must land close to the originals. This validates the reference
// dequantizers (and so every variant) against an independent encoder, for every supported type.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gguf/gguf_file.h"
#include "kernels/kernels.h"
#include "test_paths.h"

namespace kvpress {
namespace {

struct QuantizedFile {
  const char* suffix;  // llama-gqa-<suffix>.gguf
  GgmlType type;
  double max_rel_rms;  // per tensor; a wrong bit layout gives errors of order 1
};

constexpr QuantizedFile kFiles[] = {
    {"F16", GgmlType::F16, 1e-3},      {"BF16", GgmlType::BF16, 5e-3},    {"Q8_0", GgmlType::Q8_0, 0.01},
    {"Q6_K", GgmlType::Q6_K, 0.03},    {"Q5_0", GgmlType::Q5_0, 0.06},    {"Q5_1", GgmlType::Q5_1, 0.06},
    {"Q5_K_S", GgmlType::Q5_K, 0.06},  {"Q4_0", GgmlType::Q4_0, 0.12},    {"Q4_1", GgmlType::Q4_1, 0.12},
    {"Q4_K_S", GgmlType::Q4_K, 0.12},  {"Q3_K_S", GgmlType::Q3_K, 0.2},   {"Q2_K", GgmlType::Q2_K, 0.4},
};

TEST(GgufDequantize, QuantizedTensorsMatchF32Originals) {
  KVPRESS_REQUIRE_SHARED("reference/llama-gqa.gguf");
  const auto dir = testing::shared_dir() / "reference";
  const auto original = gguf::GgufFile::open((dir / "llama-gqa.gguf").string());
  const auto sets = kernels::available_kernel_sets();
  for (const auto& file : kFiles) {
    SCOPED_TRACE(file.suffix);
    const auto quantized = gguf::GgufFile::open((dir / ("llama-gqa-" + std::string(file.suffix) + ".gguf")).string());
    int n_compared = 0;
    for (const auto& t : quantized.tensors()) {
      if (t.ne.size() < 2) continue;  // norms stay F32
      SCOPED_TRACE(t.name);
      ASSERT_EQ(t.type, file.type);
      const auto* orig = original.find_tensor(t.name);
      ASSERT_NE(orig, nullptr);
      ASSERT_EQ(orig->type, GgmlType::F32);
      ASSERT_EQ(orig->ne, t.ne);
      const int64_t n = t.ne[0];
      const int64_t rb = row_bytes(t.type, n);
      std::vector<float> row((size_t)n), other((size_t)n);
      double err = 0, ref = 0;
      for (int64_t r = 0; r < t.rows(); ++r) {
        kernels::reference_kernels().dequantize_row(t.type, t.data + r * rb, row.data(), n);
        const auto* want = reinterpret_cast<const float*>(orig->data) + r * n;
        for (int64_t i = 0; i < n; ++i) {
          err += ((double)row[i] - want[i]) * ((double)row[i] - want[i]);
          ref += (double)want[i] * want[i];
        }
        // Every variant decodes the real file bit-exactly as well.
        for (const auto* ks : sets) {
          ks->dequantize_row(t.type, t.data + r * rb, other.data(), n);
          ASSERT_EQ(0, std::memcmp(row.data(), other.data(), row.size() * sizeof(float))) << ks->name;
        }
      }
      ASSERT_GT(ref, 0.0);
      EXPECT_LE(std::sqrt(err / ref), file.max_rel_rms);
      ++n_compared;
    }
    EXPECT_GE(n_compared, 7) << "expected the attention/FFN matrices of every layer";
  }
}

}  // namespace
}  // namespace kvpress
