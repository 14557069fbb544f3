// SocketEngine: the socket backend's I/O policies and worker threads.
#include "dataplane/io/socket_engine.h"

#include <pthread.h>

#include <cstdio>

namespace vox::dataplane {

SocketEngine::SocketEngine(SocketEngineConfig config)
    : WorkerSet(config.workers, config.max_flows_per_worker),
      config_(config),
      sockets_(config.interfaces, config.tos) {
  if (config_.socket.use_uring) {
    for (int w = 0; w < workers(); ++w) {
      auto io = UringIo::create(state(w), sockets_, config_.socket);
      if (!io) {  // io_uring refused here: every worker uses epoll
        uring_.clear();
        break;
      }
      uring_.push_back(std::move(io));
    }
  }
  if (uring_.empty())
    for (int w = 0; w < workers(); ++w)
      epoll_.push_back(std::make_unique<EpollIo>(state(w), sockets_, config_.socket));
}

SocketEngine::~SocketEngine() { stop(); }

template <class Io>
void SocketEngine::start_loops(std::vector<std::unique_ptr<Io>>& ios) {
  for (int w = 0; w < workers(); ++w) {
    threads_.emplace_back([this, w, &io = *ios[size_t(w)]] {
      char name[16];
      std::snprintf(name, sizeof name, "vox-worker-%d", w);
      pthread_setname_np(pthread_self(), name);
      BurstLoop<Io> loop(state(w), io);
      loop.run(stop_);
    });
  }
}

void SocketEngine::start() {
  if (!threads_.empty()) return;
  stop_.store(false);
  if (uring_.empty()) start_loops(epoll_);
  else start_loops(uring_);
  set_running(true);
}

void SocketEngine::stop() {
  stop_.store(true);
  for (int w = 0; w < workers(); ++w) wake(w);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  set_running(false);
}

void SocketEngine::wake(int w) {
  if (size_t(w) < uring_.size()) uring_[size_t(w)]->wake();
  else if (size_t(w) < epoll_.size()) epoll_[size_t(w)]->wake();
}

}  // namespace vox::dataplane
