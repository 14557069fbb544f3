// WorkerLoop: the DPDK worker's burst loop, and the hand-off rings.
#include "dataplane/dpdk/worker_loop.h"

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdio>
#include <cstdlib>

#include "dataplane/burst_loop.h"
#include "dataplane/dpdk/dpdk_io.h"

namespace vox::dataplane::dpdk {

void* create_handoff_ring(const std::string& name, uint32_t size) {
  return rte_ring_create(name.c_str(), size, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
}

void free_handoff_ring(void* ring) {
  if (!ring) return;
  auto* r = static_cast<rte_ring*>(ring);
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(r);
}

struct WorkerLoop::Loop {
  Loop(WorkerState& state, const WorkerLoopConfig& config, DpdkCounters& counters, BurstTimes& times)
      : io(state, config, counters, times), loop(state, io) {}
  DpdkIo io;
  BurstLoop<DpdkIo> loop;
};

WorkerLoop::WorkerLoop(WorkerState& state, WorkerLoopConfig config)
    : state_(state), config_(std::move(config)), counters_(std::make_unique<DpdkCounters>()) {
  if (config_.ports.empty() || config_.ports.size() > kMaxPorts) {
    std::fprintf(stderr, "WorkerLoop: 1..%zu ports, not %zu\n", kMaxPorts, config_.ports.size());
    std::abort();
  }
  loop_ = std::make_unique<Loop>(state_, config_, *counters_, times_);
}

WorkerLoop::~WorkerLoop() = default;

void WorkerLoop::share_arp_with(WorkerLoop& other) { loop_->io.host().share_with(other.loop_->io.host()); }

uint32_t WorkerLoop::poll_once() { return loop_->loop.run_once(); }

void WorkerLoop::run(const std::atomic<bool>& stop) { loop_->loop.run(stop); }

}  // namespace vox::dataplane::dpdk
