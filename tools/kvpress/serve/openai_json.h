// The OpenAI JSON shapes the server answers with: completions, stream chunks, model lists, errors.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "serve/completion_request.h"

namespace kvpress::serve {

// What usage.kvpress reports: the press used and the context's cache.
struct KvpressUsage {
  std::string press;  // the specification as canonical_spec() writes it ("none" without a press)
  double compression_ratio = 0;
  int64_t kv_bytes = 0;       // the compressed context's cache
  int64_t kv_bytes_full = 0;  // the same context without compression
  bool prefix_cache_hit = false;
};

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0;
  KvpressUsage kvpress;
};

// Identity of one response: "chatcmpl-N" / "cmpl-N", creation time (Unix seconds) and the model's name.
struct ResponseId {
  std::string id;
  int64_t created = 0;
  std::string model;
};

nlohmann::json usage_json(const Usage& usage);
// A whole (non-streamed) response: chat.completion or text_completion.
nlohmann::json completion_json(Endpoint endpoint, const ResponseId& rid, const std::string& text,
                               const std::string& finish_reason, const Usage& usage);
// One server-sent event's payload: chat.completion.chunk or text_completion. `role` adds the assistant
// role (the first chat chunk); an empty finish_reason is null.
nlohmann::json chunk_json(Endpoint endpoint, const ResponseId& rid, const std::string& text,
                          const std::string& finish_reason, bool role = false);
// {"error": {"message", "type", "code", "param": null}}
nlohmann::json error_json(const std::string& message, const std::string& type, const std::string& code);
// "data: JSON\n\n" (invalid UTF-8 replaced)
std::string sse_event(const nlohmann::json& payload);
std::string dump(const nlohmann::json& j);  // compact, invalid UTF-8 replaced

}  // namespace kvpress::serve
