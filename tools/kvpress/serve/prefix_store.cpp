// PrefixStore: an LRU map from (press, context) keys to sessions, bounded by their caches' bytes.
#include "serve/prefix_store.h"

#include <vector>

namespace kvpress::serve {

std::shared_ptr<StoredSession> PrefixStore::find_or_add(const std::string& key) {
  std::lock_guard lock(m_);
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru_at);
    return it->second.entry;
  }
  lru_.push_front(key);
  Slot slot{std::make_shared<StoredSession>(), lru_.begin()};
  auto entry = slot.entry;
  slots_.emplace(key, std::move(slot));
  return entry;
}

void PrefixStore::settle(const std::string& key, const std::shared_ptr<StoredSession>& entry, int64_t kv_bytes,
                         int64_t kv_bytes_full) {
  std::lock_guard lock(m_);
  auto it = slots_.find(key);
  if (it == slots_.end() || it->second.entry != entry) return;
  if (kv_bytes > budget_bytes_) {  // would evict everything and still not fit
    erase(it);
    return;
  }
  totals_.kv_bytes += kv_bytes - it->second.kv_bytes;
  totals_.kv_bytes_full += kv_bytes_full - it->second.kv_bytes_full;
  if (it->second.kv_bytes == 0 && kv_bytes > 0) ++totals_.n_sessions;
  it->second.kv_bytes = kv_bytes;
  it->second.kv_bytes_full = kv_bytes_full;
  // Drop from the back (least recently used): never the entry just settled, nor one still prefilling.
  std::vector<std::string> victims;
  int64_t bytes = totals_.kv_bytes;
  for (auto at = lru_.rbegin(); at != lru_.rend() && bytes > budget_bytes_; ++at) {
    const Slot& s = slots_.at(*at);
    if (s.entry == entry || s.kv_bytes == 0) continue;
    bytes -= s.kv_bytes;
    victims.push_back(*at);
  }
  for (const auto& k : victims) erase(slots_.find(k));
}

void PrefixStore::drop(const std::string& key, const std::shared_ptr<StoredSession>& entry) {
  std::lock_guard lock(m_);
  auto it = slots_.find(key);
  if (it != slots_.end() && it->second.entry == entry) erase(it);
}

void PrefixStore::erase(std::unordered_map<std::string, Slot>::iterator it) {
  totals_.kv_bytes -= it->second.kv_bytes;
  totals_.kv_bytes_full -= it->second.kv_bytes_full;
  if (it->second.kv_bytes > 0) --totals_.n_sessions;
  lru_.erase(it->second.lru_at);
  slots_.erase(it);
}

bool PrefixStore::holds(const std::string& key) const {
  std::lock_guard lock(m_);
  return slots_.count(key) > 0;
}

StoreTotals PrefixStore::totals() const {
  std::lock_guard lock(m_);
  return totals_;
}

}  // namespace kvpress::serve
