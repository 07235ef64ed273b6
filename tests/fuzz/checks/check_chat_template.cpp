// Chat templates: the input is a flags byte, then NUL-separated fields: template source, BOS text,
// EOS text, then role and content of each message. detect() must recognise the source or throw Error;
// apply() must render or throw Error, deterministically, and keep every user message's text.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "fuzz_check.h"
#include "tokenizer/chat_template.h"

namespace kvpress::fuzz {
namespace {

std::vector<std::string> split_fields(std::string_view text) {
  std::vector<std::string> fields;
  size_t from = 0;
  for (size_t at; (at = text.find('\0', from)) != std::string_view::npos; from = at + 1)
    fields.emplace_back(text.substr(from, at - from));
  fields.emplace_back(text.substr(from));
  return fields;
}

std::string trimmed(const std::string& s) {
  const char* space = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(space);
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(space) - b + 1);
}

ChatTemplate make_template(uint8_t flags, const std::vector<std::string>& f) {
  if (flags & 2) return ChatTemplate::of_kind((ChatTemplate::Kind)((flags >> 2) % 7), f[1], f[2]);
  return ChatTemplate::detect(f[0], f[1], f[2]);
}

}  // namespace

void check_chat_template(Bytes input) {
  if (input.empty()) return;
  const uint8_t flags = input[0];
  std::vector<std::string> f = split_fields({reinterpret_cast<const char*>(input.data()) + 1, input.size() - 1});
  while (f.size() < 3) f.emplace_back();
  std::vector<ChatMessage> messages;
  for (size_t i = 3; i + 1 < f.size(); i += 2) messages.push_back({f[i], f[i + 1]});
  const bool generation_prompt = flags & 1;
  try {
    const ChatTemplate t = make_template(flags, f);
    require(std::string_view(t.name()) != "?", "every kind has a name");
    const std::string out = t.apply(messages, generation_prompt);
    require(out == t.apply(messages, generation_prompt), "apply is deterministic");
    for (const ChatMessage& m : messages)
      if (m.role == "user") require(out.find(trimmed(m.content)) != std::string::npos, "a user message's text is kept", t.name());
  } catch (const Error& e) {
    require_error_message(e.what());
  }
}

}  // namespace kvpress::fuzz
