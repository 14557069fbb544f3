// rte_flow steering on ports without rte_flow: reported, never a crash.
#include "dataplane/dpdk/flow_steer.h"

#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/vdev.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::dpdk::test {
namespace {

TEST(FlowSteer, RingAndNullPortsSayTheyCannotSteer) {
  VOX_REQUIRE_EAL();
  for (const char* name : {"net_ring0", "net_null0"}) {
    auto id = find_port(name);
    ASSERT_TRUE(id.ok()) << id.error();
    auto port = DpdkPort::open(*id, PortConfig{});
    ASSERT_TRUE(port.ok()) << port.error();
    const SteeringSupport s = probe_udp_steering(*id);
    EXPECT_FALSE(s.supported) << name;
    EXPECT_FALSE(s.reason.empty()) << name;
    RecordProperty(std::string(name) + "_steering", s.reason);
    auto rule = UdpSteeringRule::install(*id, 30000, 0xfff0, 0);
    ASSERT_FALSE(rule.ok()) << name;
    EXPECT_NE(rule.error().find("rte_flow"), std::string::npos) << rule.error();
  }
}

}  // namespace
}  // namespace vox::dataplane::dpdk::test
