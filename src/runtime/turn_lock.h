// TurnLock: a mutex that hands itself over in arrival order, so sessions decoding on one thread pool
// take turns token by token (std::mutex lets the thread that just unlocked win again and starve the others).
// Thread-safety: lock() / unlock() from any thread; BasicLockable, so std::lock_guard works.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kvpress {

class TurnLock {
 public:
  void lock() {
    std::unique_lock guard(m_);
    const uint64_t ticket = next_ticket_++;
    turn_.wait(guard, [&] { return serving_ == ticket; });
  }
  void unlock() {
    {
      std::lock_guard guard(m_);
      ++serving_;
    }
    turn_.notify_all();
  }
  // Threads blocked in lock() behind the holder (for tests and diagnostics).
  int64_t waiting() {
    std::lock_guard guard(m_);
    return serving_ == next_ticket_ ? 0 : (int64_t)(next_ticket_ - serving_ - 1);
  }

 private:
  std::mutex m_;
  std::condition_variable turn_;
  uint64_t next_ticket_ = 0;  // the ticket the next caller of lock() draws
  uint64_t serving_ = 0;      // the ticket that holds the lock
};

}  // namespace kvpress
