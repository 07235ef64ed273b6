// Metrics: the server's counters, written as Prometheus text for GET /metrics.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "serve/prefix_store.h"

namespace kvpress::serve {

// Thread-safety: counters are atomics; bump them from any thread.
struct Metrics {
  std::atomic<int64_t> chat_requests{0}, completion_requests{0};  // completion requests received
  std::atomic<int64_t> client_errors{0};      // answered 4xx
  std::atomic<int64_t> server_errors{0};      // failed inside (5xx, or an error event mid-stream)
  std::atomic<int64_t> cancelled{0};          // the client went away before the answer was done
  std::atomic<int64_t> prompt_tokens{0}, completion_tokens{0};
  std::atomic<int64_t> prefix_hits{0}, prefix_misses{0};
  std::atomic<int64_t> prefill_tokens{0};     // context tokens prefilled (misses only)
};

// The gauges read at scrape time.
struct MetricsSnapshot {
  StoreTotals store;
  int64_t kv_budget_bytes = 0;
  int slots_total = 0, slots_busy = 0, queued = 0;
};

// Prometheus text exposition format 0.0.4.
std::string prometheus_text(const Metrics& m, const MetricsSnapshot& s);

}  // namespace kvpress::serve
