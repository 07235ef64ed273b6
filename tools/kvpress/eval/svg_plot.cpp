// SVG line plots and heatmaps written by hand: fixed layout, "nice" axis ticks, escaped text.
#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kvpress::eval {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
// Beyond ten series colours repeat, so the dash pattern changes (plotly's reuse made kvpress's figure
// ambiguous, spec §6.6).
constexpr const char* kDashes[] = {"", "6 3", "2 3", "8 3 2 3"};

std::string num(double v, const char* fmt = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Tick step of 1, 2 or 5 x 10^k giving about `target` intervals over [lo, hi].
double nice_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) v = 0;
  return num(v, "%.4g");
}

struct Rgb {
  double r, g, b;
};

std::string score_colour(double score) {
  // Red (0) -> yellow (50) -> green (100), a diverging scale readable for colour-blind viewers too.
  const Rgb lo{215, 48, 39}, mid{254, 224, 139}, hi{26, 152, 80};
  const double t = std::clamp(score / 100.0, 0.0, 1.0);
  const Rgb a = t < 0.5 ? lo : mid, b = t < 0.5 ? mid : hi;
  const double u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", (int)std::lround(a.r + (b.r - a.r) * u),
                (int)std::lround(a.g + (b.g - a.g) * u), (int)std::lround(a.b + (b.b - a.b) * u));
  return buf;
}

std::string header(int width, int height) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
         std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) +
         " " + std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"" +
         std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" fill=\"white\"/>\n";
}

std::string text(double x, double y, std::string_view content, const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + (extra.empty() ? "" : " " + extra) + ">" +
         xml_escape(content) + "</text>\n";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text; they never belong in labels anyway.
        if ((unsigned char)c < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string line_plot_svg(const std::vector<PlotSeries>& series, const LinePlotOptions& options) {
  const int width = 820, height = 500, left = 70, right = 230, top = 50, bottom = 60;
  const double pw = width - left - right, ph = height - top - bottom;

  double x_lo = 0, x_hi = 0.1, y_lo = std::numeric_limits<double>::infinity(), y_hi = -y_lo;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      if (!s.baseline) x_hi = std::max(x_hi, x);
      x_lo = std::min(x_lo, x);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  x_hi = std::ceil(x_hi * 10 - 1e-9) / 10;  // whole tenths, like kvpress's ratio axis
  if (!options.x_ticks.empty()) x_lo = options.x_ticks.front().first, x_hi = options.x_ticks.back().first;
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  y_lo = options.y_min.value_or(std::min(0.0, y_lo));
  y_hi = options.y_max.value_or(std::max(y_hi, y_lo + 1e-9));
  if (y_hi - y_lo < 1e-12) y_hi = y_lo + 1;
  const double y_step = nice_step(y_lo, y_hi, 5);
  if (!options.y_max) y_hi = std::ceil(y_hi / y_step - 1e-9) * y_step;
  if (!options.y_min) y_lo = std::floor(y_lo / y_step + 1e-9) * y_step;
  std::vector<std::pair<double, std::string>> x_ticks = options.x_ticks;
  if (x_ticks.empty()) {
    const double x_step = nice_step(x_lo, x_hi, 8);
    for (double x = x_lo; x <= x_hi + x_step * 1e-6; x += x_step) x_ticks.push_back({x, tick_label(x)});
  }
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * pw; };
  // 4% headroom beyond the first and last tick, so a line at the bounds (a full-cache baseline scoring 100)
  // is not drawn on the frame.
  const double margin = 0.04 * (y_hi - y_lo), view_lo = y_lo - margin, view_hi = y_hi + margin;
  auto py = [&](double y) { return top + ph - (std::clamp(y, y_lo, y_hi) - view_lo) / (view_hi - view_lo) * ph; };

  std::string svg = header(width, height);
  svg += text(width / 2.0, 28, options.title, "text-anchor=\"middle\" font-size=\"15\"");
  // Grid, ticks and axes.
  svg += "<g class=\"axes\" stroke=\"#cccccc\" stroke-width=\"1\">\n";
  for (double y = y_lo; y <= y_hi + y_step * 1e-6; y += y_step)
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(py(y)) +
           "\"/>\n";
  for (const auto& [x, label] : x_ticks)
    svg += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(x)) + "\" y2=\"" + num(top + ph) +
           "\"/>\n";
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
         "\" fill=\"none\" stroke=\"#333333\"/>\n</g>\n";
  for (double y = y_lo; y <= y_hi + y_step * 1e-6; y += y_step)
    svg += text(left - 6, py(y) + 4, tick_label(y), "text-anchor=\"end\"");
  for (const auto& [x, label] : x_ticks) svg += text(px(x), top + ph + 18, label, "text-anchor=\"middle\"");
  svg += text(left + pw / 2, height - 16, options.x_label, "text-anchor=\"middle\"");
  svg += text(18, top + ph / 2, options.y_label,
              "text-anchor=\"middle\" transform=\"rotate(-90 18 " + num(top + ph / 2) + ")\"");

  // Series and legend.
  int index = 0, legend_row = 0;  // colour index counts compressed series only
  for (const auto& s : series) {
    const std::string colour = s.baseline ? "#000000" : kPalette[index % kPaletteSize];
    const std::string dash = s.baseline ? "6 4" : kDashes[(index / kPaletteSize) % 4];
    const std::string dash_attr = dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"";
    svg += "<g class=\"series\" data-series=\"" + xml_escape(s.name) + "\" stroke=\"" + colour + "\" fill=\"" + colour +
           "\">\n";
    auto pts = s.points;
    std::sort(pts.begin(), pts.end());
    if (s.baseline && !pts.empty()) {
      svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(pts.front().second)) + "\" x2=\"" + num(left + pw) +
             "\" y2=\"" + num(py(pts.front().second)) + "\" stroke-width=\"2\"" + dash_attr + "/>\n";
    } else if (!pts.empty()) {
      svg += "<polyline fill=\"none\" stroke-width=\"2\"" + dash_attr + " points=\"";
      for (size_t i = 0; i < pts.size(); ++i) {
        if (i) svg += ' ';
        svg += num(px(pts[i].first)) + "," + num(py(pts[i].second));
      }
      svg += "\"/>\n";
      for (const auto& [x, y] : pts) {
        svg += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3.5\"><title>" + xml_escape(s.name) +
               " @ " + tick_label(x) + ": " + num(y, "%.4g") + "</title></circle>\n";
      }
    }
    const double ly = top + 10 + 20 * legend_row++;
    svg += "<line x1=\"" + num(width - right + 15) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(width - right + 45) +
           "\" y2=\"" + num(ly) + "\" stroke-width=\"2\"" + dash_attr + "/>\n";
    svg += text(width - right + 52, ly + 4, s.name, "stroke=\"none\" fill=\"#000000\"");
    svg += "</g>\n";
    if (!s.baseline) ++index;
  }
  svg += "</svg>\n";
  return svg;
}

std::string heatmap_svg(const std::vector<HeatmapPanel>& panels, const std::string& title) {
  const int cell_w = 56, cell_h = 22, pad_left = 60, pad_top = 40, pad_bottom = 40, gap = 30;
  int panel_w = 0, panel_h = 0;
  for (const auto& p : panels) {
    panel_w = std::max(panel_w, pad_left + cell_w * (int)p.lengths.size());
    panel_h = std::max(panel_h, pad_top + cell_h * (int)p.depths.size() + pad_bottom);
  }
  const int cols = std::max(1, std::min(3, (int)panels.size()));
  const int rows = ((int)panels.size() + cols - 1) / cols;
  const int width = std::max(300, cols * (panel_w + gap) + gap), height = 50 + std::max(1, rows) * panel_h + 40;
  std::string svg = header(width, height);
  svg += text(width / 2.0, 26, title, "text-anchor=\"middle\" font-size=\"16\"");
  for (size_t i = 0; i < panels.size(); ++i) {
    const HeatmapPanel& p = panels[i];
    const double ox = gap + (double)(i % cols) * (panel_w + gap), oy = 50 + (double)(i / cols) * panel_h;
    svg += "<g class=\"panel\" data-panel=\"" + xml_escape(p.title) + "\">\n";
    svg += text(ox + pad_left, oy + 18, p.title, "font-size=\"13\"");
    for (size_t d = 0; d < p.depths.size(); ++d) {
      const double y = oy + pad_top + cell_h * (double)d;
      svg += text(ox + pad_left - 6, y + cell_h / 2.0 + 4, std::to_string(p.depths[d]) + "%", "text-anchor=\"end\"");
      for (size_t l = 0; l < p.lengths.size(); ++l) {
        const double x = ox + pad_left + cell_w * (double)l;
        std::optional<double> v;
        if (d < p.scores.size() && l < p.scores[d].size()) v = p.scores[d][l];
        svg += "<rect class=\"cell\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + std::to_string(cell_w) +
               "\" height=\"" + std::to_string(cell_h) + "\" fill=\"" + (v ? score_colour(*v) : "#dddddd") +
               "\" stroke=\"white\"/>\n";
        if (v) svg += text(x + cell_w / 2.0, y + cell_h / 2.0 + 4, num(*v, "%.0f"), "text-anchor=\"middle\" font-size=\"10\"");
      }
    }
    const double by = oy + pad_top + cell_h * (double)p.depths.size();
    for (size_t l = 0; l < p.lengths.size(); ++l)
      svg += text(ox + pad_left + cell_w * (l + 0.5), by + 16, std::to_string(p.lengths[l]), "text-anchor=\"middle\"");
    svg += text(ox + pad_left + cell_w * p.lengths.size() / 2.0, by + 32, "context length (tokens)",
                "text-anchor=\"middle\" font-size=\"11\"");
    svg += "</g>\n";
  }
  svg += text(10, height - 10, "rows: needle depth; colour: score 0 (red) to 100 (green)", "font-size=\"11\"");
  svg += "</svg>\n";
  return svg;
}

}  // namespace kvpress::eval
