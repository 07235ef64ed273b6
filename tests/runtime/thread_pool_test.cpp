// ThreadPool: every index covered exactly once, exceptions propagate, and no wake-up is lost when
// jobs follow each other faster than, around, and slower than the polling window.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"

namespace kvpress {
namespace {

using std::chrono::microseconds;

struct PoolParams {
  int n_threads;
  int64_t spin_us;
};

class ThreadPoolTest : public ::testing::TestWithParam<PoolParams> {};

TEST_P(ThreadPoolTest, ParallelForCoversEveryIndexOnce) {
  ThreadPool pool(GetParam().n_threads, microseconds(GetParam().spin_us));
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 4097}) {
    for (int64_t grain : {1, 4, 100, 10000}) {
      std::vector<std::atomic<int>> hits((size_t)n);
      std::atomic<int64_t> min_chunk{n};
      std::atomic<int64_t> chunks{0};
      pool.parallel_for(n, grain, [&](int64_t begin, int64_t end, int thread) {
        ASSERT_GE(thread, 0);
        ASSERT_LT(thread, pool.n_threads());
        ASSERT_LT(begin, end);
        for (int64_t i = begin; i < end; ++i) hits[(size_t)i].fetch_add(1);
        int64_t cur = min_chunk.load();
        while (end - begin < cur && !min_chunk.compare_exchange_weak(cur, end - begin)) {
        }
        chunks.fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[(size_t)i].load(), 1) << "n=" << n << " grain=" << grain << " i=" << i;
      // Chunks honour the grain unless the whole range is shorter.
      EXPECT_GE(min_chunk.load(), std::min(grain, n)) << "n=" << n << " grain=" << grain;
      if (pool.n_threads() == 1) {
        EXPECT_EQ(chunks.load(), 1);
      }
    }
  }
}

TEST_P(ThreadPoolTest, RunOnAllRunsEachThreadIndexOnce) {
  ThreadPool pool(GetParam().n_threads, microseconds(GetParam().spin_us));
  std::vector<std::atomic<int>> hits((size_t)pool.n_threads());
  pool.run_on_all([&](int t) { hits[(size_t)t].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

// Many tiny jobs back to back (workers still polling), then jobs separated by pauses longer than
// the polling window (workers asleep): each job must see all its work done before returning.
TEST_P(ThreadPoolTest, NoLostWakeUpsAcrossPollingAndSleeping) {
  ThreadPool pool(GetParam().n_threads, microseconds(GetParam().spin_us));
  const int64_t n = 64;
  std::vector<int64_t> data((size_t)n, 0);
  for (int round = 0; round < 20000; ++round)
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) data[(size_t)i] += 1;
    });
  for (int64_t v : data) ASSERT_EQ(v, 20000);
  for (int round = 0; round < 20; ++round) {
    std::this_thread::sleep_for(microseconds(round % 2 == 0 ? 2 * GetParam().spin_us + 500 : GetParam().spin_us));
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) data[(size_t)i] += 1;
    });
  }
  for (int64_t v : data) ASSERT_EQ(v, 20020);
}

TEST_P(ThreadPoolTest, ExceptionsPropagateAndThePoolStaysUsable) {
  ThreadPool pool(GetParam().n_threads, microseconds(GetParam().spin_us));
  for (int thrower = 0; thrower < pool.n_threads(); ++thrower) {
    EXPECT_THROW(pool.run_on_all([&](int t) {
      if (t == thrower) throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    std::atomic<int64_t> sum{0};
    pool.parallel_for(100, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum.fetch_add(i);
    });
    EXPECT_EQ(sum.load(), 4950);
  }
}

TEST_P(ThreadPoolTest, DestroysCleanlyWhetherIdleWorkersPollOrSleep) {
  for (int64_t wait_us : {0, 5000}) {
    ThreadPool pool(GetParam().n_threads, microseconds(GetParam().spin_us));
    pool.run_on_all([](int) {});
    std::this_thread::sleep_for(microseconds(wait_us));
  }  // the destructor joins; a hang here fails by timeout
  SUCCEED();
}

INSTANTIATE_TEST_SUITE_P(Pools, ThreadPoolTest,
                         ::testing::Values(PoolParams{1, 200}, PoolParams{2, 0}, PoolParams{2, 200}, PoolParams{3, 50},
                                           PoolParams{4, 200}),
                         [](const auto& info) {
                           return "threads" + std::to_string(info.param.n_threads) + "_spin" +
                                  std::to_string(info.param.spin_us);
                         });

}  // namespace
}  // namespace kvpress
