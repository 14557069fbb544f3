// SocketEngine: worker threads of the socket backend.
#include "dataplane/io/socket_engine.h"

#include <pthread.h>

#include <cstdio>

namespace vox::dataplane {

SocketEngine::SocketEngine(SocketEngineConfig config)
    : WorkerSet(config.workers, config.max_flows_per_worker),
      config_(config),
      sockets_(config.interfaces) {
  if (config_.socket.use_uring) {
    for (int w = 0; w < workers(); ++w) {
      auto uw = UringWorker::create(state(w), sockets_, config_.socket);
      if (!uw) {  // io_uring refused here: every worker uses epoll
        uring_workers_.clear();
        break;
      }
      uring_workers_.push_back(std::move(uw));
    }
  }
  if (uring_workers_.empty())
    for (int w = 0; w < workers(); ++w)
      socket_workers_.push_back(std::make_unique<SocketWorker>(state(w), sockets_, config_.socket));
}

SocketEngine::~SocketEngine() { stop(); }

void SocketEngine::start() {
  for (int w = 0; w < workers(); ++w) {
    threads_.emplace_back([this, w] {
      char name[16];
      std::snprintf(name, sizeof name, "vox-worker-%d", w);
      pthread_setname_np(pthread_self(), name);
      if (uring_workers_.empty())
        socket_workers_[size_t(w)]->run(stop_);
      else
        uring_workers_[size_t(w)]->run(stop_);
    });
  }
  set_running(true);
}

void SocketEngine::stop() {
  stop_.store(true);
  for (int w = 0; w < workers(); ++w) wake(w);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  set_running(false);
  socket_workers_.clear();  // applies what is still queued: removed flows' sockets close
  uring_workers_.clear();
}

void SocketEngine::wake(int w) {
  if (size_t(w) < uring_workers_.size()) uring_workers_[size_t(w)]->wake();
  else if (size_t(w) < socket_workers_.size()) socket_workers_[size_t(w)]->wake();
}

}  // namespace vox::dataplane
