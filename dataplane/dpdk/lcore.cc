// EAL worker lcores: listing them, launching on one, waiting for it.
#include "dataplane/dpdk/lcore.h"

#include <rte_launch.h>
#include <rte_lcore.h>

namespace vox::dataplane::dpdk {

namespace {

int trampoline(void* arg) {
  (*static_cast<std::function<void()>*>(arg))();
  return 0;
}

}  // namespace

std::vector<unsigned> worker_lcores() {
  std::vector<unsigned> out;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) out.push_back(lcore);
  return out;
}

bool launch_on_lcore(unsigned lcore, std::function<void()>* fn) {
  if (lcore == rte_get_main_lcore() || !rte_lcore_is_enabled(lcore)) return false;
  return rte_eal_remote_launch(trampoline, fn, lcore) == 0;
}

void wait_lcore(unsigned lcore) { (void)rte_eal_wait_lcore(lcore); }

}  // namespace vox::dataplane::dpdk
