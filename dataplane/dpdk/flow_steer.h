// Steering by UDP destination port with rte_flow: a call's ports come from
// its worker's share of the range, so a masked port match names the worker's
// RX queue (ARCHITECTURE.md, "Steering"). Ports without rte_flow (net_ring,
// net_null, net_af_packet) report it, and the engine falls back to a
// receive core handing packets to workers through rings.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace vox::dataplane::dpdk {

// Ingress IPv4/UDP packets with (dst_port & mask) == (udp_dst_port & mask)
// go to RX queue `queue`. Removed when destroyed.
class UdpSteeringRule {
 public:
  static Result<UdpSteeringRule, std::string> install(uint16_t port_id, uint16_t udp_dst_port, uint16_t mask,
                                                      uint16_t queue);
  UdpSteeringRule(UdpSteeringRule&& other) noexcept;
  UdpSteeringRule& operator=(UdpSteeringRule&& other) noexcept;
  UdpSteeringRule(const UdpSteeringRule&) = delete;
  UdpSteeringRule& operator=(const UdpSteeringRule&) = delete;
  ~UdpSteeringRule();

 private:
  UdpSteeringRule(uint16_t port_id, void* flow) : port_id_(port_id), flow_(flow) {}
  void remove();
  uint16_t port_id_ = 0;
  void* flow_ = nullptr;  // rte_flow*
};

struct SteeringSupport {
  bool supported = false;
  std::string reason;  // the driver's words when not supported
};

// Whether the rule above can be installed on a started port: validated,
// created and removed again at once.
SteeringSupport probe_udp_steering(uint16_t port_id, uint16_t queue = 0);

}  // namespace vox::dataplane::dpdk
