// Brings up DPDK's Environment Abstraction Layer (EAL), once per process.
// EAL cannot be initialised twice, nor again after rte_eal_cleanup(), so the
// handle is move-only and the second init_eal() call is an error value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace vox::dataplane::dpdk {

class EalHandle;

// args are EAL options only (no program name, no "--" and nothing after it),
// e.g. {"--no-huge", "--no-pci", "-m", "512", "--no-shconf", "--vdev=net_ring0"}.
// Errors carry rte_strerror(rte_errno) text. An argument EAL does not
// consume is an error too (EAL is then cleaned up: it cannot be retried).
Result<EalHandle, std::string> init_eal(const std::vector<std::string>& args,
                                        const std::string& program_name = "voxrelay");

// True between a successful init_eal() and the cleanup of its handle.
bool eal_running();

class EalHandle {
 public:
  EalHandle(EalHandle&& other) noexcept;
  EalHandle& operator=(EalHandle&& other) noexcept;
  EalHandle(const EalHandle&) = delete;
  EalHandle& operator=(const EalHandle&) = delete;
  ~EalHandle();

  // rte_eal_cleanup(): every DpdkPort must be gone. Idempotent; afterwards no
  // DPDK call is valid and EAL cannot be initialised again in this process.
  void cleanup();
  bool active() const { return active_; }

  uint32_t lcore_count() const;
  uint32_t main_lcore() const;
  // Ethernet ports probed so far (vdevs from --vdev, NICs, attached vdevs).
  uint16_t port_count() const;

 private:
  friend Result<EalHandle, std::string> init_eal(const std::vector<std::string>&,
                                                 const std::string&);
  EalHandle() = default;
  bool active_ = false;
};

}  // namespace vox::dataplane::dpdk
