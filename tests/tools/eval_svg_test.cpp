// SVG output of the eval: well-formed XML (strict checker, itself tested on malformed input), one series
// per press, the baseline as a dashed line, escaped names, NIAH heatmap cells.
#include <algorithm>

#include <gtest/gtest.h>

#include "eval_report.h"
#include "svg_plot.h"
#include "xml_check.h"

namespace kvpress::eval {
namespace {

using kvpress::testing::XmlChecker;
using kvpress::testing::XmlElement;

std::vector<const XmlElement*> with_class(const std::vector<XmlElement>& els, const std::string& cls) {
  std::vector<const XmlElement*> out;
  for (const auto& e : els)
    if (e.attributes.count("class") && e.attributes.at("class") == cls) out.push_back(&e);
  return out;
}

TEST(XmlChecker, RejectsMalformedDocuments) {
  EXPECT_NO_THROW(XmlChecker::parse("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t&amp;<c y='2'>&#65;</c></a>\n"));
  const char* bad[] = {"<a><b></a></b>", "<a>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>x & y</a>",
                       "<a>&nbsp;</a>", "<a/><b/>", "<a>1 < 2</a>", "<a x=\"<\"/>", "text", "<a></A>"};
  for (const char* doc : bad) EXPECT_THROW(XmlChecker::parse(doc), std::runtime_error) << doc;
}

TEST(SvgPlot, OneSeriesPerPressAndDashedBaseline) {
  std::vector<PlotSeries> series = {
      {"no_press", {{0.0, 80.0}}, true},
      {"knorm", {{0.5, 40.0}, {0.25, 60.0}}, false},
      {"snap<kv>&\"x\"", {{0.25, 70.0}, {0.5, 55.0}}, false},
  };
  LinePlotOptions o;
  o.title = "A & B";
  o.y_min = 0;
  o.y_max = 100;
  const std::string svg = line_plot_svg(series, o);
  const auto els = XmlChecker::parse(svg);
  EXPECT_EQ(els.front().name, "svg");
  const auto groups = with_class(els, "series");
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0]->attributes.at("data-series"), "no_press");
  EXPECT_EQ(groups[2]->attributes.at("data-series"), "snap<kv>&\"x\"");  // escaped in the file, exact after parsing
  int polylines = 0, circles = 0, dashed_lines = 0;
  for (const auto& e : els) {
    polylines += e.name == "polyline";
    circles += e.name == "circle";
    dashed_lines += e.name == "line" && e.attributes.count("stroke-dasharray") && e.attributes.at("stroke-dasharray") == "6 4";
  }
  EXPECT_EQ(polylines, 2);      // one per compressed press
  EXPECT_EQ(circles, 4);        // one per point
  EXPECT_EQ(dashed_lines, 2);   // the baseline line and its legend sample
  // Points are sorted by ratio: knorm's polyline goes left to right, its score falling (y grows downwards).
  for (const auto& e : els)
    if (e.name == "polyline") {
      float x0, y0, x1, y1;
      ASSERT_EQ(std::sscanf(e.attributes.at("points").c_str(), "%f,%f %f,%f", &x0, &y0, &x1, &y1), 4);
      EXPECT_LT(x0, x1);
    }
}

// A full-cache baseline scoring 100 on a 0-100 axis lies inside the frame, not on its top edge.
TEST(SvgPlot, BaselineAtTheAxisLimitIsDrawnInsideTheFrame) {
  LinePlotOptions o;
  o.y_min = 0;
  o.y_max = 100;
  const auto els = XmlChecker::parse(line_plot_svg({{"no_press", {{0.0, 100.0}}, true}, {"knorm", {{0.5, 0.0}}, false}}, o));
  double frame_top = -1, frame_bottom = -1, baseline_y = -1;
  for (const auto& e : els) {
    if (e.name == "rect" && e.attributes.count("stroke") && e.attributes.at("stroke") == "#333333") {
      frame_top = std::stod(e.attributes.at("y"));
      frame_bottom = frame_top + std::stod(e.attributes.at("height"));
    }
    if (e.name == "line" && e.attributes.count("stroke-width") && baseline_y < 0 &&
        e.attributes.count("stroke-dasharray") && e.attributes.at("stroke-dasharray") == "6 4")
      baseline_y = std::stod(e.attributes.at("y1"));
  }
  ASSERT_GT(frame_top, 0);
  EXPECT_GT(baseline_y, frame_top + 5) << "baseline on the frame";
  EXPECT_LT(baseline_y, frame_bottom);
  // The lowest score (knorm's 0) sits above the bottom edge too.
  for (const auto& e : els) {
    if (e.name != "circle") continue;
    EXPECT_LT(std::stod(e.attributes.at("cy")), frame_bottom - 5);
  }
}

TEST(SvgPlot, EmptyAndSinglePointPlotsAreValid) {
  EXPECT_NO_THROW(XmlChecker::parse(line_plot_svg({}, {})));
  EXPECT_NO_THROW(XmlChecker::parse(line_plot_svg({{"knorm", {{0.5, 0.0}}, false}}, {})));
  EXPECT_NO_THROW(XmlChecker::parse(line_plot_svg({{"x", {{0.5, 1e-9}, {0.75, 1e-9}}, false}}, {})));
}

TEST(SvgPlot, HeatmapHasOneCellPerDepthAndLength) {
  HeatmapPanel p{"knorm @ 0.5", {256, 512, 1024}, {0, 50}, {{0.0, 50.0, std::nullopt}, {100.0, 75.0, 25.0}}};
  HeatmapPanel q = p;
  q.title = "no_press";
  const auto els = XmlChecker::parse(heatmap_svg({p, q}, "NIAH <test>"));
  EXPECT_EQ(with_class(els, "panel").size(), 2u);
  const auto cells = with_class(els, "cell");
  ASSERT_EQ(cells.size(), 12u);
  EXPECT_EQ(cells[2]->attributes.at("fill"), "#dddddd");  // missing score
  EXPECT_EQ(cells[0]->attributes.at("fill"), "#d73027");  // 0 = red end
  EXPECT_EQ(cells[3]->attributes.at("fill"), "#1a9850");  // 100 = green end
}

TEST(SvgPlot, ScorePlotFromMetricsJson) {
  nlohmann::json m = {
      {"dataset", "ruler:vt:512"},
      {"config", {{"model_file", "m.gguf"}}},
      {"results",
       {{{"press", "no_press"}, {"ratio", 0.0}, {"score", 50.0}, {"fidelity", nullptr}},
        {{"press", "knorm"}, {"ratio", 0.25}, {"score", 40.0}, {"fidelity", {{"kl_mean", 0.1}}}},
        {{"press", "knorm"}, {"ratio", 0.5}, {"score", 30.0}, {"fidelity", {{"kl_mean", 0.3}}}},
        {{"press", "tova"}, {"ratio", 0.5}, {"score", nullptr}, {"fidelity", {{"kl_mean", 0.2}}}}}}};
  const auto score_els = XmlChecker::parse(score_plot_svg({m}, {""}));  // with_class points into it
  const auto score = with_class(score_els, "series");
  ASSERT_EQ(score.size(), 2u);  // tova has no score, so no line
  EXPECT_EQ(score[0]->attributes.at("data-series"), "no_press");
  EXPECT_EQ(score[1]->attributes.at("data-series"), "knorm");
  const auto kl_els = XmlChecker::parse(kl_plot_svg({m}, {""}));
  const auto kl = with_class(kl_els, "series");
  ASSERT_EQ(kl.size(), 2u);  // knorm and tova; the baseline has no KL line
  EXPECT_EQ(kl[1]->attributes.at("data-series"), "tova");
}

}  // namespace
}  // namespace kvpress::eval
