// Slots: at most N requests generate at once (--parallel); the others wait their turn in arrival order.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

namespace kvpress::serve {

// Thread-safety: every method may be called from any thread.
class Slots {
 public:
  explicit Slots(int n_slots) : n_slots_(n_slots) {}

  // A held slot, released by its destructor.
  class Held {
   public:
    explicit Held(Slots* owner) : owner_(owner) {}
    Held(Held&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    Held& operator=(Held&&) = delete;
    ~Held() {
      if (owner_) owner_->release();
    }

   private:
    Slots* owner_;
  };

  // Waits for a free slot in arrival order, asking `still_wanted` every 100 ms (a client that went away
  // leaves the queue); returns false, holding nothing, when it said no.
  bool acquire(const std::function<bool()>& still_wanted, std::optional<Held>& held);

  int n_slots() const { return n_slots_; }
  int busy() const;
  int queued() const;

 private:
  void release();

  const int n_slots_;
  mutable std::mutex m_;
  std::condition_variable changed_;
  int busy_ = 0;
  uint64_t next_ticket_ = 0;
  std::deque<uint64_t> queue_;  // tickets waiting, in arrival order
};

}  // namespace kvpress::serve
