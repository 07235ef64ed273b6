// Typed reading of press parameters with messages that name the press, the key and the range.
#include "press/press_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "press/score_utils.h"

namespace kvpress {

PressArgs::PressArgs(std::string press_name, KeyValues values, std::vector<std::unique_ptr<Press>> inner,
                     bool describing)
    : press_name_(std::move(press_name)), values_(std::move(values)), inner_(std::move(inner)),
      describing_(describing) {}

const std::string* PressArgs::find(const std::string& key) {
  for (const auto& [k, v] : values_)
    if (k == key) return &v;
  return nullptr;
}

void PressArgs::bad_value(const std::string& key, const std::string& value, const std::string& expected) const {
  fail("press '", press_name_, "': parameter ", key, "=", value, " is invalid (expected ", expected, ")");
}

int64_t PressArgs::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  known_.emplace_back(key, std::to_string(fallback));
  const std::string* v = find(key);
  if (!v) return fallback;
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  int64_t x = 0;
  const auto r = std::from_chars(v->data(), v->data() + v->size(), x);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size() || x < min || x > max) bad_value(key, *v, range);
  return x;
}

double PressArgs::real(const std::string& key, double fallback, double min, double max) {
  known_.emplace_back(key, format_number(fallback));
  const std::string* v = find(key);
  if (!v) return fallback;
  const std::string range = "a number in [" + format_number(min) + ", " + format_number(max) + "]";
  double x = 0;
  const auto r = std::from_chars(v->data(), v->data() + v->size(), x);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size() || !std::isfinite(x) || x < min || x > max)
    bad_value(key, *v, range);
  return x;
}

bool PressArgs::boolean(const std::string& key, bool fallback) {
  known_.emplace_back(key, fallback ? "true" : "false");
  const std::string* v = find(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  bad_value(key, *v, "true, false, 1 or 0");
}

std::optional<uint64_t> PressArgs::optional_unsigned(const std::string& key) {
  known_.emplace_back(key, "none");
  const std::string* v = find(key);
  if (!v || *v == "none") return std::nullopt;
  uint64_t x = 0;
  const auto r = std::from_chars(v->data(), v->data() + v->size(), x);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size()) bad_value(key, *v, "a non-negative integer or none");
  return x;
}

namespace {
bool parse_real(const std::string& text, double min, double max, double& x) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), x);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(x) && x >= min && x <= max;
}
}  // namespace

std::optional<double> PressArgs::optional_real(const std::string& key, double min, double max) {
  known_.emplace_back(key, "none");
  const std::string* v = find(key);
  if (!v || *v == "none") return std::nullopt;
  double x = 0;
  if (!parse_real(*v, min, max, x))
    bad_value(key, *v, "a number in [" + format_number(min) + ", " + format_number(max) + "] or none");
  return x;
}

std::vector<double> PressArgs::real_list(const std::string& key, double min, double max) {
  known_.emplace_back(key, "none");
  const std::string* v = find(key);
  if (!v || *v == "none") return {};
  std::vector<double> out;
  size_t begin = 0;
  while (true) {
    const size_t end = std::min(v->find(';', begin), v->size());
    double x = 0;
    if (!parse_real(v->substr(begin, end - begin), min, max, x))
      bad_value(key, *v, "numbers in [" + format_number(min) + ", " + format_number(max) + "] separated by ';'");
    out.push_back(x);
    if (end == v->size()) break;
    begin = end + 1;
  }
  return out;
}

std::string PressArgs::choice(const std::string& key, const std::string& fallback,
                              const std::vector<std::string>& options) {
  known_.emplace_back(key, fallback);
  const std::string* v = find(key);
  if (!v) return fallback;
  if (std::find(options.begin(), options.end(), *v) != options.end()) return *v;
  std::string list;
  for (const auto& o : options) list.append(list.empty() ? "" : ", ").append(o);
  bad_value(key, *v, "one of " + list);
}

std::string PressArgs::text(const std::string& key, const std::string& fallback) {
  known_.emplace_back(key, fallback);
  const std::string* v = find(key);
  return v ? *v : fallback;
}

std::vector<std::unique_ptr<Press>> PressArgs::take_inner(size_t min_count, size_t max_count) {
  takes_inner_ = true;
  if (describing_) return {};
  if (inner_.size() < min_count || inner_.size() > max_count) {
    const std::string want = min_count == max_count ? std::to_string(min_count)
                                                    : std::to_string(min_count) + " or more";
    fail("press '", press_name_, "' is a wrapper and takes ", want, " inner press", (max_count == 1 ? "" : "es"),
         " in parentheses, e.g. ", press_name_, "(snapkv); got ", inner_.size());
  }
  return std::move(inner_);
}

void PressArgs::check_complete() const {
  for (const auto& entry : values_) {
    const std::string& key = entry.first;  // not a structured binding: clang 14 cannot capture one
    const bool known = std::any_of(known_.begin(), known_.end(), [&](const auto& kv) { return kv.first == key; });
    if (known) continue;
    if (known_.empty()) fail("press '", press_name_, "' takes no parameters (got '", key, "')");
    std::string names;
    for (const auto& kv : known_) names.append(names.empty() ? "" : ", ").append(kv.first);
    fail("press '", press_name_, "' has no parameter '", key, "' (parameters: ", names, ")");
  }
  if (!takes_inner_ && !inner_.empty())
    fail("press '", press_name_, "' is not a wrapper and takes no inner presses in parentheses");
}

std::string PressArgs::parameter_summary() const {
  std::string s;
  for (const auto& [key, def] : known_) s.append(s.empty() ? "" : ", ").append(key).append("=").append(def);
  return s;
}

bool PressArgs::declared(const std::string& key) const {
  for (const auto& kv : known_)
    if (kv.first == key) return true;
  return false;
}

}  // namespace kvpress
