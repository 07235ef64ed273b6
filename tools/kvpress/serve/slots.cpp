// Slots: a counting gate with a FIFO queue whose waiters can give up.
#include "serve/slots.h"

#include <algorithm>
#include <chrono>

namespace kvpress::serve {

bool Slots::acquire(const std::function<bool()>& still_wanted, std::optional<Held>& held) {
  std::unique_lock lock(m_);
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  while (!(busy_ < n_slots_ && queue_.front() == ticket)) {
    changed_.wait_for(lock, std::chrono::milliseconds(100));
    if (busy_ < n_slots_ && queue_.front() == ticket) break;
    lock.unlock();
    const bool wanted = still_wanted();
    lock.lock();
    if (!wanted) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
      changed_.notify_all();  // the next in line may now be at the front
      return false;
    }
  }
  queue_.pop_front();
  ++busy_;
  changed_.notify_all();
  held.emplace(this);
  return true;
}

void Slots::release() {
  {
    std::lock_guard lock(m_);
    --busy_;
  }
  changed_.notify_all();
}

int Slots::busy() const {
  std::lock_guard lock(m_);
  return busy_;
}

int Slots::queued() const {
  std::lock_guard lock(m_);
  return (int)queue_.size();
}

}  // namespace kvpress::serve
