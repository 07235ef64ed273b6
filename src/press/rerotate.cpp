// Key re-rotation: kvpress rotates gathered keys by (new - old) position with cos/sin of the angle
// difference (KeyRerotationPress.rerotate_keys); the same rotation is applied here through Rope.
#include "press/rerotate.h"

#include <numeric>
#include <vector>

#include "cache/kv_cache.h"
#include "core/error.h"

namespace kvpress {

void rerotate_to_contiguous(const LayerPrefill& layer) {
  KvCache& cache = layer.cache;
  const int64_t d = cache.head_dim();
  const Rope& rope = layer.model.rope();
  std::vector<float> keys;
  std::vector<int32_t> positions;
  if (cache.has_pruned_keys(layer.layer))
    fail("re-rotating keys whose channels were pruned (think before finch or key_rerotation) is not supported: "
         "a rotation mixes pruned and kept channels; apply think after the re-rotating press");
  for (int64_t h = 0; h < cache.n_heads_kv(); ++h) {
    const int64_t n = cache.length(layer.layer, h);
    keys.resize((size_t)(n * d));
    cache.keys(layer.layer, h).read(0, n, keys.data());
    const int32_t* old_positions = cache.positions(layer.layer, h);
    for (int64_t i = 0; i < n; ++i) rope.apply(keys.data() + i * d, 1, (int32_t)(i - old_positions[i]));
    cache.write_keys(layer.layer, h, 0, n, keys.data());
    positions.resize((size_t)n);
    std::iota(positions.begin(), positions.end(), 0);
    cache.set_positions(layer.layer, h, positions);
  }
}

}  // namespace kvpress
