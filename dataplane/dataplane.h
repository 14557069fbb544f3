// The dataplane interface the control plane programs: open local ports,
// queue flow commands to the worker owning them, read counters. Engine
// implements it over real workers; tests use an in-memory fake.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  virtual int workers() const = 0;
  // Binds a local port (socket backend: returns the fd); errno on failure.
  virtual Result<int, int> open_port(const IpAddr& addr, uint16_t port) = 0;
  // Releases a port opened but never handed to a worker.
  virtual void discard_port(int fd) = 0;
  // Queues a command to worker w; false if its ring is full.
  virtual bool post(int w, const FlowCommand& cmd) = 0;
  // Wakes the workers that have commands queued.
  virtual void flush() = 0;
  // Read-only view of a worker (counters, flow counters) for query/statistics.
  virtual const WorkerState& worker(int w) const = 0;
  // Backend counters beyond the pipeline's (DPDK: ARP, ICMP, frame drops by
  // reason), summed over workers, for NG `statistics`.
  virtual std::vector<std::pair<std::string, uint64_t>> backend_counters() const { return {}; }
};

}  // namespace vox::dataplane
