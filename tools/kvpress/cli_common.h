// Helpers shared by the CLI subcommands: reading files, parsing id lists, thread counts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvpress::cli {

std::string read_file(const std::string& path);               // throws Error naming the file
std::vector<int32_t> parse_token_list(const std::string& csv);  // "1,2,3" -> ids; throws on junk
int default_threads();                                          // hardware threads, at most 8

}  // namespace kvpress::cli
