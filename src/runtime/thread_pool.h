// A fixed pool of worker threads running parallel_for over index ranges.
// Thread-safety: one parallel_for / run_on_all at a time per pool (callers serialise); workers are owned.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kvpress {

class ThreadPool {
 public:
  // How long an idle worker (and a caller waiting for workers) polls before sleeping. Decoding issues
  // a few hundred small jobs per token, microseconds apart: polling avoids a futex wake-up and a
  // context switch for each, and is bounded so that an idle pool does not burn CPU.
  static constexpr std::chrono::microseconds kDefaultSpin{200};

  // n_threads counts the calling thread: ThreadPool(1) runs everything inline. spin = 0 makes
  // workers sleep on a condition variable as soon as they are idle.
  explicit ThreadPool(int n_threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint chunks covering [0, n); chunks are at least
  // `grain` long. Returns when all are done; the first exception thrown by fn is rethrown.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // Runs fn(thread_index) once on each of the n_threads threads.
  void run_on_all(const std::function<void(int)>& fn);

 private:
  void worker_loop(int index);
  // Polls `ready` for up to spin_; true as soon as it holds.
  template <class Ready>
  bool spin_until(Ready ready) const;

  int n_threads_;
  std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;  // idle workers sleep here
  std::condition_variable done_;  // the caller sleeps here until pending_ is 0
  // Written by the caller before generation_ is bumped (release); workers read it after seeing
  // the new generation (acquire) and before decrementing pending_.
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  int n_sleeping_ = 0;            // workers inside wake_.wait; guarded by mutex_
  bool caller_sleeping_ = false;  // caller inside done_.wait; guarded by mutex_
  std::exception_ptr error_;      // first exception of the current job; guarded by mutex_
};

// Number of hardware threads (at least 1).
int hardware_threads();

}  // namespace kvpress
