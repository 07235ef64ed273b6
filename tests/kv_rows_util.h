// Test helper: the stored rows of a KV cache head decoded to f32 (what attention and presses see).
#pragma once
#include <vector>

#include "cache/kv_cache.h"

namespace kvpress::testing {

inline std::vector<float> decoded(const KvRows& rows) {
  std::vector<float> out((size_t)(rows.n_rows * rows.head_dim()));
  rows.read(0, rows.n_rows, out.data());
  return out;
}

// Bytes of one entry (key + value of one head) by the GGUF layouts: f32 4 bytes per element, f16 and
// bf16 2, q8_0 34 per 32 elements, q4_0 18 per 32.
inline int64_t expected_row_bytes(KvType type, int64_t head_dim) {
  switch (type) {
    case KvType::F32: return 4 * head_dim;
    case KvType::F16:
    case KvType::BF16: return 2 * head_dim;
    case KvType::Q8_0: return head_dim / 32 * 34;
    case KvType::Q4_0: return head_dim / 32 * 18;
  }
  return 0;
}

}  // namespace kvpress::testing
