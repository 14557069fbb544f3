// Running a function on an EAL worker lcore and waiting for it: how the
// engine starts its workers and the benchmark its worker and echo cores.
// rte_*-free, so code outside dataplane/dpdk/ can use it.
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
