// The dataplane as the control plane sees it: N shared-nothing workers, each
// fed through its own command ring, and the backend-specific way of opening
// a local port. The control plane never touches worker memory other than
// reading counters with relaxed loads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/dataplane.h"
#include "dataplane/io/socket_backend.h"
#include "dataplane/io/uring_backend.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

enum class BackendKind : uint8_t { kSocket };

struct EngineConfig {
  BackendKind backend = BackendKind::kSocket;
  int workers = 1;
  uint32_t max_flows_per_worker = 16384;
  SocketLoopConfig socket;
};

class Engine final : public Dataplane {
 public:
  explicit Engine(EngineConfig config);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  void stop();  // joins the workers; their sockets are closed

  int workers() const override { return int(states_.size()); }
  const EngineConfig& config() const { return config_; }
  const WorkerState& worker(int w) const override { return *states_[size_t(w)]; }

  // Binds a local port for a flow. Socket backend: a bound UDP socket (the
  // fd travels in the kAddFlow command); errno on failure.
  Result<int, int> open_port(const IpAddr& addr, uint16_t port) override;
  // Releases a port that was opened but never handed to a worker.
  void discard_port(int fd) override;

  // Queues a command for worker w; false if its ring is full.
  bool post(int w, const FlowCommand& cmd) override;
  // Wakes workers that have queued commands.
  void flush() override;
  // "io_uring" or "epoll": what the socket backend ended up using.
  const char* io_method() const { return uring_workers_.empty() ? "epoll" : "io_uring"; }

 private:
  EngineConfig config_;
  std::vector<std::unique_ptr<WorkerState>> states_;
  // Per worker exactly one of these two loops runs.
  std::vector<std::unique_ptr<SocketWorker>> socket_workers_;
  std::vector<std::unique_ptr<UringWorker>> uring_workers_;
  std::vector<std::thread> threads_;
  std::vector<uint8_t> pending_;
  void wake(int w);
  std::atomic<bool> stop_{false};
};

}  // namespace vox::dataplane
