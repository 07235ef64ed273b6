// HTTP helpers for the server tests: JSON requests and server-sent event streams over cpp-httplib's client.
#pragma once
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace kvpress::testing {

struct HttpReply {
  int status = 0;  // 0: no response (connection failed)
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline HttpReply http_get(int port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120);
  auto res = cli.Get(path.c_str());
  return res ? HttpReply{res->status, res->body} : HttpReply{};
}

inline HttpReply http_post(int port, const std::string& path, const std::string& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120);
  auto res = cli.Post(path.c_str(), body, "application/json");
  return res ? HttpReply{res->status, res->body} : HttpReply{};
}

inline HttpReply post_json(int port, const std::string& path, const nlohmann::json& body) {
  return http_post(port, path, body.dump());
}

struct StreamReply {
  int status = 0;
  std::vector<nlohmann::json> events;  // every "data: {...}" payload, in order
  bool done = false;                   // "data: [DONE]" came last
  std::string text;                    // delta.content (chat) or text (completions) joined
};

// Posts a streaming request; `keep_reading(n_events)` false hangs up (a client going away).
template <class KeepReading>
StreamReply post_stream(int port, const std::string& path, nlohmann::json body, KeepReading keep_reading) {
  body["stream"] = true;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  StreamReply reply;
  std::string buffer;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        reply.done = true;
        continue;
      }
      auto j = nlohmann::json::parse(payload, nullptr, false);
      reply.events.push_back(j);
      if (j.contains("choices") && !j["choices"].empty()) {
        const auto& c = j["choices"][0];
        if (c.contains("delta") && c["delta"].contains("content")) reply.text += c["delta"]["content"].get<std::string>();
        if (c.contains("text")) reply.text += c["text"].get<std::string>();
      }
    }
    return keep_reading(reply.events.size());
  };
  auto res = cli.send(req);
  if (res) reply.status = res->status;
  return reply;
}

inline StreamReply post_stream(int port, const std::string& path, const nlohmann::json& body) {
  return post_stream(port, path, body, [](size_t) { return true; });
}

}  // namespace kvpress::testing
