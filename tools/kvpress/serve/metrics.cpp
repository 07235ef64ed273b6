// prometheus_text(): counters and gauges with HELP and TYPE lines.
#include "serve/metrics.h"

namespace kvpress::serve {

namespace {

void add(std::string& out, const char* name, const char* type, const char* help, int64_t value,
         const char* labels = "") {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  out += std::string(name) + labels + " " + std::to_string(value) + "\n";
}

}  // namespace

std::string prometheus_text(const Metrics& m, const MetricsSnapshot& s) {
  std::string out;
  out += "# HELP kvpress_requests_total Completion requests received, by endpoint.\n"
         "# TYPE kvpress_requests_total counter\n";
  out += "kvpress_requests_total{endpoint=\"chat\"} " + std::to_string(m.chat_requests.load()) + "\n";
  out += "kvpress_requests_total{endpoint=\"completions\"} " + std::to_string(m.completion_requests.load()) + "\n";
  add(out, "kvpress_request_client_errors_total", "counter", "Requests refused with a 4xx error.", m.client_errors);
  add(out, "kvpress_request_server_errors_total", "counter", "Requests that failed inside the server.", m.server_errors);
  add(out, "kvpress_requests_cancelled_total", "counter", "Requests whose client went away before the end.",
      m.cancelled);
  add(out, "kvpress_prompt_tokens_total", "counter", "Prompt tokens of answered requests.", m.prompt_tokens);
  add(out, "kvpress_completion_tokens_total", "counter", "Tokens generated.", m.completion_tokens);
  add(out, "kvpress_prefill_tokens_total", "counter", "Context tokens prefilled (prefix store misses).",
      m.prefill_tokens);
  add(out, "kvpress_prefix_cache_hits_total", "counter", "Requests answered on a stored compressed context.",
      m.prefix_hits);
  add(out, "kvpress_prefix_cache_misses_total", "counter", "Requests that prefilled their context.", m.prefix_misses);
  add(out, "kvpress_prefix_sessions", "gauge", "Compressed contexts held in the prefix store.", s.store.n_sessions);
  add(out, "kvpress_kv_bytes_held", "gauge", "Bytes of the stored contexts' KV caches (compressed).", s.store.kv_bytes);
  add(out, "kvpress_kv_bytes_full_held", "gauge", "Bytes the stored contexts' KV caches would take uncompressed.",
      s.store.kv_bytes_full);
  add(out, "kvpress_kv_bytes_saved", "gauge", "Bytes compression saves on the stored contexts (full - held).",
      s.store.kv_bytes_full - s.store.kv_bytes);
  add(out, "kvpress_kv_budget_bytes", "gauge", "The prefix store's budget (--kv-budget).", s.kv_budget_bytes);
  add(out, "kvpress_slots", "gauge", "Requests that may generate at once (--parallel).", s.slots_total);
  add(out, "kvpress_slots_busy", "gauge", "Requests generating now.", s.slots_busy);
  add(out, "kvpress_requests_queued", "gauge", "Requests waiting for a slot.", s.queued);
  return out;
}

}  // namespace kvpress::serve
