// `kvpress serve`: an OpenAI-compatible HTTP server with per-request presses and a prefix store (docs/server.md).
#include <filesystem>

#include "cli_common.h"
#include "commands.h"
#include "kvpress/engine.h"
#include "kvpress/error.h"
#include "kvpress/press.h"
#include "serve/server.h"

namespace kvpress::cli {

void add_serve_command(CLI::App& app, Action& action) {
  struct Args {
    std::string model, host = "127.0.0.1", press = "none";
    int port = 8080, parallel = 4, threads = default_threads();
    int64_t kv_budget = int64_t(1) << 30, max_tokens = 256, max_body = 8 << 20;
    double ratio = 0.0;
    KvTypeArgs kv;
    std::vector<std::string> preload;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server: chat and text completions on compressed, "
                                          "reused contexts (docs/server.md)");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--host", args->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "TCP port (0 = any free port; the one chosen is printed)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--parallel", args->parallel, "requests that generate at once (slots); the others wait in a queue")
      ->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--kv-budget", args->kv_budget,
                  "bytes of compressed context caches kept for reuse (least recently used dropped first; 0 = keep "
                  "none; suffixes KB, MB, GB, KiB, MiB, GiB)")
      ->transform(CLI::AsSizeValue(true))->capture_default_str();
  cmd->add_option("--press", args->press, "default press of requests without a \"kvpress\" field (see `kvpress "
                                          "presses`)")->capture_default_str();
  cmd->add_option("--compression-ratio", args->ratio, "default compression ratio, in [0, 1)")->capture_default_str();
  cmd->add_option("--max-tokens", args->max_tokens, "tokens generated when a request gives no max_tokens")
      ->check(at_least(1))->capture_default_str();
  cmd->add_option("--max-body", args->max_body, "largest request body in bytes (larger: 413)")
      ->check(at_least(1))->transform(CLI::AsSizeValue(true))->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads of the engine")->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_kv_type_options(cmd, args->kv);
  cmd->add_option("--preload", args->preload,
                  "a cache file saved by `kvpress compress` (same model) put into the prefix store at start: "
                  "chats whose context and press are the file's answer without prefilling (repeat for several)");
  cmd->callback([&action, args] {
    action = [args] {
      serve::ServerOptions o;
      o.host = args->host;
      o.port = args->port;
      o.max_body_bytes = args->max_body;
      o.defaults.press = PressConfig::from_spec(args->press, args->ratio);  // validated before loading
      if (o.defaults.press.is_none() && args->ratio > 0)
        throw Error("--compression-ratio does nothing without --press (e.g. --press knorm --compression-ratio 0.5)");
      o.defaults.max_tokens = args->max_tokens;
      o.runner.kv_types = args->kv.resolve();
      o.runner.n_slots = args->parallel;
      o.runner.kv_budget_bytes = args->kv_budget;
      o.runner.model_name = std::filesystem::path(args->model).stem().string();
      o.preload_files = args->preload;
      const Engine engine = Engine::load(args->model, {args->threads});
      serve::serve_forever(engine, o);
      return 0;
    };
  });
}

}  // namespace kvpress::cli
