// The workers' half of every Dataplane: their states, the command rings
// the control plane posts to, and counter snapshots. A backend adds how it
// binds ports and wakes a worker that sleeps.
#pragma once

#include <memory>
#include <vector>

#include "dataplane/dataplane.h"

namespace vox::dataplane {

class WorkerSet : public Dataplane {
 public:
  WorkerSet(int workers, uint32_t max_flows);

  int workers() const override { return int(states_.size()); }
  uint32_t max_flows() const override { return max_flows_; }
  // Waits while worker w's ring is full and the workers run (a burst of
  // call ends fills it): dropping a command would leak a port or a flow.
  bool post(int w, const FlowCommand& cmd) override;
  void flush() override;
  WorkerSnapshot worker_counters(int w) const override;
  FlowSnapshot flow_counters(int w, FlowId id) const override;

  // Gives every worker a slow path (slow_path.h) for a consumer of STUN and
  // DTLS; before the workers' loops are made (a backend makes them when it
  // starts). `consumer_fd`: the consumer's eventfd, written when packets
  // are handed over (-1: the consumer polls).
  void enable_slow_path(int consumer_fd = -1) {
    for (auto& s : states_) s->enable_slow_path(consumer_fd);
  }
  // Wakes worker w: a slow-path consumer that queued replies calls it. Any thread.
  void notify(int w) { wake(w); }

  WorkerState& state(int w) { return *states_[size_t(w)]; }
  const WorkerState& state(int w) const { return *states_[size_t(w)]; }

 protected:
  // Wakes worker w so that it drains its ring now (a socket worker blocks
  // in its poll; a DPDK worker polls and needs nothing). Any thread.
  virtual void wake(int /*w*/) {}
  // Whether worker threads drain the rings (post waits for room only then).
  void set_running(bool running) { running_ = running; }
  bool running() const { return running_; }

 private:
  uint32_t max_flows_;
  std::vector<std::unique_ptr<WorkerState>> states_;
  std::vector<uint8_t> pending_;  // commands posted since the last flush
  bool running_ = false;
};

}  // namespace vox::dataplane
