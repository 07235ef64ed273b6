// What an Engine handle shares with its sessions: the model, the thread pool and the lock that
// serialises compute on that pool (ThreadPool runs one job at a time).
#pragma once
#include <chrono>
#include <memory>
#include <functional>
#include <mutex>

#include "kvpress/engine.h"
#include "model/model.h"
#include "runtime/thread_pool.h"
#include "runtime/turn_lock.h"

namespace kvpress {

struct Engine::Impl {
  Impl(std::unique_ptr<Model> m, int n_threads, std::chrono::microseconds spin)
      : model(std::move(m)), pool(n_threads, spin) {}

  std::unique_ptr<Model> model;
  ThreadPool pool;
  TurnLock compute;  // held by every forward pass on `pool`, handed over in arrival order
  // Runs one forward pass under `compute` (generation locks per token, so sessions interleave).
  void with_compute(const std::function<void()>& pass) {
    std::lock_guard lock(compute);
    pass();
  }
  ModelInfo info;
};

}  // namespace kvpress
