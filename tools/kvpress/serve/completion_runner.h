// CompletionRunner: answers one checked request: a slot, the context from the prefix store (or a fresh
// prefill), generation with stop sequences and cancellation, the response written as JSON or as events.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kvpress/engine.h"
#include "kvpress/kv_type.h"
#include "kvpress/session.h"
#include "serve/completion_request.h"
#include "serve/metrics.h"
#include "serve/prefix_store.h"
#include "serve/slots.h"

namespace kvpress::serve {

struct RunnerOptions {
  std::string model_name;   // what responses and /v1/models call the model
  KvTypes kv_types;         // storage of every context's cache
  int n_slots = 1;          // --parallel
  int64_t kv_budget_bytes = 0;
};

// A request checked against the model, ready to run.
struct PreparedRequest {
  CompletionRequest request;
  int64_t prompt_tokens = 0;         // the rendered prompt's tokens
  std::vector<int32_t> prompt_ids;   // Completion: the prompt's ids
  std::string store_key;             // session kind, press and context ids: equal keys share a stored session
  std::string id;                    // "chatcmpl-N" / "cmpl-N"
  int64_t created = 0;
};

// Where a response goes: write() returns false once the client is gone; alive() asks without writing.
struct ResponseChannel {
  std::function<bool(const std::string&)> write;
  std::function<bool()> alive;
};

// Thread-safety: prepare() and run() may be called from any number of threads at once.
class CompletionRunner {
 public:
  CompletionRunner(Engine engine, RunnerOptions options, Metrics& metrics);

  // Tokenizes the prompt and checks it and max_tokens against the model's context. Throws ApiError (400).
  PreparedRequest prepare(CompletionRequest request);
  // Puts a session made elsewhere (Session::load of a `kvpress compress` file) into the prefix store, where
  // requests whose context renders to its ids and whose press is its press find it. Returns false when
  // it does not fit the budget (or compresses while decoding, so it could answer only once).
  bool preload(Session session);
  // Waits for a slot and answers, writing the response (streamed or whole) to `out`. Returns false when
  // the client went away (the work stopped at the next token). Never throws: failures inside become an
  // error object in the response.
  bool run(const PreparedRequest& prepared, const ResponseChannel& out);

  const Engine& engine() const { return engine_; }
  const RunnerOptions& options() const { return options_; }
  MetricsSnapshot snapshot() const;

 private:
  struct Outcome;
  void answer(const PreparedRequest& p, const ResponseChannel& out, Outcome& outcome);

  Engine engine_;
  RunnerOptions options_;
  Metrics& metrics_;
  Slots slots_;
  PrefixStore store_;
  std::atomic<int64_t> next_id_{1};
};

}  // namespace kvpress::serve
