// Public API: the storage types of the KV cache (as llama.cpp's -ctk / -ctv), keys and values chosen apart.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvpress {

// Quantized types use GGUF's 32-element blocks along head_dim (head_dim must be a multiple of 32).
enum class KvType : uint8_t { F32, F16, BF16, Q8_0, Q4_0 };

struct KvTypes {
  KvType k = KvType::F16;
  KvType v = KvType::F16;
  bool operator==(const KvTypes&) const = default;
};

std::string_view kv_type_name(KvType type);                   // "f32", "f16", "bf16", "q8_0", "q4_0"
std::optional<KvType> kv_type_from_name(std::string_view name);  // case-insensitive; nullopt when unknown
KvType parse_kv_type(std::string_view name);                  // throws Error naming the choices
std::string kv_type_choices();                                // "f32|f16|bf16|q8_0|q4_0"

// Bytes one cache entry (a key and a value of one KV head) takes. Throws Error when head_dim does not
// fit the types' blocks.
int64_t kv_entry_bytes(const KvTypes& types, int64_t head_dim);

}  // namespace kvpress
