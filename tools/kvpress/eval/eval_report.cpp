// summary.md, plots and the merged leaderboard, all derived from metrics.json only (so --report works on
// folders written by any earlier run).
#include "eval_report.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "eval_config.h"
#include "svg_plot.h"

namespace kvpress::eval {
namespace {

using nlohmann::json;

// Read-only member access that yields null for a missing key (metrics.json files may come from older runs).
const json& at(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string fmt(double v, const char* f = "%.2f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string cell(const json& v, const char* f = "%.2f") { return v.is_number() ? fmt(v.get<double>(), f) : "–"; }

// Markdown table cells must not contain '|' or newlines.
std::string md(std::string s) {
  for (char& c : s)
    if (c == '|' || c == '\n') c = ' ';
  return s;
}

bool is_baseline(const json& entry) { return entry.value("press", "") == kNoPress; }

std::vector<double> ratios_of(const std::vector<json>& metrics) {
  std::map<std::string, double> by_key;
  for (const json& m : metrics)
    for (const json& e : at(m, "results"))
      if (!is_baseline(e)) by_key.emplace(ratio_key(at(e, "ratio").get<double>()), at(e, "ratio").get<double>());
  std::vector<double> out;
  for (const auto& [k, r] : by_key) out.push_back(r);
  std::sort(out.begin(), out.end());
  return out;
}

// Presses in first-seen order (the baseline first when present).
std::vector<std::string> presses_of(const json& metrics) {
  std::vector<std::string> out;
  for (const json& e : at(metrics, "results")) {
    const std::string p = at(e, "press").get<std::string>();
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

const json* find_entry(const json& metrics, const std::string& press, double ratio) {
  for (const json& e : at(metrics, "results"))
    if (at(e, "press") == press && (is_baseline(e) || ratio_key(at(e, "ratio").get<double>()) == ratio_key(ratio))) return &e;
  return nullptr;
}

std::string score_table(const std::vector<json>& metrics, const std::vector<std::string>& suffixes) {
  const std::vector<double> ratios = ratios_of(metrics);
  std::string out = "| press |";
  std::string rule = "|---|";
  for (double r : ratios) out += " " + ratio_key(r) + " |", rule += "---:|";
  if (ratios.empty()) out += " score |", rule += "---:|";
  out += "\n" + rule + "\n";
  for (size_t i = 0; i < metrics.size(); ++i)
    for (const std::string& press : presses_of(metrics[i])) {
      const bool base = press == kNoPress;
      out += "| " + md(press + (base ? " (baseline, ratio 0)" : "") + suffixes[i]) + " |";
      if (ratios.empty()) {
        const json* e = find_entry(metrics[i], press, 0);
        out += " " + (e ? cell(at(*e, "score")) : "–") + " |";
      }
      for (double r : ratios) {
        const json* e = find_entry(metrics[i], press, r);
        out += " " + (e ? cell(at(*e, "score")) : "–") + " |";
      }
      out += "\n";
    }
  return out;
}

std::string fidelity_table(const std::vector<json>& metrics, const std::vector<std::string>& suffixes) {
  std::string out =
      "| press | ratio | KL mean (nats) | KL max | top-1 agreement | log-likelihood ratio | answers |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < metrics.size(); ++i)
    for (const json& e : at(metrics[i], "results")) {
      if (!at(e, "fidelity").is_object()) continue;
      const json& f = at(e, "fidelity");
      out += "| " + md(at(e, "press").get<std::string>() + suffixes[i]) + " | " + ratio_key(at(e, "ratio").get<double>()) +
             " | " + cell(at(f, "kl_mean"), "%.4f") + " | " + cell(at(f, "kl_max"), "%.4f") + " | " +
             cell(at(f, "top1_agreement"), "%.3f") + " | " + cell(at(f, "log_likelihood_ratio_mean"), "%.3f") + " | " +
             std::to_string(at(f, "n").get<int64_t>()) + " |\n";
    }
  return out;
}

std::vector<PlotSeries> series_of(const std::vector<json>& metrics, const std::vector<std::string>& suffixes,
                                  bool kl) {
  std::vector<PlotSeries> out;
  for (size_t i = 0; i < metrics.size(); ++i)
    for (const std::string& press : presses_of(metrics[i])) {
      PlotSeries s;
      s.name = press + suffixes[i];
      s.baseline = press == kNoPress;
      if (s.baseline && kl) continue;  // KL of the baseline with itself is 0 by definition
      for (const json& e : at(metrics[i], "results")) {
        if (at(e, "press") != press) continue;
        const json& y = kl ? (at(e, "fidelity").is_object() ? at(at(e, "fidelity"), "kl_mean") : json(nullptr)) : at(e, "score");
        if (y.is_number()) s.points.push_back({at(e, "ratio").get<double>(), y.get<double>()});
      }
      if (!s.points.empty()) out.push_back(std::move(s));
    }
  return out;
}

std::string plot_title(const std::vector<json>& metrics, const std::string& what) {
  if (metrics.size() != 1) return what;
  const json& c = metrics[0].value("config", json::object());
  return what + " — " + c.value("model_file", std::string("?")) + ", " + metrics[0].value("dataset", std::string("?"));
}

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open (is this a kvpress eval folder?)");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(tmp.string(), ": cannot open for writing");
    out << text;
    out.flush();
    if (!out) fail(tmp.string(), ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(path.string(), ": cannot replace (", ec.message(), ")");
}

bool has_fidelity(const json& metrics) {
  for (const json& e : at(metrics, "results"))
    if (at(e, "fidelity").is_object()) return true;
  return false;
}

std::string summary_markdown(const json& metrics) {
  const json c = metrics.value("config", json::object());
  const std::vector<json> one = {metrics};
  const std::vector<std::string> none = {""};
  std::string out = "# kvpress eval: " + md(metrics.value("dataset", std::string())) + "\n\n";
  out += "- model: `" + c.value("model_file", std::string("?")) + "`\n";
  out += "- records: " + std::to_string(metrics.value("n_records", 0)) + " (seed " +
         std::to_string(c.value("seed", 0ull)) + ", split " + c.value("split", std::string("?")) + ")\n";
  out += "- scorer: " + metrics.value("scorer", std::string("?")) +
         "; query-aware: " + (c.value("query_aware", false) ? "yes" : "no") +
         "; chat template: " + (c.value("chat_template", true) ? "yes" : "no") + "\n";
  out += std::string("- status: ") + (metrics.value("complete", false) ? "complete" : "INCOMPLETE (resume with --resume)") +
         "\n\n";
  out += "## Score (0-100, mean over tasks) by press and compression ratio\n\n" + score_table(one, none) + "\n";

  // Per task.
  std::set<std::string> tasks;
  for (const json& e : at(metrics, "results"))
    for (const auto& [t, v] : at(e, "tasks").items()) tasks.insert(t);
  if (!tasks.empty()) {
    out += "## Per task\n\n| press | ratio |";
    std::string rule = "|---|---:|";
    for (const auto& t : tasks) out += " " + md(t) + " |", rule += "---:|";
    out += " n |\n" + rule + "---:|\n";
    for (const json& e : at(metrics, "results")) {
      out += "| " + md(at(e, "press").get<std::string>()) + " | " + ratio_key(at(e, "ratio").get<double>()) + " |";
      for (const auto& t : tasks) out += " " + (at(e, "tasks").contains(t) ? cell(at(at(e, "tasks")[t], "score")) : "–") + " |";
      out += " " + std::to_string(at(e, "n").get<int64_t>()) + "/" + std::to_string(at(e, "n_expected").get<int64_t>()) + " |\n";
    }
    out += "\n";
  }
  if (has_fidelity(metrics)) {
    out += "## Fidelity to the uncompressed run (teacher-forced baseline answers)\n\n" + fidelity_table(one, none) +
           "\nKL(P_full || P_comp) per answer token, averaged; log-likelihood ratio = log p_comp(answer) - "
           "log p_full(answer), summed over the answer, averaged over answers.\n\n";
  }
  out += "## Cache and time (means per answer)\n\n"
         "| press | ratio | context tokens | KV kept | KV MiB | prefill ms | compression ms | decode ms |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const json& e : at(metrics, "results"))
    out += "| " + md(at(e, "press").get<std::string>()) + " | " + ratio_key(at(e, "ratio").get<double>()) + " | " +
           cell(at(e, "context_tokens_mean"), "%.0f") + " | " + cell(at(e, "kv_kept_fraction"), "%.3f") + " | " +
           fmt(at(e, "kv_bytes_mean").get<double>() / (1024.0 * 1024.0), "%.3f") + " | " + cell(at(e, "prefill_ms_mean"), "%.1f") +
           " | " + cell(at(e, "compression_ms_mean"), "%.1f") + " | " + cell(at(e, "decode_ms_mean"), "%.1f") + " |\n";
  out += "\nFiles: predictions.jsonl (one line per answer), metrics.json, score_vs_ratio.svg";
  if (has_fidelity(metrics)) out += ", kl_vs_ratio.svg";
  if (metrics.value("dataset", std::string()).starts_with("niah:")) out += ", niah_heatmap.svg";
  out += ".\n";
  return out;
}

std::string score_plot_svg(const std::vector<json>& metrics, const std::vector<std::string>& suffixes) {
  LinePlotOptions o;
  o.title = plot_title(metrics, "Score vs compression ratio");
  o.y_label = "score (0-100)";
  o.y_min = 0;
  o.y_max = 100;
  return line_plot_svg(series_of(metrics, suffixes, false), o);
}

std::string kl_plot_svg(const std::vector<json>& metrics, const std::vector<std::string>& suffixes) {
  LinePlotOptions o;
  o.title = plot_title(metrics, "KL(full || compressed) vs compression ratio");
  o.y_label = "mean KL per answer token (nats)";
  return line_plot_svg(series_of(metrics, suffixes, true), o);
}

std::string niah_heatmap_from_metrics(const json& metrics) {
  std::vector<HeatmapPanel> panels;
  for (const json& e : at(metrics, "results")) {
    if (!e.contains("niah_grid")) continue;
    const json& g = at(e, "niah_grid");
    HeatmapPanel p;
    p.title = at(e, "press").get<std::string>() + (is_baseline(e) ? "" : " @ " + ratio_key(at(e, "ratio").get<double>()));
    p.lengths = at(g, "lengths").get<std::vector<int>>();
    p.depths = at(g, "depths").get<std::vector<int>>();
    for (const json& line : at(g, "scores")) {
      std::vector<std::optional<double>> row;
      for (const json& v : line) row.push_back(v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt);
      p.scores.push_back(row);
    }
    panels.push_back(std::move(p));
  }
  return heatmap_svg(panels, "Needle in a haystack: score by depth and context length");
}

MergedReport merge_reports(const std::vector<std::filesystem::path>& dirs) {
  if (dirs.empty()) fail("--report: give at least one result folder");
  std::vector<json> metrics;
  std::set<std::string> models, datasets;
  for (const auto& d : dirs) {
    metrics.push_back(read_json(d / "metrics.json"));
    if (!metrics.back().contains("results")) fail((d / "metrics.json").string(), ": no \"results\" (not a kvpress eval metrics file)");
    models.insert(metrics.back().value("config", json::object()).value("model_file", std::string("?")));
    datasets.insert(metrics.back().value("dataset", std::string("?")));
  }
  // Names carry the model and/or dataset only where the folders differ in them.
  std::vector<std::string> suffixes;
  for (const json& m : metrics) {
    std::string s;
    if (models.size() > 1) s += m.value("config", json::object()).value("model_file", std::string("?"));
    if (datasets.size() > 1) s += (s.empty() ? "" : ", ") + m.value("dataset", std::string("?"));
    suffixes.push_back(s.empty() ? "" : " (" + s + ")");
  }
  MergedReport r;
  r.markdown = "# kvpress eval leaderboard\n\nFolders: ";
  for (size_t i = 0; i < dirs.size(); ++i) r.markdown += (i ? ", " : "") + std::string("`") + dirs[i].string() + "`";
  r.markdown += "\n\n## Score (0-100, mean over tasks)\n\n" + score_table(metrics, suffixes);
  bool fidelity = false;
  for (const json& m : metrics) fidelity = fidelity || has_fidelity(m);
  if (fidelity) r.markdown += "\n## Fidelity to the uncompressed run\n\n" + fidelity_table(metrics, suffixes);
  r.score_svg = score_plot_svg(metrics, suffixes);
  if (fidelity) r.kl_svg = kl_plot_svg(metrics, suffixes);
  json series = json::array();
  for (size_t i = 0; i < metrics.size(); ++i)
    for (const std::string& press : presses_of(metrics[i])) {
      json points = json::array();
      for (const json& e : at(metrics[i], "results"))
        if (at(e, "press") == press)
          points.push_back({{"ratio", at(e, "ratio")},
                            {"score", at(e, "score")},
                            {"kl_mean", at(e, "fidelity").is_object() ? at(at(e, "fidelity"), "kl_mean") : json(nullptr)}});
      series.push_back({{"name", press + suffixes[i]},
                        {"folder", dirs[i].string()},
                        {"model", metrics[i].value("config", json::object()).value("model_file", std::string("?"))},
                        {"dataset", metrics[i].value("dataset", std::string("?"))},
                        {"points", points}});
    }
  r.table = {{"series", series}};
  return r;
}

}  // namespace kvpress::eval
