// Formatting bench rows: llama-bench-compatible records and the figure (table and two SVG plots).
#include "bench/bench_output.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "core/error.h"
#include "svg_plot.h"

namespace kvpress::cli::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

struct Stats {
  double mean = 0, sd = 0, median = 0;
};
Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / (double)v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (double)(v.size() - 1)) : 0.0;
  std::sort(v.begin(), v.end());
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

std::vector<double> samples_ts(const BenchRow& row) {
  const double tokens = (double)(row.spec.n_prompt + row.spec.n_gen);
  std::vector<double> ts;
  for (double ns : row.result.samples_ns) ts.push_back(ns > 0 ? tokens / (ns / 1e9) : 0.0);
  return ts;
}

bool is_decode(const RowSpec& s) { return s.n_gen > 0 && s.n_prompt == 0; }

// Bytes one decoded token reads: the weights once, plus the cache as it stands (its mean over the test).
double decode_bytes_per_token(const BenchRow& row, const BenchSetup& setup) {
  return (double)setup.decode_weight_bytes + (double)(row.result.kv_bytes + row.result.kv_bytes_end) / 2.0;
}

std::string kv_label(const KvTypes& t) {
  return t.k == t.v ? std::string(kv_type_name(t.k))
                    : std::string(kv_type_name(t.k)) + "/" + std::string(kv_type_name(t.v));
}

std::string length_label(int64_t n) {
  return n % 1024 == 0 ? std::to_string(n / 1024) + "k" : std::to_string(n);
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::string test_name(const RowSpec& s) {
  std::string name;
  if (s.n_prompt > 0) name = "pp" + std::to_string(s.n_prompt);
  if (s.n_gen > 0) name += (name.empty() ? "tg" : "+tg") + std::to_string(s.n_gen);
  if (s.n_depth > 0) name += " @ d" + std::to_string(s.n_depth);
  return name;
}

nlohmann::ordered_json row_json(const BenchRow& row, const BenchSetup& setup) {
  const RowSpec& s = row.spec;
  const RowResult& r = row.result;
  const auto ts = samples_ts(row);
  const Stats ns = stats_of(r.samples_ns), t = stats_of(ts);
  nlohmann::ordered_json j = {
      {"model_filename", setup.model_filename}, {"model_type", setup.model_type},
      {"model_size", setup.model_size},         {"model_n_params", setup.model_n_params},
      {"cpu_info", setup.cpu},                  {"backends", "CPU (" + setup.kernel_set + ")"},
      {"n_threads", row.n_threads},           {"type_k", kv_type_name(s.kv_types.k)},
      {"type_v", kv_type_name(s.kv_types.v)},   {"n_prompt", s.n_prompt},
      {"n_gen", s.n_gen},                       {"n_depth", s.n_depth},
      {"test", test_name(s)},                   {"avg_ns", (int64_t)std::llround(ns.mean)},
      {"stddev_ns", (int64_t)std::llround(ns.sd)}, {"avg_ts", t.mean},
      {"stddev_ts", t.sd},                      {"median_ts", t.median},
      {"samples_ns", r.samples_ns},             {"samples_ts", ts},
      {"press", s.press},                       {"compression_ratio", s.ratio},
      {"synthetic_cache", s.synthetic},         {"kv_bytes", r.kv_bytes},
      {"kv_bytes_full", r.kv_bytes_full},       {"peak_rss_bytes", r.peak_rss_bytes},
      {"peak_rss_of_row", r.peak_rss_of_row},
  };
  if (s.n_depth > 0) {
    j["context_prefill_ts"] = s.synthetic || r.context_s <= 0 ? nlohmann::ordered_json(nullptr)
                                                              : nlohmann::ordered_json((double)s.n_depth / r.context_s);
    j["press_ms"] = r.press_ms;
    if (s.prefill_chunk > 0) j["prefill_chunk"] = s.prefill_chunk;
  }
  if (is_decode(s)) {
    const double bytes = decode_bytes_per_token(row, setup);
    j["decode_bytes_per_token"] = bytes;
    j["read_bandwidth_gbs"] = row.read_bandwidth / 1e9;
    j["roofline_fraction"] = row.read_bandwidth > 0 ? bytes * t.median / row.read_bandwidth : 0.0;
  }
  return j;
}

std::string format_rows(const std::vector<BenchRow>& rows, const BenchSetup& setup, const std::string& format) {
  std::ostringstream out;
  if (format == "json") {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& r : rows) all.push_back(row_json(r, setup));
    out << all.dump(2) << "\n";
  } else if (format == "jsonl") {
    for (const auto& r : rows) out << row_json(r, setup).dump() << "\n";
  } else if (format == "csv") {
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto j = row_json(rows[i], setup);
      std::string header, line;
      for (auto it = j.begin(); it != j.end(); ++it) {
        header += (header.empty() ? "" : ",") + it.key();
        std::string cell;
        if (it->is_array()) {
          for (const auto& v : *it) cell += (cell.empty() ? "" : " ") + v.dump();
        } else {
          cell = it->is_string() ? it->get<std::string>() : it->dump();
        }
        line += (it == j.begin() ? "\"" : ",\"") + cell + "\"";
      }
      if (i == 0) out << header << "\n";
      out << line << "\n";
    }
  } else if (format == "md") {
    out << "| model | size | params | threads | type_k | type_v | press | ratio | test | t/s | KV MiB | peak RSS MiB | "
           "roofline |\n| --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (const auto& r : rows) {
      const auto j = row_json(r, setup);
      const std::string roof = is_decode(r.spec)
                                   ? fixed(100.0 * j["roofline_fraction"].get<double>(), 0) + "% of " +
                                         fixed(r.read_bandwidth / 1e9, 1) + " GB/s"
                                   : "";
      out << "| " << setup.model_type << " | " << fixed(setup.model_size / kMiB, 2) << " MiB | "
          << fixed(setup.model_n_params / 1e6, 2) << " M | " << r.n_threads << " | " << kv_type_name(r.spec.kv_types.k)
          << " | " << kv_type_name(r.spec.kv_types.v) << " | " << r.spec.press << " | " << r.spec.ratio << " | "
          << test_name(r.spec) << (r.spec.synthetic ? " (synthetic)" : "") << " | "
          << fixed(j["avg_ts"].get<double>(), 2) << " ± " << fixed(j["stddev_ts"].get<double>(), 2) << " | "
          << fixed(r.result.kv_bytes_end / kMiB, 1) << " | " << fixed(r.result.peak_rss_bytes / kMiB, 0) << " | "
          << roof << " |\n";
    }
  } else {
    fail("-o: unknown output format '", format, "' (choose md, json, jsonl or csv)");
  }
  return out.str();
}

std::string figure_markdown(const std::vector<BenchRow>& rows, const BenchSetup& setup) {
  std::ostringstream out;
  out << "| KV type | press | ratio | context | cache | prefill t/s | press ms | decode t/s (median) | KV MiB | "
         "peak RSS MiB | read GB/s | of bandwidth |\n"
         "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& r : rows) {
    const auto j = row_json(r, setup);
    const double ts = j["median_ts"].get<double>();
    const double gbs = decode_bytes_per_token(r, setup) * ts / 1e9;
    out << "| " << kv_label(r.spec.kv_types) << " | " << r.spec.press << " | " << r.spec.ratio << " | "
        << r.spec.n_depth << " | " << (r.spec.synthetic ? "synthetic" : "prefilled") << " | "
        << (j["context_prefill_ts"].is_null() ? std::string("-") : fixed(j["context_prefill_ts"].get<double>(), 1))
        << " | " << (r.spec.synthetic ? std::string("-") : fixed(r.result.press_ms, 1)) << " | " << fixed(ts, 2)
        << " | " << fixed(r.result.kv_bytes / kMiB, 1) << " | " << fixed(r.result.peak_rss_bytes / kMiB, 0) << " | "
        << fixed(gbs, 1) << " | " << fixed(100.0 * j["roofline_fraction"].get<double>(), 0) << "% |\n";
  }
  out << "\nModel " << setup.model_filename << " (" << setup.model_type << "), " << rows.front().n_threads
      << " threads, " << setup.cpu << "; read bandwidth " << fixed(rows.front().read_bandwidth / 1e9, 1)
      << " GB/s (STREAM-like probe). Read GB/s = (weight bytes + KV bytes) per decoded token x decode t/s.\n";
  return out.str();
}

void write_figure(const std::string& dir, const std::vector<BenchRow>& rows, const BenchSetup& setup) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    const fs::path path = fs::path(dir) / name, tmp = fs::path(dir) / (name + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary);
      out << text;
      if (!out) fail(tmp.string(), ": cannot write");
    }
    fs::rename(tmp, path);
  };
  write("bench.json", format_rows(rows, setup, "json"));
  write("bench.md", figure_markdown(rows, setup));

  // One line per (KV types, ratio); x = log2(context) with the lengths as tick labels.
  std::map<std::pair<std::string, double>, std::vector<const BenchRow*>> lines;
  std::set<int64_t> lengths;
  for (const auto& r : rows) {
    lines[{kv_label(r.spec.kv_types), r.spec.ratio}].push_back(&r);
    lengths.insert(r.spec.n_depth);
  }
  eval::LinePlotOptions base;
  base.x_label = "context length (tokens, log scale)";
  for (int64_t n : lengths) base.x_ticks.push_back({std::log2((double)n), length_label(n)});
  auto plot = [&](const std::string& title, const std::string& y_label, auto value) {
    std::vector<eval::PlotSeries> series;
    for (const auto& [key, members] : lines) {
      eval::PlotSeries s;
      s.name = "KV " + key.first + ", ratio " + fixed(key.second, 2);
      for (const BenchRow* r : members) s.points.push_back({std::log2((double)r->spec.n_depth), value(*r)});
      series.push_back(std::move(s));
    }
    eval::LinePlotOptions o = base;
    o.title = title;
    o.y_label = y_label;
    return eval::line_plot_svg(series, o);
  };
  std::string who = std::filesystem::path(setup.model_filename).filename().string() + ", " +
                    rows.front().spec.press + ", " + std::to_string(rows.front().n_threads) + " threads";
  int64_t first_synthetic = 0;
  for (const auto& r : rows)
    if (r.spec.synthetic && (first_synthetic == 0 || r.spec.n_depth < first_synthetic)) first_synthetic = r.spec.n_depth;
  if (first_synthetic > 0) who += "; synthetic cache from " + length_label(first_synthetic);
  write("memory.svg", plot("Peak memory vs context length (" + who + ")", "peak RSS (MiB)",
                           [](const BenchRow& r) { return (double)r.result.peak_rss_bytes / kMiB; }));
  write("decode.svg", plot("Decode speed vs context length (" + who + ")", "decode tokens/s (median)",
                           [&](const BenchRow& r) { return row_json(r, setup)["median_ts"].get<double>(); }));
}

}  // namespace kvpress::cli::bench
