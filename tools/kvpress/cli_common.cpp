// Shared CLI helpers.
#include "cli_common.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "runtime/thread_pool.h"

namespace kvpress::cli {

std::string read_file(const std::string& path) {
  // An ifstream opens a directory and reads it as empty text.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, ": is a directory, expected a text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

std::vector<int32_t> parse_token_list(const std::string& csv) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    std::string item = csv.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t\n"));
    item.erase(item.find_last_not_of(" \t\n") + 1);
    int32_t v = 0;
    const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || r.ec != std::errc() || r.ptr != item.data() + item.size())
      fail("--tokens: '", item, "' is not a token id (expected comma-separated integers like 1,2,3)");
    ids.push_back(v);
    start = end + 1;
  }
  return ids;
}

KvTypes KvTypeArgs::resolve() const {
  const KvType base = parse_kv_type(both);
  return {k.empty() ? base : parse_kv_type(k), v.empty() ? base : parse_kv_type(v)};
}

void add_kv_type_options(CLI::App* cmd, KvTypeArgs& args) {
  const std::string choices = kv_type_choices();
  cmd->add_option("--kv-type", args.both, "KV cache storage type of keys and values: " + choices)
      ->capture_default_str();
  cmd->add_option("--kv-type-k", args.k, "storage type of the keys (overrides --kv-type), as llama.cpp's -ctk");
  cmd->add_option("--kv-type-v", args.v, "storage type of the values (overrides --kv-type), as llama.cpp's -ctv");
}

void add_prefill_chunk_option(CLI::App* cmd, int64_t& chunk) {
  cmd->add_option("--prefill-chunk", chunk,
                  "read the context N tokens at a time, compressing the cache after each chunk, so memory stays "
                  "bounded (0 = the whole context at once; docs/kv-cache.md)")
      ->check(at_least(0))
      ->capture_default_str();
}

CLI::Validator at_least(int64_t min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        int64_t v = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
        if (r.ec == std::errc::result_out_of_range && !text.starts_with("-")) return "";
        if (r.ec != std::errc() || r.ptr != text.data() + text.size())
          return "'" + text + "' is not a whole number";
        if (v < min) return "'" + text + "' is below " + std::to_string(min) + " (expected a whole number >= " +
                            std::to_string(min) + ")";
        return "";
      },
      "");  // --help shows "INT=default"; the bound is in the message
}

void add_data_dir_option(CLI::App* cmd, std::string& dir) {
  cmd->add_option("--data-dir", dir,
                  "folder holding paul_graham_essays/ (default: share/kvpress/data next to the binary, "
                  "$KVPRESS_DATA_DIR, or the source tree's data/)");
}

int default_threads() { return std::min(8, hardware_threads()); }

}  // namespace kvpress::cli
