// PrefixStore: compressed contexts (kvpress Sessions) kept for reuse, least recently used dropped first
// when their caches' bytes pass the budget (--kv-budget).
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "kvpress/session.h"

namespace kvpress::serve {

// One stored context. A Session serves one thread at a time: hold `use` while prefilling or asking.
// An entry dropped from the store lives on (shared_ptr) until the request using it is done.
struct StoredSession {
  std::mutex use;
  std::optional<Session> session;  // empty until the first request has prefilled it
};

struct StoreTotals {
  int64_t n_sessions = 0;
  int64_t kv_bytes = 0;       // caches of the stored sessions, compressed
  int64_t kv_bytes_full = 0;  // the same contexts without compression
};

// Thread-safety: every method may be called from any thread.
class PrefixStore {
 public:
  explicit PrefixStore(int64_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // The entry for `key`, made most recently used; a new empty one when absent.
  std::shared_ptr<StoredSession> find_or_add(const std::string& key);
  // After `entry` was prefilled: counts its bytes and drops least recently used sessions until the store
  // fits its budget. A session larger than the whole budget is not kept. No-op when already dropped.
  void settle(const std::string& key, const std::shared_ptr<StoredSession>& entry, int64_t kv_bytes,
              int64_t kv_bytes_full);
  // Removes `entry` (a prefill that failed).
  void drop(const std::string& key, const std::shared_ptr<StoredSession>& entry);

  bool holds(const std::string& key) const;
  StoreTotals totals() const;
  int64_t budget_bytes() const { return budget_bytes_; }

 private:
  struct Slot {
    std::shared_ptr<StoredSession> entry;
    std::list<std::string>::iterator lru_at;
    int64_t kv_bytes = 0, kv_bytes_full = 0;
  };
  void erase(std::unordered_map<std::string, Slot>::iterator it);

  const int64_t budget_bytes_;
  mutable std::mutex m_;
  std::list<std::string> lru_;  // front: most recently used
  std::unordered_map<std::string, Slot> slots_;
  StoreTotals totals_;
};

}  // namespace kvpress::serve
