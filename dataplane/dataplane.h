// The dataplane as the control plane programs it: bind local ports, queue
// flow commands to the worker owning them, read counters as snapshots.
// The control plane never sees how a backend holds a port (a socket, a
// NIC queue) nor reads a worker's memory. WorkerSet (worker_set.h) is the
// workers' half every backend shares; the socket Engine (io/engine.h), the
// DpdkEngine and the in-memory InlineDataplane add their ports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "dataplane/counters.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

// A local port bound for the control plane's use. It names the port
// (interface and UDP port) and nothing of how the backend holds it.
struct PortHandle {
  LocalKey key = 0;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  virtual int workers() const = 0;
  // Flow ids of each worker: 0 .. max_flows() - 1, handed out by the control plane.
  virtual uint32_t max_flows() const = 0;
  // Binds local port `key` (its interface's address and UDP port) for a
  // flow to use; the errno on failure (EADDRINUSE: another process holds
  // it). The socket backend opens a socket here; DPDK has every port of
  // its addresses already.
  virtual Result<PortHandle, int> bind_port(LocalKey key) = 0;
  // Releases a port bound but never given to a flow; a flow's port is
  // released by its kRemoveFlow.
  virtual void release_port(PortHandle port) = 0;
  // A call's NG "TOS": the TOS octet of what leaves bound port `key`
  // (nullopt: back to the backend's --tos). A port bound again starts on
  // the default.
  virtual void set_port_tos(LocalKey key, std::optional<uint8_t> tos) = 0;
  // Queues a command to worker w; false if it cannot be queued (the ring
  // is full and the worker is not running to drain it).
  virtual bool post(int w, const FlowCommand& cmd) = 0;
  // Wakes the workers that have commands queued.
  virtual void flush() = 0;
  // Counters, read with relaxed loads: never a lock, never a write.
  virtual WorkerSnapshot worker_counters(int w) const = 0;
  virtual FlowSnapshot flow_counters(int w, FlowId id) const = 0;
  // Backend counters beyond the pipeline's (DPDK: ARP, ICMP, frame drops by
  // reason), summed over workers, for NG `statistics`.
  virtual std::vector<std::pair<std::string, uint64_t>> backend_counters() const { return {}; }
};

}  // namespace vox::dataplane
