// Re-rotation of kept keys to contiguous positions, shared by the presses that do it (FinchPress with
// rerotate_keys, KeyRerotationPress; spec §2.13, §2.20).
#pragma once
#include "model/model.h"

namespace kvpress {

// For every KV head of layer.layer (entries in ascending position order): rotates entry i's key by
// (i - position_i), so that it is the key RoPE would give at position i (RoPE rotations compose), and
// records positions 0..n-1, so that attention stays causal by stored position and the question goes at
// the compressed length. Keys are decoded, rotated in f32 and encoded again in the cache's key type.
// Throws Error for channel-pruned keys (think first): a rotation would mix pruned and kept channels.
void rerotate_to_contiguous(const LayerPrefill& layer);

}  // namespace kvpress
