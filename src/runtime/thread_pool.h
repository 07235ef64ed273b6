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
  // Longest time an idle worker (and a caller waiting for workers) polls before sleeping. Decoding
  // issues a few hundred small jobs per token, microseconds apart: polling avoids a futex wake-up
  // and a context switch for each. Each thread's polling time adapts within this bound: doubled when
  // a poll succeeds, quartered when it times out, so that on a machine with fewer free cores than
  // pool threads (where polling steals the core from the thread being waited for) it falls to a
  // short probe.
  static constexpr std::chrono::microseconds kDefaultSpin{200};

  // n_threads counts the calling thread: ThreadPool(1) runs everything inline. spin = 0 makes
  // workers sleep on a condition variable as soon as they are idle.
  explicit ThreadPool(int n_threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint chunks covering [0, n); chunks are at least
  // `grain` long (or all of [0, n) when shorter), and a thread may get several. Returns when all
  // are done; the first exception thrown by fn is rethrown.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // Runs fn(thread_index) once on each of the n_threads threads.
  void run_on_all(const std::function<void(int)>& fn);

 private:
  void worker_loop(int index);
  // Runs fn(0) on the caller and fn(i) on the workers that enter while the job is open. With
  // every_thread, waits until every worker ran it; otherwise the job closes when the caller's fn
  // returns (fn must then have finished all the work, e.g. by taking chunks from a shared counter)
  // and only workers already inside are waited for.
  void run_job(const std::function<void(int)>& fn, bool every_thread);
  // Polls `ready` for up to budget_ns (adapted as described at kDefaultSpin); true as soon as it holds.
  template <class Ready>
  bool spin_until(Ready ready, int64_t& budget_ns) const;

  int n_threads_;
  std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;  // idle workers sleep here
  std::condition_variable done_;  // the caller sleeps here until its job is done
  // A job is published by storing job_, opening it and bumping generation_ (under the mutex). A
  // worker runs it only after entering (active_) and seeing it open; the caller closes it and waits
  // for active_ to drop to 0 before the job (and job_) may change.
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  std::atomic<uint64_t> generation_{0};  // bumped per job; idle workers watch it
  std::atomic<uint64_t> open_{0};        // generation of the open job, 0 when closed
  std::atomic<int> active_{0};  // workers inside the current job
  std::atomic<int> n_ran_{0};   // workers that ran the current job
  std::atomic<bool> stop_{false};
  int n_sleeping_ = 0;            // workers inside wake_.wait; guarded by mutex_
  bool caller_sleeping_ = false;  // caller inside done_.wait; guarded by mutex_
  int64_t caller_spin_ns_ = 0;    // the caller's polling budget (callers are serialised)
  std::exception_ptr error_;      // first exception of the current job; guarded by mutex_
};

// Number of hardware threads (at least 1).
int hardware_threads();

}  // namespace kvpress
