// The DPDK engine: the Dataplane the control plane programs when
// --backend=dpdk. EAL, one or more Ethernet ports (NICs or vdevs; each NG
// interface's address lives on one of them), one worker per lcore after
// the main one (the main lcore runs the control loop), each with its own
// TX queue on every port and the shared pipeline.
//
// Steering (all flows of a call on one worker; the worker of a port is
// dataplane/steering.h's, as in the control plane's port pools):
//   - one worker: it polls each port's only RX queue;
//   - rte_flow: with a power-of-two worker count and ports that all take
//     masked UDP destination-port rules, each worker polls its own RX queue
//     on every port;
//   - otherwise (net_ring, net_null, net_af_packet, most vdevs): worker 0 is
//     the RX core of every port and hands other workers' frames over
//     rte_rings.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/worker_set.h"
#include "dataplane/dpdk/worker_loop.h"

namespace vox::dataplane::dpdk {

struct DpdkPortSpec {
  std::string name;  // ethdev name ("0000:03:00.0", "net_af_packet0"); empty: the first port
  IpAddr gateway;    // IPv4 next hop for off-link destinations; unspecified: none
  IpAddr gateway6;   // the same for IPv6
};

struct DpdkEngineConfig {
  std::vector<std::string> eal_args;  // e.g. --no-huge --no-pci -m 512 -l 0-1 --vdev=...
  // The ports, in the order host.interface_port refers to; empty: the first
  // port, no gateway.
  std::vector<DpdkPortSpec> ports;
  int workers = 1;
  uint32_t max_flows_per_worker = 16384;
  HostConfig host;
  uint32_t idle_sleep_us = 0;  // see WorkerLoopConfig
};

class DpdkEngine final : public WorkerSet {
 public:
  // EAL init, port setup, steering choice; the error says what failed.
  static Result<std::unique_ptr<DpdkEngine>, std::string> create(const DpdkEngineConfig& config);
  ~DpdkEngine() override;

  void start();  // workers on their lcores
  void stop();   // joins them; mbufs they held are freed

  // No socket: every port of the relay's addresses arrives on the NIC.
  Result<PortHandle, int> bind_port(LocalKey key) override;
  void release_port(PortHandle) override {}
  void set_port_tos(LocalKey key, std::optional<uint8_t> tos) override { port_tos_.set(key, tos); }
  std::vector<std::pair<std::string, uint64_t>> backend_counters() const override;

  // "single queue", "rte_flow" or "rx core hand-off", and the ports' words.
  const std::string& steering() const { return steering_; }
  const std::string& port_description() const { return port_description_; }

 private:
  struct Impl;
  DpdkEngine(int workers, uint32_t max_flows, size_t interfaces);
  std::unique_ptr<Impl> impl_;
  size_t interfaces_;
  PortTos port_tos_;  // calls' NG TOS, read by the workers' egress
  std::atomic<bool> stop_{false};
  std::string steering_;
  std::string port_description_;
};

}  // namespace vox::dataplane::dpdk
