// Draws which cache entries a press kept: one row per (layer, KV head), positions along x.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvpress::cli {

// kept[layer][head] = kept original positions. Positions are binned to at most 600 columns; a cell's
// shade is the fraction of its positions kept.
std::string kept_heatmap_svg(const std::vector<std::vector<std::vector<int32_t>>>& kept, int64_t n_tokens,
                             const std::string& title);

}  // namespace kvpress::cli
