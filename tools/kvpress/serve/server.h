// Server: kvpress serve's HTTP endpoints (OpenAI-compatible completions, models, health, metrics).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kvpress/engine.h"
#include "serve/completion_request.h"
#include "serve/completion_runner.h"

namespace kvpress::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (the one chosen is printed)
  int64_t max_body_bytes = 8 << 20;   // larger request bodies get 413
  int http_threads = 0;               // 0: --parallel + 64 (waiting requests each hold one)
  RequestDefaults defaults;
  RunnerOptions runner;
  std::vector<std::string> preload_files;  // `kvpress compress` files put into the prefix store at start
};

// Loads the preload files (a note per file on stderr; Error for a file that does not load), binds, prints "kvpress serve: listening on http://HOST:PORT ..." on stdout and serves until the process
// ends. Throws Error when the address cannot be bound.
void serve_forever(const Engine& engine, const ServerOptions& options);

}  // namespace kvpress::serve
