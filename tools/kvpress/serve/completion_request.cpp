// parse_completion_request(): OpenAI request fields, the kvpress extension field, and their checks.
#include "serve/completion_request.h"

#include <nlohmann/json.hpp>

#include "kvpress/error.h"
#include "serve/api_error.h"

namespace kvpress::serve {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& message, const std::string& code = "invalid_request") {
  throw ApiError(400, code, message);
}

// The text of a message's content: a string, null, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json& content, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad(where + ": expected a string or an array of text parts");
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      bad(where + ": only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
    text += part["text"].get<std::string>();
  }
  return text;
}

std::vector<ChatMessage> read_messages(const json& body) {
  if (!body.contains("messages")) bad("messages: required for /v1/chat/completions", "missing_field");
  const json& messages = body["messages"];
  if (!messages.is_array() || messages.empty()) bad("messages: expected a non-empty array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      bad("messages[" + std::to_string(i) + "]: expected an object with a string \"role\"");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      bad("messages[" + std::to_string(i) + "].role: '" + role + "' is not system, developer, user, assistant or tool");
    out.push_back({role, content_text(m.value("content", json()), i)});
  }
  if (out.back().role != "user") bad("messages: the last message must be a user message (the question)", "invalid_messages");
  return out;
}

std::string read_prompt(const json& body) {
  if (!body.contains("prompt")) bad("prompt: required for /v1/completions", "missing_field");
  const json& p = body["prompt"];
  if (p.is_string()) return p.get<std::string>();
  if (p.is_array() && p.size() == 1 && p[0].is_string()) return p[0].get<std::string>();
  bad("prompt: expected a string (or an array of one string)");
}

double number(const json& body, const char* key) {
  if (!body[key].is_number()) bad(std::string(key) + ": expected a number");
  return body[key].get<double>();
}

int64_t integer(const json& body, const char* key) {
  if (!body[key].is_number_integer()) bad(std::string(key) + ": expected an integer");
  return body[key].get<int64_t>();
}

std::vector<std::string> read_stop(const json& stop) {
  std::vector<std::string> out;
  if (stop.is_null()) return out;
  if (stop.is_string()) {
    out.push_back(stop.get<std::string>());
  } else if (stop.is_array()) {
    for (const auto& s : stop) {
      if (!s.is_string()) bad("stop: expected a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    bad("stop: expected a string or an array of strings");
  }
  if (out.size() > 4) bad("stop: at most 4 sequences, got " + std::to_string(out.size()));
  for (const auto& s : out)
    if (s.empty()) bad("stop: sequences must not be empty");
  return out;
}

// "kvpress": {"press": SPEC, "compression_ratio": R}; a field left out takes the server's default.
PressConfig read_press(const json& body, const PressConfig& fallback) {
  if (!body.contains("kvpress") || body["kvpress"].is_null()) return fallback;
  const json& k = body["kvpress"];
  if (!k.is_object()) bad("kvpress: expected an object {\"press\": ..., \"compression_ratio\": ...}");
  for (const auto& [key, value] : k.items())
    if (key != "press" && key != "compression_ratio")
      bad("kvpress." + key + ": unknown field (expected press, compression_ratio)");
  std::string spec = fallback.is_none() ? "none" : fallback.spec();
  double ratio = fallback.compression_ratio();
  if (k.contains("press")) {
    if (!k["press"].is_string()) bad("kvpress.press: expected a press specification string (see `kvpress presses`)");
    spec = k["press"].get<std::string>();
  }
  if (k.contains("compression_ratio")) {
    if (!k["compression_ratio"].is_number()) bad("kvpress.compression_ratio: expected a number in [0, 1)");
    ratio = k["compression_ratio"].get<double>();
  }
  if (!(ratio >= 0.0 && ratio < 1.0))
    bad("kvpress.compression_ratio: " + json(ratio).dump() + " is outside [0, 1)", "invalid_compression_ratio");
  try {
    return PressConfig::from_spec(spec, ratio);
  } catch (const Error& e) {
    bad(std::string("kvpress.press: ") + e.what(), "invalid_press");
  }
}

CompletionRequest parse_fields(const json& body, Endpoint endpoint, const RequestDefaults& defaults) {
  CompletionRequest r;
  r.endpoint = endpoint;
  if (body.contains("model")) {
    if (!body["model"].is_string()) bad("model: expected a string");
    r.model = body["model"].get<std::string>();
  }
  if (endpoint == Endpoint::Chat)
    r.chat = render_chat(read_messages(body));
  else
    r.prompt = read_prompt(body);

  const char* max_key = body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  r.max_tokens = defaults.max_tokens;
  if (body.contains(max_key) && !body[max_key].is_null()) {
    r.max_tokens = integer(body, max_key);
    r.max_tokens_given = true;
    if (r.max_tokens < 1) bad(std::string(max_key) + ": expected at least 1, got " + std::to_string(r.max_tokens));
  }
  if (body.contains("temperature") && !body["temperature"].is_null()) {
    const double t = number(body, "temperature");
    if (!(t >= 0.0 && t <= 2.0)) bad("temperature: " + body["temperature"].dump() + " is outside [0, 2]");
    r.sampling.temperature = (float)t;
  }
  if (body.contains("top_p") && !body["top_p"].is_null()) {
    const double p = number(body, "top_p");
    if (!(p > 0.0 && p <= 1.0)) bad("top_p: " + body["top_p"].dump() + " is outside (0, 1]");
    r.sampling.top_p = (float)p;
  }
  if (body.contains("seed") && !body["seed"].is_null()) {
    r.sampling.seed = (uint64_t)integer(body, "seed");
    r.seed_given = true;
  }
  if (body.contains("n") && !body["n"].is_null() && (!body["n"].is_number_integer() || body["n"].get<int64_t>() != 1))
    bad("n: only 1 choice per request is supported");
  if (body.contains("stop")) r.stop = read_stop(body["stop"]);
  if (body.contains("stream") && !body["stream"].is_null()) {
    if (!body["stream"].is_boolean()) bad("stream: expected true or false");
    r.stream = body["stream"].get<bool>();
  }
  if (body.contains("stream_options") && body["stream_options"].is_object())
    r.include_usage = body["stream_options"].value("include_usage", false);
  r.press = read_press(body, defaults.press);
  return r;
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body_text, Endpoint endpoint,
                                           const RequestDefaults& defaults) {
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::exception& e) {
    bad(std::string("the request body is not valid JSON: ") + e.what(), "invalid_json");
  }
  if (!body.is_object()) bad("the request body must be a JSON object", "invalid_json");
  try {
    return parse_fields(body, endpoint, defaults);
  } catch (const json::exception& e) {  // a field of an unexpected type the checks did not name
    bad(std::string("the request has a field of the wrong type: ") + e.what());
  }
}

}  // namespace kvpress::serve
