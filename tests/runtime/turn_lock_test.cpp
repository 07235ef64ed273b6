// TurnLock hands itself over in arrival order: a thread already waiting gets the lock before the
// holder can take it again (std::mutex lets the unlocking thread win again and starve the waiter).
#include "runtime/turn_lock.h"

#include <gtest/gtest.h>

#include <functional>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvpress {
namespace {

void wait_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(done()) << "timed out";
}

TEST(TurnLockTest, AWaitingThreadGetsTheLockBeforeTheHolderRelocks) {
  TurnLock lock;
  std::string order;  // written only by the holder of `lock`
  lock.lock();
  std::thread waiter([&] {
    std::lock_guard held(lock);
    order += 'w';
  });
  wait_until([&] { return lock.waiting() == 1; });
  for (int round = 0; round < 3; ++round) {
    order += 'h';
    lock.unlock();
    lock.lock();  // queues behind the waiter, which must run first
  }
  order += 'h';
  lock.unlock();
  waiter.join();
  EXPECT_EQ(order, "hwhhh");
  EXPECT_EQ(lock.waiting(), 0);
}

TEST(TurnLockTest, ThreeThreadsAreServedInTheOrderTheyQueued) {
  TurnLock lock;
  std::string order;
  lock.lock();
  std::vector<std::thread> threads;
  for (char name : std::string("xyz")) {
    const int64_t before = lock.waiting();
    threads.emplace_back([&, name] {
      std::lock_guard held(lock);
      order += name;
    });
    wait_until([&] { return lock.waiting() == before + 1; });  // queued before the next one starts
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, "xyz");
}

}  // namespace
}  // namespace kvpress
