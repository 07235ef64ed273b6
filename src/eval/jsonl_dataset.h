// Reading and writing TaskRecords as JSON lines with kvpress's record fields.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "eval/task_record.h"

namespace kvpress {

// Defaults for fields a line leaves out.
inline constexpr std::string_view kJsonlDefaultTask = "jsonl";
inline constexpr int kJsonlDefaultMaxNewTokens = 128;  // RULER's niah value, the largest of kvpress's usual ones

// One JSON object per line; blank lines are skipped. Fields:
//   context (string, required); question, answer_prefix (string, default "");
//   answers or answer: a string, a number, or a list of strings/numbers (numbers kept as their JSON text;
//     default: no answers); task (string, default "jsonl"); max_new_tokens (positive integer, default 128);
//   optional extras: needle (string), needle_depth (integer), length (integer), all_classes (list of strings).
// Unknown fields are ignored. Any other problem throws Error naming the file and the 1-based line number.
std::vector<TaskRecord> load_jsonl_records(const std::filesystem::path& path);

// The same from text already in memory; `source` names it in error messages.
std::vector<TaskRecord> parse_jsonl_records(std::string_view text, std::string_view source);

// One line (no trailing newline) that parse_jsonl_records reads back to an equal record; extras are
// written only when set.
std::string to_jsonl_line(const TaskRecord& record);

// Writes one line per record; throws Error if the file cannot be written.
void write_jsonl_records(const std::filesystem::path& path, const std::vector<TaskRecord>& records);

}  // namespace kvpress
