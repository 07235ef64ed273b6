// Tensor element types of the GGUF format (ids as in the file) and their block layout.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvpress {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;
  int64_t block_size;   // elements per block
  int64_t block_bytes;  // bytes per block
};

// Traits of a type id read from a file; nullopt for ids kvpress does not support.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
const GgmlTypeTraits& traits_of(GgmlType type);
std::string_view ggml_type_name(GgmlType type);
// Parses "Q4_K", "f16", ... (case-insensitive); nullopt when unknown.
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of one row of n elements; n must be a multiple of the block size (checked by callers).
inline int64_t row_bytes(GgmlType type, int64_t n) {
  const auto& t = traits_of(type);
  return n / t.block_size * t.block_bytes;
}

}  // namespace kvpress
