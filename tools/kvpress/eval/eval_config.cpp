// Evaluation options: press/ratio lists, the run plan and the config.json resume check.
#include "eval_config.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "core/error.h"
#include "press/press_registry.h"

namespace kvpress::eval {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace((unsigned char)s[b])) ++b;
  while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// True when `s` at `i` reads `identifier=`.
bool starts_parameter(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && (std::isalnum((unsigned char)s[j]) || s[j] == '_')) ++j;
  return j > i && j < s.size() && s[j] == '=';
}

bool is_baseline_spec(const std::string& spec) { return spec == "none" || spec == kNoPress; }

}  // namespace

std::vector<std::string> split_press_list(std::string_view list) {
  std::vector<std::string> out;
  int depth = 0;
  bool in_params = false;  // after a depth-0 ':' the press's parameters follow
  size_t start = 0;
  for (size_t i = 0; i <= list.size(); ++i) {
    const char c = i < list.size() ? list[i] : ',';
    if (c == '(') ++depth;
    if (c == ')') {
      if (--depth < 0) fail("press list '", list, "': unbalanced ')' at character ", i + 1);
    }
    if (c == ':' && depth == 0) in_params = true;
    if (c != ',' || depth != 0) continue;
    if (i < list.size() && in_params && starts_parameter(list, i + 1)) continue;  // next parameter
    const std::string item = trim(list.substr(start, i - start));
    if (item.empty()) fail("press list '", list, "': empty press specification");
    out.push_back(item);
    start = i + 1;
    in_params = false;
  }
  if (depth != 0) fail("press list '", list, "': unbalanced '('");
  return out;
}

std::vector<double> parse_ratio_list(std::string_view list) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const std::string item = trim(list.substr(start, end - start));
    double v = 0;
    const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || r.ec != std::errc() || r.ptr != item.data() + item.size() || !std::isfinite(v))
      fail("--compression-ratio: '", item, "' is not a number (expected e.g. 0.25,0.5)");
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

std::string ratio_key(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", ratio);
  return buf;
}

std::vector<PressRun> plan_runs(const EvalConfig& config) {
  if (config.presses.empty()) fail("no press given (--press knorm,snapkv,...)");
  bool baseline = config.fidelity;
  std::vector<PressRun> others;
  for (const std::string& spec : config.presses) {
    if (is_baseline_spec(spec)) {
      baseline = true;
      continue;
    }
    if (config.ratios.empty()) fail("no compression ratio given for press '", spec, "' (--compression-ratio 0.5)");
    for (double r : config.ratios) {
      make_press(spec, r);  // validates the spec and the ratio; throws Error listing valid choices
      for (const PressRun& p : others)
        if (p.press == spec && ratio_key(p.ratio) == ratio_key(r))
          fail("press '", spec, "' at ratio ", ratio_key(r), " is listed twice");
      others.push_back({spec, r});
    }
  }
  std::vector<PressRun> runs;
  if (baseline) runs.push_back({std::string(kNoPress), 0.0});
  runs.insert(runs.end(), others.begin(), others.end());
  return runs;
}

nlohmann::json config_to_json(const EvalConfig& c) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(c.model_path, ec);
  nlohmann::json j = {
      {"model", c.model_path},
      {"model_file", std::filesystem::path(c.model_path).filename().string()},
      {"model_bytes", ec ? nlohmann::json(nullptr) : nlohmann::json((uint64_t)size)},
      {"dataset", c.dataset},
      {"samples", c.samples ? nlohmann::json(*c.samples) : nlohmann::json(nullptr)},
      {"seed", c.seed},
      {"split", c.split},
      {"query_aware", c.query_aware},
      {"max_context_length", c.max_context_length ? nlohmann::json(*c.max_context_length) : nlohmann::json(nullptr)},
      {"max_new_tokens", c.max_new_tokens ? nlohmann::json(*c.max_new_tokens) : nlohmann::json(nullptr)},
      {"chat_template", c.use_chat_template},
      {"fidelity", c.fidelity},
      {"kv_type_k", kv_type_name(c.kv_types.k)},
      {"kv_type_v", kv_type_name(c.kv_types.v)},
      {"presses", c.presses},
      {"compression_ratios", c.ratios},
  };
  if (c.prefill_chunk > 0) j["prefill_chunk"] = c.prefill_chunk;  // absent = whole-context prefill (older runs)
  return j;
}

void check_resume_compatible(const nlohmann::json& previous, const nlohmann::json& current) {
  // The model is matched by file name and size, so a moved file still resumes.
  static const char* kKeys[] = {"model_file", "model_bytes", "dataset", "samples", "seed", "split", "query_aware",
                                "max_context_length", "max_new_tokens", "chat_template", "fidelity",
                                "kv_type_k", "kv_type_v", "prefill_chunk"};
  std::string diffs;
  for (const char* key : kKeys) {
    const nlohmann::json before = previous.contains(key) ? previous[key] : nlohmann::json(nullptr);
    const nlohmann::json now = current.contains(key) ? current[key] : nlohmann::json(nullptr);
    if (before != now) diffs += std::string(diffs.empty() ? "" : "; ") + key + " was " + before.dump() + ", now " + now.dump();
  }
  if (!diffs.empty())
    fail("--resume: the options differ from the run in this folder (", diffs,
         "); use the same options or another --out folder");
}

}  // namespace kvpress::eval
