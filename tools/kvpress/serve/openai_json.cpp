// OpenAI response shapes (platform.openai.com/docs/api-reference/chat, /completions).
#include "serve/openai_json.h"

namespace kvpress::serve {

using nlohmann::json;

namespace {

json finish(const std::string& reason) { return reason.empty() ? json() : json(reason); }

json choice(Endpoint endpoint, const std::string& text, const std::string& finish_reason, bool delta, bool role) {
  json c = {{"index", 0}, {"finish_reason", finish(finish_reason)}, {"logprobs", nullptr}};
  if (endpoint == Endpoint::Completion) {
    c["text"] = text;
  } else if (delta) {
    c["delta"] = json::object();
    if (role) c["delta"]["role"] = "assistant";
    if (role || !text.empty()) c["delta"]["content"] = text;
  } else {
    c["message"] = {{"role", "assistant"}, {"content", text}};
  }
  return c;
}

}  // namespace

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"kvpress",
           {{"press", u.kvpress.press},
            {"compression_ratio", u.kvpress.compression_ratio},
            {"kv_bytes", u.kvpress.kv_bytes},
            {"kv_bytes_full", u.kvpress.kv_bytes_full},
            {"prefix_cache_hit", u.kvpress.prefix_cache_hit}}}};
}

json completion_json(Endpoint endpoint, const ResponseId& rid, const std::string& text,
                     const std::string& finish_reason, const Usage& usage) {
  return {{"id", rid.id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion" : "text_completion"},
          {"created", rid.created},
          {"model", rid.model},
          {"choices", json::array({choice(endpoint, text, finish_reason, false, false)})},
          {"usage", usage_json(usage)}};
}

json chunk_json(Endpoint endpoint, const ResponseId& rid, const std::string& text, const std::string& finish_reason,
                bool role) {
  return {{"id", rid.id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", rid.created},
          {"model", rid.model},
          {"choices", json::array({choice(endpoint, text, finish_reason, true, role)})}};
}

json error_json(const std::string& message, const std::string& type, const std::string& code) {
  return {{"error", {{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& payload) { return "data: " + dump(payload) + "\n\n"; }

}  // namespace kvpress::serve
