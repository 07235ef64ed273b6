// Thread pool: idle workers poll for the next job for a short while, then sleep on a condition
// variable; the caller waits for the workers the same way. How long each thread polls adapts to how
// often polling has paid off recently.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <type_traits>

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

// Shortest poll: also tried when the adaptive budget has collapsed, to notice when polling pays again.
constexpr int64_t kProbeNs = 2000;
// parallel_for splits work into up to this many chunks per thread (see there).
constexpr int64_t kChunksPerThread = 4;
static_assert(std::is_same_v<std::chrono::steady_clock::duration, std::chrono::nanoseconds>);

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
bool ThreadPool::spin_until(Ready ready, int64_t& budget_ns) const {
  if (spin_.count() == 0) return ready();
  using Clock = std::chrono::steady_clock;
  const int64_t max_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(spin_).count();
  const int64_t limit_ns = std::min(max_ns, std::max(budget_ns, kProbeNs));
  const auto start = Clock::now();
  for (;;) {
    // Reading the clock costs more than a poll: look at it once every 64 polls (about 1 us).
    for (int i = 0; i < 64; ++i) {
      if (ready()) {
        budget_ns = std::min(max_ns, std::max(2 * budget_ns, 2 * kProbeNs));
        return true;
      }
      cpu_relax();
    }
    if ((Clock::now() - start).count() >= limit_ns) {
      // Waited in vain: on a machine with fewer free cores than pool threads the thread we wait
      // for is often not running, and polling only takes the core from it (and other processes).
      budget_ns /= 4;
      return ready();
    }
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0, ran = 0;  // last generation woken for, last job run
  int64_t spin_budget_ns = 0;
  const auto has_work = [&] { return stop_.load(std::memory_order_relaxed) || generation_.load() != seen; };
  for (;;) {
    if (!spin_until(has_work, spin_budget_ns)) {
      std::unique_lock lock(mutex_);
      ++n_sleeping_;
      wake_.wait(lock, has_work);
      --n_sleeping_;
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    // Enter, then look which job is open (both sequentially consistent, mirrored by the caller's
    // close-then-count): either the caller waits for us, or we stay out. A job cannot be replaced
    // while we are inside, so job_ is stable here. The open job may be newer than the generation
    // that woke us (it is published before generation_ moves); `ran` keeps us from running a job twice.
    active_.fetch_add(1);
    const uint64_t open = open_.load();
    if (open != 0 && open != ran) {
      ran = open;
      try {
        (*job_.load(std::memory_order_acquire))(index);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      n_ran_.fetch_add(1, std::memory_order_acq_rel);
    }
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Last one out: wake the caller if it stopped polling. The flag is read under the mutex the
      // caller holds while it checks its condition and goes to sleep, so the wake-up cannot be lost.
      std::lock_guard lock(mutex_);
      if (caller_sleeping_) done_.notify_one();
    }
  }
}

void ThreadPool::run_job(const std::function<void(int)>& fn, bool every_thread) {
  int n_sleeping;
  {
    // Under the mutex: a worker about to sleep either sees the new generation in its wait
    // predicate or has registered in n_sleeping_ and gets the notification below.
    std::lock_guard lock(mutex_);
    job_.store(&fn, std::memory_order_relaxed);
    error_ = nullptr;
    n_ran_.store(0, std::memory_order_relaxed);
    // Open before waking: a worker woken by the new generation must find the job open.
    const uint64_t generation = generation_.load() + 1;
    open_.store(generation);
    generation_.store(generation);
    n_sleeping = n_sleeping_;
  }
  if (n_sleeping > 0) wake_.notify_all();
  std::exception_ptr local;
  try {
    fn(0);
  } catch (...) {
    local = std::current_exception();
  }
  const int n_workers = n_threads_ - 1;
  if (!every_thread) open_.store(0);  // workers that have not entered yet are not needed
  const auto done = [&] {
    return (!every_thread || n_ran_.load(std::memory_order_acquire) == n_workers) &&
           active_.load(std::memory_order_acquire) == 0;
  };
  std::unique_lock lock(mutex_, std::defer_lock);
  if (spin_until(done, caller_spin_ns_)) {
    lock.lock();  // error_ is written under the mutex
  } else {
    lock.lock();
    caller_sleeping_ = true;
    done_.wait(lock, done);
    caller_sleeping_ = false;
  }
  open_.store(0);
  std::exception_ptr error = error_;
  lock.unlock();
  if (local) std::rethrow_exception(local);
  if (error) std::rethrow_exception(error);
}

void ThreadPool::run_on_all(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  run_job(fn, true);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n_chunks = std::min<int64_t>(n / grain, (int64_t)n_threads_ * kChunksPerThread);
  if (n_chunks <= 1 || n_threads_ == 1) {
    fn(0, n, 0);
    return;
  }
  // Equal chunks handed out in order through a shared counter. The kernels are uniform in cost, so
  // on an idle machine this is a static split; when a thread is descheduled (more runnable threads
  // than cores) the others take over its remaining chunks instead of waiting a time slice for it,
  // and a worker that wakes up after every chunk was taken is not waited for at all.
  std::atomic<int64_t> next{0};
  run_job([&](int t) {
    for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
         c = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t begin = n * c / n_chunks, end = n * (c + 1) / n_chunks;
      fn(begin, end, t);
    }
  }, false);
}

}  // namespace kvpress
