// Self-contained SVG charts for evaluation results: score (or KL) versus compression ratio with one
// line per press, and NIAH depth x length heatmaps. Plain SVG 1.1, no scripts, no external resources.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvpress::eval {

// Escapes & < > " ' for XML text and attribute values.
std::string xml_escape(std::string_view text);

struct PlotSeries {
  std::string name;                               // legend text; also the group's data-series attribute
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in increasing x
  bool baseline = false;  // drawn as a dashed horizontal line at its (first) y across the plot
};

struct LinePlotOptions {
  std::string title;
  std::string x_label = "compression ratio";
  std::string y_label = "score";
  std::optional<double> y_min, y_max;  // default: from the data (0 included)
  // Explicit x ticks (value, label), ascending; they also set the x range. Default: nice steps from 0.
  std::vector<std::pair<double, std::string>> x_ticks;
};

// Each series is one <g class="series" data-series="NAME"> holding a <polyline> (or a dashed <line> for a
// baseline) and one <circle> per point; a legend lists the series in order.
std::string line_plot_svg(const std::vector<PlotSeries>& series, const LinePlotOptions& options);

// One panel per (press, ratio): rows = needle depths (%), columns = context lengths; colour = score in
// [0, 100] (red to green), empty cells grey. scores[depth][length].
struct HeatmapPanel {
  std::string title;
  std::vector<int> lengths;
  std::vector<int> depths;
  std::vector<std::vector<std::optional<double>>> scores;
};
std::string heatmap_svg(const std::vector<HeatmapPanel>& panels, const std::string& title);

}  // namespace kvpress::eval
