// Thread pool: idle workers poll for the next job for a short while, then sleep on a condition
// variable; the caller waits for the workers the same way.
#include "runtime/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kvpress {
namespace {

// Tells the core that this is a polling loop (frees pipeline resources for a sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polling with pause instructions only, before yields are mixed in.
constexpr std::chrono::microseconds kPauseOnly{10};

}  // namespace

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool::ThreadPool(int n_threads, std::chrono::microseconds spin)
    : n_threads_(std::max(1, n_threads)), spin_(std::max(std::chrono::microseconds(0), spin)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

template <class Ready>
bool ThreadPool::spin_until(Ready ready) const {
  if (spin_.count() == 0) return ready();
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    // Reading the clock costs more than a poll: look at it once every 64 polls (about 1 us).
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    const auto elapsed = Clock::now() - start;
    if (elapsed >= spin_) return ready();
    // Past the first microseconds, poll between yields: when the machine has fewer free cores than
    // pool threads, the thread we wait for may be queued behind us, and pure spinning would keep
    // it off the core for a whole time slice.
    if (elapsed >= kPauseOnly) std::this_thread::yield();
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  const auto has_work = [&] { return stop_.load(std::memory_order_relaxed) || generation_.load() != seen; };
  for (;;) {
    if (!spin_until(has_work)) {
      std::unique_lock lock(mutex_);
      ++n_sleeping_;
      wake_.wait(lock, has_work);
      --n_sleeping_;
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    const std::function<void(int)>* job = job_;
    try {
      (*job)(index);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Last one out: wake the caller if it stopped polling. The flag is read under the mutex the
      // caller holds while it checks pending_ and goes to sleep, so the wake-up cannot be lost.
      std::lock_guard lock(mutex_);
      if (caller_sleeping_) done_.notify_one();
    }
  }
}

void ThreadPool::run_on_all(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  int n_sleeping;
  {
    // Under the mutex: a worker about to sleep either sees the new generation in its wait
    // predicate or has registered in n_sleeping_ and gets the notification below.
    std::lock_guard lock(mutex_);
    job_ = &fn;
    error_ = nullptr;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    n_sleeping = n_sleeping_;
  }
  if (n_sleeping > 0) wake_.notify_all();
  std::exception_ptr local;
  try {
    fn(0);
  } catch (...) {
    local = std::current_exception();
  }
  const auto all_done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  std::unique_lock lock(mutex_, std::defer_lock);
  if (spin_until(all_done)) {
    lock.lock();  // error_ is written under the mutex
  } else {
    lock.lock();
    caller_sleeping_ = true;
    done_.wait(lock, all_done);
    caller_sleeping_ = false;
  }
  job_ = nullptr;
  std::exception_ptr error = error_;
  lock.unlock();
  if (local) std::rethrow_exception(local);
  if (error) std::rethrow_exception(error);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t max_chunks = (n + grain - 1) / grain;
  const int n_used = (int)std::min<int64_t>(n_threads_, max_chunks);
  if (n_used <= 1) {
    fn(0, n, 0);
    return;
  }
  // Static split: equal contiguous ranges, one per thread (kernels are uniform in cost).
  run_on_all([&](int t) {
    if (t >= n_used) return;
    const int64_t begin = n * t / n_used;
    const int64_t end = n * (t + 1) / n_used;
    if (begin < end) fn(begin, end, t);
  });
}

}  // namespace kvpress
