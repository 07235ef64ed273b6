// What an Engine handle shares with its sessions: the model, the thread pool and the lock that
// serialises compute on that pool (ThreadPool runs one job at a time).
#pragma once
#include <memory>
#include <mutex>

#include "kvpress/engine.h"
#include "model/model.h"
#include "runtime/thread_pool.h"

namespace kvpress {

struct Engine::Impl {
  Impl(std::unique_ptr<Model> m, int n_threads) : model(std::move(m)), pool(n_threads) {}

  std::unique_ptr<Model> model;
  ThreadPool pool;
  std::mutex compute;  // held by every forward pass on `pool`
  ModelInfo info;
};

}  // namespace kvpress
