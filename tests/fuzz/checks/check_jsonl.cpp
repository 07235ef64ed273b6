// JSONL dataset reader: any text parses into records or throws an Error naming the source and line;
// every parsed record written back with to_jsonl_line reads back equal (the documented round trip).
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "eval/jsonl_dataset.h"
#include "fuzz_check.h"

namespace kvpress::fuzz {
namespace {

bool same_record(const TaskRecord& a, const TaskRecord& b) {
  return a.context == b.context && a.question == b.question && a.answer_prefix == b.answer_prefix &&
         a.answers == b.answers && a.task == b.task && a.max_new_tokens == b.max_new_tokens && a.needle == b.needle &&
         a.needle_depth == b.needle_depth && a.length == b.length && a.all_classes == b.all_classes;
}

}  // namespace

void check_jsonl(Bytes input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  std::vector<TaskRecord> records;
  try {
    records = parse_jsonl_records(text, "fuzz-input");
  } catch (const Error& e) {
    const std::string message = e.what();
    require_error_message(message);
    require(message.rfind("fuzz-input:", 0) == 0, "the message names the source and line", message);
    return;
  }
  for (const TaskRecord& r : records) {
    require(r.max_new_tokens > 0, "max_new_tokens is positive");
    const std::string line = to_jsonl_line(r);
    require(line.find('\n') == std::string::npos, "to_jsonl_line writes one line", line);
    std::vector<TaskRecord> back;
    try {
      back = parse_jsonl_records(line, "round-trip");
    } catch (const Error& e) {
      violated("a written record reads back", e.what());
    }
    require(back.size() == 1 && same_record(back[0], r), "to_jsonl_line reads back to an equal record", line);
  }
}

}  // namespace kvpress::fuzz
