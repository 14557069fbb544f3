// Engine: worker threads of the selected backend.
#include "dataplane/engine.h"

#include <pthread.h>
#include <unistd.h>

namespace vox::dataplane {

Engine::Engine(EngineConfig config) : config_(config) {
  for (int w = 0; w < config_.workers; ++w) {
    states_.push_back(std::make_unique<WorkerState>(w, config_.max_flows_per_worker));
    socket_workers_.push_back(std::make_unique<SocketWorker>(*states_.back(), config_.socket));
  }
  pending_.assign(size_t(config_.workers), 0);
}

Engine::~Engine() { stop(); }

void Engine::start() {
  for (int w = 0; w < workers(); ++w) {
    threads_.emplace_back([this, w] {
      char name[16];
      snprintf(name, sizeof name, "vox-worker-%d", w);
      pthread_setname_np(pthread_self(), name);
      socket_workers_[size_t(w)]->run(stop_);
    });
  }
}

void Engine::stop() {
  stop_.store(true);
  for (auto& sw : socket_workers_) sw->wake();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  socket_workers_.clear();  // closes every socket still installed
}

Result<int, int> Engine::open_port(const IpAddr& addr, uint16_t port) {
  return open_udp_port(addr, port);
}

void Engine::discard_port(int fd) {
  if (fd >= 0) close(fd);
}

bool Engine::post(int w, const FlowCommand& cmd) {
  if (!states_[size_t(w)]->commands().push(cmd)) return false;
  pending_[size_t(w)] = 1;
  return true;
}

void Engine::flush() {
  for (int w = 0; w < workers(); ++w) {
    if (pending_[size_t(w)] && size_t(w) < socket_workers_.size()) {
      socket_workers_[size_t(w)]->wake();
      pending_[size_t(w)] = 0;
    }
  }
}

}  // namespace vox::dataplane
