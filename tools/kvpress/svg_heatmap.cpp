// SVG heatmap of kept positions (self-contained SVG, no external assets): one row per (layer, KV head),
// layers apart by a gap and labelled, heads labelled when rows are tall enough, a legend for the shades.
#include "svg_heatmap.h"

#include <algorithm>
#include <cstdio>

#include "svg_plot.h"

namespace kvpress::cli {
namespace {

constexpr int kLeft = 92, kTop = 58, kLayerGap = 5;
constexpr const char* kRemovedFill = "#eeeeee";

// Kept share 0..1 -> light to dark blue (0 is never drawn: the removed background shows).
std::string kept_fill(double frac) {
  const double t = std::clamp(frac, 0.0, 1.0);
  auto mix = [t](int light, int dark) { return (int)(light + (dark - light) * t); };
  char buf[48];
  std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", mix(180, 8), mix(205, 48), mix(240, 160));
  return buf;
}

std::string rect(int64_t x, int64_t y, int64_t w, int64_t h, const std::string& fill, const std::string& extra = "") {
  char buf[200];
  std::snprintf(buf, sizeof buf, "<rect x=\"%lld\" y=\"%lld\" width=\"%lld\" height=\"%lld\" fill=\"%s\"%s/>\n",
                (long long)x, (long long)y, (long long)w, (long long)h, fill.c_str(), extra.c_str());
  return buf;
}

std::string label(int64_t x, int64_t y, const std::string& s, const std::string& extra = "") {
  return "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\"" + (extra.empty() ? "" : " " + extra) +
         ">" + eval::xml_escape(s) + "</text>\n";
}

}  // namespace

std::string kept_heatmap_svg(const std::vector<std::vector<std::vector<int32_t>>>& kept, int64_t n_tokens,
                             const std::string& title) {
  const int64_t n_cols = std::max<int64_t>(1, std::min<int64_t>(n_tokens, 600));
  const double per_col = (double)std::max<int64_t>(n_tokens, 1) / n_cols;
  int64_t n_rows = 0;
  for (const auto& layer : kept) n_rows += (int64_t)layer.size();
  const int cell_w = n_cols <= 150 ? 4 : 1, cell_h = n_rows <= 64 ? 10 : n_rows <= 256 ? 4 : 3;
  const int head_gap = cell_h >= 4 ? 1 : 0;  // a hairline between heads unless rows are very thin
  const bool head_labels = cell_h >= 10;     // else the layer label names the head range
  const int64_t grid_w = n_cols * cell_w;
  const int64_t grid_h = n_rows * cell_h + (int64_t)std::max<size_t>(kept.size(), 1) * kLayerGap;
  const int64_t width = std::max<int64_t>(kLeft + grid_w + 20, 460), height = kTop + grid_h + 46;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += label(8, 20, title + ": KV entries kept per layer and KV head", "font-size=\"13\"");
  // Legend: kept (dark), partly kept (a column bins several positions), removed (light grey).
  svg += rect(8, 30, 14, 10, kept_fill(1.0)) + label(26, 39, "kept");
  svg += rect(66, 30, 14, 10, kept_fill(0.35)) + label(84, 39, "partly kept (binned columns)");
  svg += rect(250, 30, 14, 10, kRemovedFill, " stroke=\"#bbbbbb\"") + label(268, 39, "removed");

  int64_t y = kTop;
  for (size_t l = 0; l < kept.size(); ++l) {
    const int64_t layer_h = (int64_t)kept[l].size() * cell_h;
    const int64_t mid = y + layer_h / 2;
    if (head_labels || layer_h < 22) {
      svg += label(8, mid + 4, "layer " + std::to_string(l));
    } else {
      svg += label(8, mid, "layer " + std::to_string(l));
      svg += label(8, mid + 10, "h0-h" + std::to_string(kept[l].size() - 1) + " top down", "font-size=\"8\"");
    }
    for (size_t h = 0; h < kept[l].size(); ++h) {
      if (head_labels) svg += label(kLeft - 4, y + cell_h - 2, std::string("h").append(std::to_string(h)), "text-anchor=\"end\" font-size=\"9\"");
      svg += rect(kLeft, y, grid_w, cell_h - head_gap, kRemovedFill);
      std::vector<int32_t> count((size_t)n_cols, 0);
      for (int32_t p : kept[l][h])
        if (p >= 0 && p < n_tokens) ++count[std::min<int64_t>(n_cols - 1, (int64_t)(p / per_col))];
      for (int64_t c = 0; c < n_cols; ++c) {
        const double frac = std::min(1.0, count[c] / per_col);
        if (frac > 0) svg += rect(kLeft + c * cell_w, y, cell_w, cell_h - head_gap, kept_fill(frac));
      }
      y += cell_h;
    }
    y += kLayerGap;
  }
  const int64_t last = std::max<int64_t>(0, n_tokens - 1);
  svg += label(kLeft, y + 12, "0") + label(kLeft + grid_w, y + 12, std::to_string(last), "text-anchor=\"end\"");
  svg += label(kLeft + grid_w / 2, y + 28, "token position (rows: layers × KV heads)", "text-anchor=\"middle\"");
  svg += "</svg>\n";
  return svg;
}

}  // namespace kvpress::cli
