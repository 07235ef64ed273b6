// Names, GGUF encodings and entry sizes of the KV cache's storage types.
#include <algorithm>
#include <array>
#include <cctype>

#include "cache/kv_cache.h"
#include "core/error.h"

namespace kvpress {
namespace {

struct KvTypeInfo {
  KvType type;
  const char* name;
  GgmlType ggml;
};
constexpr std::array<KvTypeInfo, 5> kKvTypes = {{
    {KvType::F32, "f32", GgmlType::F32},
    {KvType::F16, "f16", GgmlType::F16},
    {KvType::BF16, "bf16", GgmlType::BF16},
    {KvType::Q8_0, "q8_0", GgmlType::Q8_0},
    {KvType::Q4_0, "q4_0", GgmlType::Q4_0},
}};

const KvTypeInfo& info(KvType type) {
  for (const auto& t : kKvTypes)
    if (t.type == type) return t;
  KV_CHECK(false && "unknown KvType");
  __builtin_unreachable();
}

int64_t row_bytes_checked(KvType type, int64_t head_dim) {
  const auto& traits = traits_of(ggml_type_of(type));
  if (head_dim <= 0 || head_dim % traits.block_size != 0)
    fail("KV type ", kv_type_name(type), " stores blocks of ", traits.block_size,
         " elements along head_dim, but head_dim is ", head_dim, " (use f16, bf16 or f32)");
  return row_bytes(traits.type, head_dim);
}

}  // namespace

GgmlType ggml_type_of(KvType type) { return info(type).ggml; }

std::string_view kv_type_name(KvType type) { return info(type).name; }

std::optional<KvType> kv_type_from_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& t : kKvTypes)
    if (lower == t.name) return t.type;
  return std::nullopt;
}

std::string kv_type_choices() {
  std::string out;
  for (const auto& t : kKvTypes) out += (out.empty() ? "" : "|") + std::string(t.name);
  return out;
}

KvType parse_kv_type(std::string_view name) {
  if (auto t = kv_type_from_name(name)) return *t;
  fail("unknown KV type '", name, "' (choose ", kv_type_choices(), ")");
}

int64_t kv_entry_bytes(const KvTypes& types, int64_t head_dim) {
  return row_bytes_checked(types.k, head_dim) + row_bytes_checked(types.v, head_dim);
}

int64_t kv_row_bytes(KvType type, int64_t head_dim) { return row_bytes_checked(type, head_dim); }

}  // namespace kvpress
