// Dataset spec parsing and loading for the evaluation CLI.
#include "eval/dataset.h"

#include <charconv>
#include <climits>

#include "core/error.h"
#include "eval/jsonl_dataset.h"
#include "eval/niah_dataset.h"
#include "eval/text_utils.h"

namespace kvpress {
namespace {

// "kind:a:b" -> {a, b}; exactly two fields after the kind.
std::pair<std::string, std::string> two_fields(std::string_view spec, std::string_view kind, std::string_view usage) {
  const std::string_view rest = spec.substr(kind.size() + 1);
  const std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos || rest.find(':', colon + 1) != std::string_view::npos)
    fail("dataset '", spec, "': expected ", usage);
  const std::string a(rest.substr(0, colon)), b(rest.substr(colon + 1));
  if (a.empty() || b.empty()) fail("dataset '", spec, "': expected ", usage);
  return {a, b};
}

std::vector<std::string> comma_list(std::string_view list, std::string_view spec) {
  std::vector<std::string> items = text::split_on(list, ",");
  for (std::string& item : items) {
    item = text::strip(item);
    if (item.empty()) fail("dataset '", spec, "': empty item in list '", list, "'");
  }
  return items;
}

int parse_int(std::string_view text, std::string_view what) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) fail(what, " '", text, "' is not an integer");
  return value;
}

}  // namespace

int parse_token_length(std::string_view text) {
  if (text.empty()) fail("token length is empty");
  const bool kilo = text.back() == 'k' || text.back() == 'K';
  const int base = parse_int(kilo ? text.substr(0, text.size() - 1) : text, "token length");
  if (base <= 0) fail("token length '", text, "' must be positive");
  if (kilo && base > INT_MAX / 1024) fail("token length '", text, "' is too large");
  return kilo ? base * 1024 : base;
}

RulerSpec parse_ruler_spec(std::string_view spec) {
  const auto [tasks, lengths] = two_fields(spec, "ruler", "ruler:<tasks|all>:<lengths> (e.g. ruler:all:4k)");
  RulerSpec out;
  if (tasks == "all") {
    for (std::size_t i = 0; i < kNumRulerTasks; ++i) out.tasks.push_back(static_cast<RulerTask>(i));
  } else {
    for (const std::string& t : comma_list(tasks, spec)) out.tasks.push_back(parse_ruler_task(t));
  }
  for (const std::string& l : comma_list(lengths, spec)) out.lengths.push_back(parse_token_length(l));
  return out;
}

NiahSpec parse_niah_spec(std::string_view spec) {
  const auto [lengths, depths] = two_fields(spec, "niah", "niah:<lengths>:<depths> (e.g. niah:2k,4k:0,50,100)");
  NiahSpec out;
  for (const std::string& l : comma_list(lengths, spec)) out.lengths.push_back(parse_token_length(l));
  for (const std::string& d : comma_list(depths, spec)) {
    const int depth = parse_int(d, "needle depth");
    if (depth < 0 || depth > 100) fail("dataset '", spec, "': needle depth ", depth, " is outside [0, 100]");
    out.depths.push_back(depth);
  }
  return out;
}

std::vector<TaskRecord> load_dataset(std::string_view spec, const DatasetOptions& options) {
  const std::string_view kind = spec.substr(0, spec.find(':'));
  if (kind.size() == spec.size()) fail("dataset '", spec, "': expected ruler:..., niah:... or jsonl:<file>");
  if (kind == "jsonl") {
    const std::string_view path = spec.substr(6);
    if (path.empty()) fail("dataset '", spec, "': expected jsonl:<file>");
    return load_jsonl_records(std::filesystem::path(std::string(path)));
  }
  if (kind != "ruler" && kind != "niah") fail("unknown dataset kind '", kind, "' (expected ruler, niah or jsonl)");

  if (kind == "niah") {
    const NiahSpec s = parse_niah_spec(spec);  // spec errors first, before any data is read
    if (!options.codec.encode || !options.codec.decode) fail("dataset '", spec, "' needs a tokenizer (encode and decode)");
    NiahOptions niah;
    niah.lengths = s.lengths;
    niah.depths = s.depths;
    return make_niah_dataset(Haystack::load(options.data_dir), options.codec, niah);
  }
  const RulerSpec s = parse_ruler_spec(spec);
  if (!options.codec.encode) fail("dataset '", spec, "' needs a tokenizer to count tokens");
  const auto encode = options.codec.encode;
  const RulerGenerator generator = RulerGenerator::from_data_dir(
      options.data_dir, [encode](std::string_view t) { return encode(t).size(); });
  std::vector<TaskRecord> records;
  for (int length : s.lengths)
    for (RulerTask task : s.tasks) {
      std::vector<TaskRecord> batch = generator.generate_many(task, length, options.seed, options.n_samples, options.split);
      records.insert(records.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    }
  return records;
}

}  // namespace kvpress
