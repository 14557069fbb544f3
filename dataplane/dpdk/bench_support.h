// What the dataplane benchmarks need from EAL beyond the engine's own API:
// running a function on a worker lcore and waiting for it. rte_*-free, so a
// bench in bench/ drives a WorkerLoop on its own core without DPDK headers.
#pragma once

#include <functional>
#include <vector>

namespace vox::dataplane::dpdk {

// The EAL worker lcores (every enabled lcore but the main one), ascending.
std::vector<unsigned> worker_lcores();

// Runs fn on worker lcore `lcore` (rte_eal_remote_launch). False when the
// lcore is not an idle worker. fn must outlive the run: wait_lcore() first.
bool launch_on_lcore(unsigned lcore, std::function<void()>* fn);

// Waits until the function launched on `lcore` has returned.
void wait_lcore(unsigned lcore);

}  // namespace vox::dataplane::dpdk
