// Engine: worker threads of the selected backend.
#include "dataplane/engine.h"

#include <pthread.h>
#include <unistd.h>

namespace vox::dataplane {

Engine::Engine(EngineConfig config) : config_(config) {
  for (int w = 0; w < config_.workers; ++w)
    states_.push_back(std::make_unique<WorkerState>(w, config_.max_flows_per_worker));
  if (config_.socket.use_uring) {
    for (auto& st : states_) {
      auto uw = UringWorker::create(*st, config_.socket);
      if (!uw) {  // io_uring refused here: every worker uses epoll
        uring_workers_.clear();
        break;
      }
      uring_workers_.push_back(std::move(uw));
    }
  }
  if (uring_workers_.empty())
    for (auto& st : states_)
      socket_workers_.push_back(std::make_unique<SocketWorker>(*st, config_.socket));
  pending_.assign(size_t(config_.workers), 0);
}

Engine::~Engine() { stop(); }

void Engine::start() {
  for (int w = 0; w < workers(); ++w) {
    threads_.emplace_back([this, w] {
      char name[16];
      snprintf(name, sizeof name, "vox-worker-%d", w);
      pthread_setname_np(pthread_self(), name);
      if (uring_workers_.empty())
        socket_workers_[size_t(w)]->run(stop_);
      else
        uring_workers_[size_t(w)]->run(stop_);
    });
  }
}

void Engine::stop() {
  stop_.store(true);
  for (int w = 0; w < workers(); ++w) wake(w);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  socket_workers_.clear();  // closes every socket still installed
  uring_workers_.clear();
}

void Engine::wake(int w) {
  if (size_t(w) < uring_workers_.size()) uring_workers_[size_t(w)]->wake();
  else if (size_t(w) < socket_workers_.size()) socket_workers_[size_t(w)]->wake();
}

Result<int, int> Engine::open_port(const IpAddr& addr, uint16_t port) {
  return open_udp_port(addr, port);
}

void Engine::discard_port(int fd) {
  if (fd >= 0) close(fd);
}

bool Engine::post(int w, const FlowCommand& cmd) {
  auto& ring = states_[size_t(w)]->commands();
  // A full ring (thousands of calls ending in one tick) waits for the
  // worker to drain it: dropping a command would leak a socket or a flow.
  while (!ring.push(cmd)) {
    if (threads_.empty()) return false;  // not running: nobody will drain it
    wake(w);
    std::this_thread::yield();
  }
  pending_[size_t(w)] = 1;
  return true;
}

void Engine::flush() {
  for (int w = 0; w < workers(); ++w) {
    if (pending_[size_t(w)]) {
      wake(w);
      pending_[size_t(w)] = 0;
    }
  }
}

}  // namespace vox::dataplane
