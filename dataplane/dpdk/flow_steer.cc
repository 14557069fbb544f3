// rte_flow rules that steer UDP destination ports to RX queues; see
// flow_steer.h.
#include "dataplane/dpdk/flow_steer.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_flow.h>

#include "dataplane/dpdk/eal.h"

namespace vox::dataplane::dpdk {
namespace {

struct UdpRule {
  rte_flow_attr attr{};
  rte_flow_item_udp udp_spec{};
  rte_flow_item_udp udp_mask{};
  rte_flow_item pattern[4]{};
  rte_flow_action_queue queue{};
  rte_flow_action actions[2]{};

  UdpRule(const UdpRule&) = delete;  // pattern and actions point into it
  UdpRule& operator=(const UdpRule&) = delete;
  UdpRule(uint16_t dst_port, uint16_t mask, uint16_t rx_queue) {
    attr.ingress = 1;
    udp_spec.hdr.dst_port = rte_cpu_to_be_16(static_cast<uint16_t>(dst_port & mask));
    udp_mask.hdr.dst_port = rte_cpu_to_be_16(mask);
    pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;  // any Ethernet
    pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;  // any IPv4
    pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
    pattern[2].spec = &udp_spec;
    pattern[2].mask = &udp_mask;
    pattern[3].type = RTE_FLOW_ITEM_TYPE_END;
    queue.index = rx_queue;
    actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
    actions[0].conf = &queue;
    actions[1].type = RTE_FLOW_ACTION_TYPE_END;
  }
};

std::string describe(const char* what, int ret, const rte_flow_error& err) {
  std::string s = what;
  s += ": ";
  s += err.message != nullptr ? err.message : rte_strerror(ret < 0 ? -ret : ret);
  if (ret == -ENOSYS) s += " (the driver has no rte_flow support)";
  if (ret == -ENOTSUP) s += " (not supported by this driver)";
  return s;
}

}  // namespace

Result<UdpSteeringRule, std::string> UdpSteeringRule::install(uint16_t port_id, uint16_t udp_dst_port,
                                                              uint16_t mask, uint16_t queue) {
  if (!eal_running()) return Err{std::string("EAL is not running")};
  UdpRule rule(udp_dst_port, mask, queue);
  rte_flow_error err{};
  if (int ret = rte_flow_validate(port_id, &rule.attr, rule.pattern, rule.actions, &err); ret != 0) {
    return Err{describe("rte_flow_validate", ret, err)};
  }
  rte_flow* flow = rte_flow_create(port_id, &rule.attr, rule.pattern, rule.actions, &err);
  if (flow == nullptr) return Err{describe("rte_flow_create", -rte_errno, err)};
  return UdpSteeringRule(port_id, flow);
}

UdpSteeringRule::UdpSteeringRule(UdpSteeringRule&& other) noexcept : port_id_(other.port_id_), flow_(other.flow_) {
  other.flow_ = nullptr;
}

UdpSteeringRule& UdpSteeringRule::operator=(UdpSteeringRule&& other) noexcept {
  if (this != &other) {
    remove();
    port_id_ = other.port_id_;
    flow_ = other.flow_;
    other.flow_ = nullptr;
  }
  return *this;
}

UdpSteeringRule::~UdpSteeringRule() { remove(); }

void UdpSteeringRule::remove() {
  if (flow_ == nullptr) return;
  if (eal_running()) {
    rte_flow_error err{};
    (void)rte_flow_destroy(port_id_, static_cast<rte_flow*>(flow_), &err);
  }
  flow_ = nullptr;
}

SteeringSupport probe_udp_steering(uint16_t port_id, uint16_t queue) {
  SteeringSupport out;
  if (!eal_running()) {
    out.reason = "EAL is not running";
    return out;
  }
  UdpRule rule(30000, 0xffff, queue);
  rte_flow_error err{};
  const int ret = rte_flow_validate(port_id, &rule.attr, rule.pattern, rule.actions, &err);
  if (ret != 0) {
    out.reason = describe("rte_flow_validate", ret, err);
    return out;
  }
  // Some drivers validate what they then cannot create (net_tap without its
  // multiq qdisc): only a created rule is a yes.
  rte_flow* flow = rte_flow_create(port_id, &rule.attr, rule.pattern, rule.actions, &err);
  if (flow == nullptr) {
    out.reason = describe("rte_flow_create", -rte_errno, err);
    return out;
  }
  (void)rte_flow_destroy(port_id, flow, &err);
  out.supported = true;
  return out;
}

}  // namespace vox::dataplane::dpdk
