// Human-readable views of metrics.json: summary.md, the score/KL versus ratio plots, the NIAH heatmap,
// and the merged leaderboard of several result folders (`kvpress eval --report DIR...`).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvpress::eval {

// Writes via a temporary file and rename, so an interruption never leaves a half-written file.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

// summary.md for one run's metrics.json (which includes "config").
std::string summary_markdown(const nlohmann::json& metrics);

bool has_fidelity(const nlohmann::json& metrics);

// One series per press of each metrics object; suffixes[i] is appended to the names from metrics[i]
// (to tell apart models or datasets in a merged report). no_press is a dashed horizontal line.
std::string score_plot_svg(const std::vector<nlohmann::json>& metrics, const std::vector<std::string>& suffixes);
std::string kl_plot_svg(const std::vector<nlohmann::json>& metrics, const std::vector<std::string>& suffixes);

// One panel per (press, ratio) from the "niah_grid" entries.
std::string niah_heatmap_from_metrics(const nlohmann::json& metrics);

struct MergedReport {
  std::string markdown;   // leaderboard table (score per series x ratio) and fidelity table
  std::string score_svg;
  std::string kl_svg;     // empty when no folder has fidelity results
  nlohmann::json table;   // {"series": [{"name", "folder", "model", "dataset", "points": [...]}]}
};

// Reads DIR/metrics.json of each folder. Throws Error naming a folder without a readable metrics.json.
MergedReport merge_reports(const std::vector<std::filesystem::path>& dirs);

}  // namespace kvpress::eval
