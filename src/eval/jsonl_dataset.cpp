// JSON-lines datasets: strict field checks with file:line errors, defaults for optional fields.
#include "eval/jsonl_dataset.h"

#include <climits>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kvpress {
namespace {

using nlohmann::json;

struct LineContext {
  std::string_view source;
  std::size_t line;
};

[[noreturn]] void line_fail(const LineContext& at, std::string_view what) {
  fail(at.source, ":", at.line, ": ", what);
}

std::string type_of(const json& v) { return v.type_name(); }

std::string get_string(const json& obj, const char* key, const LineContext& at, std::string fallback) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) line_fail(at, std::string("field '") + key + "' must be a string, found " + type_of(*it));
  return it->get<std::string>();
}

// An integer field that fits in int; pandas writes 128.0 for integer columns with gaps, so integral
// floats are accepted too.
bool get_int(const json& obj, const char* key, const LineContext& at, long long& out) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  double value = 0;
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    value = static_cast<double>(it->get<long long>());
  } else if (it->is_number()) {
    value = it->get<double>();
  } else {
    line_fail(at, std::string("field '") + key + "' must be an integer, found " + type_of(*it));
  }
  if (value != std::floor(value) || value < INT_MIN || value > INT_MAX)
    line_fail(at, std::string("field '") + key + "' must be an integer that fits in 32 bits, found " + it->dump());
  out = static_cast<long long>(value);
  return true;
}

// A scalar answer as text: strings as they are, numbers as JSON writes them (InfiniteBench labels).
std::string answer_text(const json& v, const char* key, const LineContext& at) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  line_fail(at, std::string("field '") + key + "' must hold strings or numbers, found " + type_of(v));
}

std::vector<std::string> get_answers(const json& obj, const LineContext& at) {
  const char* key = obj.contains("answers") ? "answers" : obj.contains("answer") ? "answer" : nullptr;
  if (key == nullptr) return {};
  const json& v = obj.at(key);
  if (v.is_null()) return {};
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const json& item : v) out.push_back(answer_text(item, key, at));
  } else {
    out.push_back(answer_text(v, key, at));
  }
  return out;
}

std::vector<std::string> get_string_list(const json& obj, const char* key, const LineContext& at) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_array()) line_fail(at, std::string("field '") + key + "' must be a list of strings, found " + type_of(*it));
  std::vector<std::string> out;
  for (const json& item : *it) {
    if (!item.is_string()) line_fail(at, std::string("field '") + key + "' must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

TaskRecord parse_line(std::string_view line, const LineContext& at) {
  json obj;
  try {
    obj = json::parse(line);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e310
    line_fail(at, "invalid JSON (" + one_line(e.what()) + ")");
  }
  if (!obj.is_object()) line_fail(at, "expected a JSON object, found " + type_of(obj));
  if (!obj.contains("context") || obj.at("context").is_null()) line_fail(at, "missing required field 'context'");

  TaskRecord r;
  r.context = get_string(obj, "context", at, "");
  r.question = get_string(obj, "question", at, "");
  r.answer_prefix = get_string(obj, "answer_prefix", at, "");
  r.answers = get_answers(obj, at);
  r.task = get_string(obj, "task", at, std::string(kJsonlDefaultTask));
  long long v = kJsonlDefaultMaxNewTokens;
  if (get_int(obj, "max_new_tokens", at, v) && (v <= 0 || v > 1'000'000))
    line_fail(at, "field 'max_new_tokens' must be in [1, 1000000], found " + std::to_string(v));
  r.max_new_tokens = static_cast<int>(v);
  r.needle = get_string(obj, "needle", at, "");
  if (get_int(obj, "needle_depth", at, v)) r.needle_depth = static_cast<int>(v);
  if (get_int(obj, "length", at, v)) r.length = static_cast<int>(v);
  r.all_classes = get_string_list(obj, "all_classes", at);
  return r;
}

}  // namespace

std::vector<TaskRecord> parse_jsonl_records(std::string_view text, std::string_view source) {
  std::vector<TaskRecord> records;
  std::size_t pos = 0, line_no = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 byte order mark
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    records.push_back(parse_line(line, LineContext{source, line_no}));
  }
  return records;
}

std::vector<TaskRecord> load_jsonl_records(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("dataset file ", path.string(), " is a directory, expected a JSONL file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open dataset file ", path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse_jsonl_records(buf.str(), path.string());
}

std::string to_jsonl_line(const TaskRecord& r) {
  json obj = json::object();
  obj["context"] = r.context;
  obj["question"] = r.question;
  obj["answer_prefix"] = r.answer_prefix;
  obj["answers"] = r.answers;
  obj["task"] = r.task;
  obj["max_new_tokens"] = r.max_new_tokens;
  if (!r.needle.empty()) obj["needle"] = r.needle;
  if (r.needle_depth != -1) obj["needle_depth"] = r.needle_depth;  // -1 (the default) is "not NIAH"
  if (r.length != 0) obj["length"] = r.length;
  if (!r.all_classes.empty()) obj["all_classes"] = r.all_classes;
  // Replace invalid UTF-8 instead of throwing: contexts cut on token boundaries may end mid-character.
  return obj.dump(-1, ' ', false, json::error_handler_t::replace);
}

void write_jsonl_records(const std::filesystem::path& path, const std::vector<TaskRecord>& records) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail("cannot write dataset file ", path.string());
  for (const TaskRecord& r : records) out << to_jsonl_line(r) << '\n';
  if (!out) fail("error while writing dataset file ", path.string());
}

}  // namespace kvpress
