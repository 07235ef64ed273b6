// SVG heatmap of kept positions (self-contained SVG, no external assets).
#include "svg_heatmap.h"

#include <algorithm>
#include <cstdio>

#include "svg_plot.h"

namespace kvpress::cli {

std::string kept_heatmap_svg(const std::vector<std::vector<std::vector<int32_t>>>& kept, int64_t n_tokens,
                             const std::string& title) {
  const int64_t n_cols = std::max<int64_t>(1, std::min<int64_t>(n_tokens, 600));
  const double per_col = (double)std::max<int64_t>(n_tokens, 1) / n_cols;
  int64_t n_rows = 0;
  for (const auto& layer : kept) n_rows += (int64_t)layer.size();
  const int cell_w = n_cols <= 150 ? 4 : 1, cell_h = n_rows <= 64 ? 8 : 3;
  const int left = 70, top = 40;
  const int64_t width = left + n_cols * cell_w + 20, height = top + n_rows * cell_h + 40;
  std::string svg;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%lld\" height=\"%lld\" font-family=\"sans-serif\" "
                "font-size=\"11\">\n",
                (long long)width, (long long)height);
  svg += buf;
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + std::to_string(left) + "\" y=\"20\" font-size=\"13\">" + eval::xml_escape(title) +
         " — dark = kept</text>\n";
  int64_t row = 0;
  for (size_t l = 0; l < kept.size(); ++l) {
    std::snprintf(buf, sizeof buf, "<text x=\"4\" y=\"%lld\">layer %zu</text>\n",
                  (long long)(top + row * cell_h + cell_h), l);
    svg += buf;
    for (const auto& head : kept[l]) {
      std::vector<int32_t> count((size_t)n_cols, 0);
      for (int32_t p : head)
        if (p >= 0 && p < n_tokens) ++count[std::min<int64_t>(n_cols - 1, (int64_t)(p / per_col))];
      for (int64_t c = 0; c < n_cols; ++c) {
        const double frac = std::min(1.0, count[c] / per_col);
        if (frac <= 0) continue;
        const int shade = 255 - (int)(frac * 225);
        std::snprintf(buf, sizeof buf,
                      "<rect x=\"%lld\" y=\"%lld\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\"/>\n",
                      (long long)(left + c * cell_w), (long long)(top + row * cell_h), cell_w, cell_h, shade, shade);
        svg += buf;
      }
      ++row;
    }
  }
  std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"%lld\">position 0 … %lld (rows: layers × KV heads)</text>\n",
                left, (long long)(top + n_rows * cell_h + 20), (long long)std::max<int64_t>(0, n_tokens - 1));
  svg += buf;
  svg += "</svg>\n";
  return svg;
}

}  // namespace kvpress::cli
