// Run-time vdevs: the ones the engine is meant to run on besides net_ring
// and net_null. Skipped, with the reason, where the host does not allow them
// (no lo for af_packet, no /dev/net/tun for tap).
#include "dataplane/dpdk/vdev.h"

#include "dataplane/dpdk/flow_steer.h"
#include "dataplane/dpdk/port.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::dpdk::test {
namespace {

TEST(Vdev, FindPortByNameAndUnknownName) {
  VOX_REQUIRE_EAL();
  EXPECT_TRUE(find_port("net_ring0").ok());
  auto missing = find_port("net_ring99");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("net_ring99"), std::string::npos);
  EXPECT_FALSE(attach_vdev("net_nosuchdriver0").ok());
}

TEST(Vdev, AfPacketOnLoopback) {
  VOX_REQUIRE_EAL();
  auto id = attach_vdev("net_af_packet0,iface=lo");
  if (!id.ok()) GTEST_SKIP() << id.error();
  auto port = DpdkPort::open(*id, PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  EXPECT_EQ(port->info().driver, "net_af_packet");
  EXPECT_TRUE(port->link().up);
  EXPECT_FALSE(probe_udp_steering(*id).supported);
}

TEST(Vdev, TapReportsChecksumOffloads) {
  VOX_REQUIRE_EAL();
  auto id = attach_vdev("net_tap0,iface=voxtap0");
  if (!id.ok()) GTEST_SKIP() << id.error();
  auto port = DpdkPort::open(*id, PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  EXPECT_EQ(port->info().driver, "net_tap");
  // The tap PMD computes IPv4/UDP checksums in software and says so.
  EXPECT_TRUE(port->info().supported.tx_udp);
  EXPECT_TRUE(port->info().enabled.tx_udp);
  const SteeringSupport s = probe_udp_steering(*id);
  RecordProperty("tap_udp_steering_probe", s.supported ? "supported" : s.reason);
  // Either answer is fine (tap needs the multiq qdisc for rte_flow); the
  // probe and install() must agree and neither may crash.
  auto rule = UdpSteeringRule::install(*id, 30000, 0xfff0, 0);
  RecordProperty("tap_udp_steering_install", rule.ok() ? "installed" : rule.error());
  EXPECT_EQ(rule.ok(), s.supported);
}

}  // namespace
}  // namespace vox::dataplane::dpdk::test
