// serve_forever(): routes of cpp-httplib onto the request parser, the runner and the JSON shapes.
#include "serve/server.h"

#include <csignal>
#include <cstdio>

#include <httplib.h>

#include "kvpress/error.h"
#include "kvpress/session.h"
#include "serve/api_error.h"
#include "serve/metrics.h"
#include "serve/openai_json.h"

namespace kvpress::serve {

namespace {

const char* kJson = "application/json";

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& code) {
  res.status = status;
  res.set_content(dump(error_json(message, type, code)), kJson);
}

// A completion endpoint: checks happen here (so they can answer 4xx); the work runs in the content
// provider, which sees whether the client is still there.
void handle_completion(CompletionRunner& runner, Metrics& metrics, const RequestDefaults& defaults,
                       Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
  ++(endpoint == Endpoint::Chat ? metrics.chat_requests : metrics.completion_requests);
  std::shared_ptr<PreparedRequest> prepared;
  try {
    prepared = std::make_shared<PreparedRequest>(runner.prepare(parse_completion_request(req.body, endpoint, defaults)));
  } catch (const ApiError& e) {
    ++metrics.client_errors;
    return send_error(res, e.status(), e.what(), e.type(), e.code());
  } catch (const Error& e) {  // e.g. the tokenizer refusing the text
    ++metrics.client_errors;
    return send_error(res, 400, e.what(), "invalid_request_error", "invalid_request");
  }
  const bool stream = prepared->request.stream;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(stream ? "text/event-stream" : kJson,
                                   [&runner, prepared](size_t, httplib::DataSink& sink) {
                                     ResponseChannel out{
                                         [&sink](const std::string& s) { return sink.write(s.data(), s.size()); },
                                         [&sink] { return sink.is_writable(); }};
                                     if (!runner.run(*prepared, out)) return false;  // closes the connection
                                     sink.done();
                                     return true;
                                   });
}

}  // namespace

void serve_forever(const Engine& engine, const ServerOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that hung up must not end the server
  Metrics metrics;
  CompletionRunner runner(engine, options.runner, metrics);
  for (const auto& path : options.preload_files) {
    Session session = Session::load(engine, path);
    const std::string what = std::to_string(session.stats().context_tokens) + " context tokens, press " +
                             session.press().canonical_spec() + ", " + std::to_string(session.stats().kv_bytes) +
                             " KV bytes";
    if (runner.preload(std::move(session)))
      std::fprintf(stderr, "kvpress serve: preloaded %s (%s)\n", path.c_str(), what.c_str());
    else
      std::fprintf(stderr, "kvpress serve: warning: %s not kept (%s: past --kv-budget, or a press that compresses "
                   "while decoding)\n", path.c_str(), what.c_str());
  }
  httplib::Server http;
  const int n_threads = options.http_threads > 0 ? options.http_threads : options.runner.n_slots + 64;
  http.new_task_queue = [n_threads] { return new httplib::ThreadPool((size_t)n_threads); };
  http.set_payload_max_length((size_t)options.max_body_bytes);
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  const RequestDefaults defaults = options.defaults;

  http.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_completion(runner, metrics, defaults, Endpoint::Chat, req, res);
  });
  http.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_completion(runner, metrics, defaults, Endpoint::Completion, req, res);
  });
  http.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    const nlohmann::json model = {{"id", options.runner.model_name}, {"object", "model"}, {"created", 0},
                                  {"owned_by", "kvpress"}};
    res.set_content(dump({{"object", "list"}, {"data", nlohmann::json::array({model})}}), kJson);
  });
  http.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    const MetricsSnapshot s = runner.snapshot();
    res.set_content(dump({{"status", "ok"}, {"slots", s.slots_total}, {"slots_busy", s.slots_busy},
                          {"queued", s.queued}}),
                    kJson);
  });
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus_text(metrics, runner.snapshot()), "text/plain; version=0.0.4");
  });
  // Anything unrouted (404), a body over the limit (413), a handler that threw (500): an OpenAI error body.
  http.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      ++metrics.client_errors;
      send_error(res, 413, "the request body is larger than the limit of " + std::to_string(options.max_body_bytes) +
                               " bytes (--max-body)", "invalid_request_error", "payload_too_large");
    } else if (res.status == 404) {
      ++metrics.client_errors;
      send_error(res, 404, "no endpoint " + req.method + " " + req.path, "invalid_request_error", "not_found");
    } else {
      send_error(res, res.status, "request failed with status " + std::to_string(res.status), "invalid_request_error",
                 "http_error");
    }
  });
  http.set_exception_handler([&](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    ++metrics.server_errors;
    std::string message = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    send_error(res, 500, message, "server_error", "internal_error");
  });

  int port = options.port;
  if (port == 0) {
    port = http.bind_to_any_port(options.host);
    if (port <= 0) throw Error("cannot bind " + options.host + " on any port");
  } else if (!http.bind_to_port(options.host, port)) {
    throw Error("cannot bind " + options.host + ":" + std::to_string(port) + " (in use, or not an address here)");
  }
  std::printf("kvpress serve: listening on http://%s:%d (model %s, %d slots, KV budget %lld bytes)\n",
              options.host.c_str(), port, options.runner.model_name.c_str(), options.runner.n_slots,
              (long long)options.runner.kv_budget_bytes);
  std::fflush(stdout);
  if (!http.listen_after_bind()) throw Error("the HTTP server stopped listening on port " + std::to_string(port));
}

}  // namespace kvpress::serve
