// Helpers shared by the CLI subcommands: reading files, parsing id lists, thread counts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kvpress/kv_type.h"

namespace kvpress::cli {

// --kv-type (both), --kv-type-k and --kv-type-v (each overrides --kv-type); default f16.
struct KvTypeArgs {
  std::string both = "f16", k, v;
  KvTypes resolve() const;  // throws Error naming an unknown type
};
void add_kv_type_options(CLI::App* cmd, KvTypeArgs& args);
// --prefill-chunk N: chunked prefill, the context compressed after every N tokens (0 = whole context).
void add_prefill_chunk_option(CLI::App* cmd, int64_t& chunk);

// Check of a whole-number option: a value below `min` fails with a short message naming the bound
// (CLI11's NonNegativeNumber prints the type's whole range). Values past int64 are left to CLI11.
CLI::Validator at_least(int64_t min);

// --data-dir: the folder holding paul_graham_essays/ (empty = the shipped data, see install_paths.h).
void add_data_dir_option(CLI::App* cmd, std::string& dir);

std::string read_file(const std::string& path);               // throws Error naming the file (or a directory)
std::vector<int32_t> parse_token_list(const std::string& csv);  // "1,2,3" -> ids; throws on junk
int default_threads();                                          // hardware threads, at most 8

}  // namespace kvpress::cli
