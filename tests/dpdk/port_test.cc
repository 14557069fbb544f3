// DpdkPort on virtual devices: net_ring loopback byte-for-byte, statistics,
// multi-queue, a full TX ring, mempool exhaustion, and the pool lifetime.
#include "dataplane/dpdk/port.h"

#include <array>
#include <cstring>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/mbuf.h"
#include "dataplane/dpdk/vdev.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::dpdk::test {
namespace {

constexpr uint16_t kBurst = 32;

uint16_t port_named(const std::string& name) {
  auto id = find_port(name);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error());
  return id.ok() ? id.value() : 0;
}

// Allocates n mbufs from the port's pool and fills each with udp_frame(first + i).
std::vector<void*> crafted_burst(DpdkPort& port, uint32_t first, uint16_t n, uint16_t dst_port = 30000) {
  std::vector<void*> mbufs(n);
  if (!port.alloc_mbufs(mbufs.data(), n)) {
    ADD_FAILURE() << "pool exhausted";
    return {};
  }
  for (uint16_t i = 0; i < n; ++i) {
    const std::vector<uint8_t> frame = udp_frame(first + i, dst_port);
    uint8_t* p = mbuf_append(mbufs[i], static_cast<uint16_t>(frame.size()));
    EXPECT_NE(p, nullptr);
    if (p != nullptr) std::memcpy(p, frame.data(), frame.size());
  }
  return mbufs;
}

// Receives until `want` frames arrived or the queue stays empty; checks each
// is udp_frame(first + k) in order, then frees them.
uint32_t receive_and_check(DpdkPort& port, uint16_t queue, uint32_t first, uint32_t want, uint16_t dst_port = 30000) {
  uint32_t got = 0;
  int idle = 0;
  std::array<void*, kBurst> rx{};
  while (got < want && idle < 100) {
    const uint16_t n = port.rx_burst(queue, rx.data(), kBurst);
    if (n == 0) {
      ++idle;
      continue;
    }
    for (uint16_t i = 0; i < n; ++i) {
      const std::vector<uint8_t> expect = udp_frame(first + got + i, dst_port);
      const auto data = mbuf_data(rx[i]);
      EXPECT_EQ(mbuf_packet_length(rx[i]), expect.size());
      EXPECT_EQ(mbuf_segment_count(rx[i]), 1u);
      EXPECT_TRUE(data.size() == expect.size() && std::equal(data.begin(), data.end(), expect.begin()))
          << "frame " << first + got + i << " differs";
    }
    mbuf_free_bulk(rx.data(), n);
    got += n;
  }
  return got;
}

uint32_t in_use(const DpdkPort& port) {
  uint32_t n = 0;
  for (const PoolUsage& u : port.pool_usage()) n += u.in_use;
  return n;
}

TEST(DpdkPort, RingLoopbackDeliversTheSameBytes) {
  VOX_REQUIRE_EAL();
  auto port = DpdkPort::open(port_named("net_ring0"), PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  const PortInfo& info = port->info();
  EXPECT_EQ(info.name, "net_ring0");
  EXPECT_EQ(info.driver, "net_ring");
  EXPECT_GE(info.max_rx_queues, 1u);
  EXPECT_EQ(info.mac, MacAddress{});  // net_ring reports 00:00:00:00:00:00
  // The ring PMD computes no checksums: reported as unsupported, not enabled.
  EXPECT_FALSE(info.supported.tx_ipv4 || info.supported.tx_udp || info.supported.rx_ipv4 || info.supported.rx_udp);
  EXPECT_FALSE(info.enabled.tx_udp);
  EXPECT_TRUE(port->link().up);
  port->reset_stats();

  constexpr uint32_t kFrames = 4 * kBurst;
  for (uint32_t sent = 0; sent < kFrames; sent += kBurst) {
    std::vector<void*> burst = crafted_burst(*port, sent, kBurst);
    ASSERT_EQ(burst.size(), kBurst);
    EXPECT_EQ(port->tx_burst_or_free(0, burst.data(), kBurst), kBurst);
  }
  EXPECT_EQ(receive_and_check(*port, 0, 0, kFrames), kFrames);

  auto stats = port->stats();
  ASSERT_TRUE(stats.ok()) << stats.error();
  EXPECT_EQ(stats->tx_packets, kFrames);
  EXPECT_EQ(stats->rx_packets, kFrames);
  EXPECT_EQ(stats->tx_errors, 0u);
  EXPECT_EQ(stats->rx_no_mbuf, 0u);
  EXPECT_EQ(in_use(*port), 0u) << "every mbuf went back to the pool";
}

TEST(DpdkPort, NodeactionRingIsALoopbackNamedAfterItsRing) {
  VOX_REQUIRE_EAL();
  auto port = DpdkPort::open(port_named("vox_lo"), PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  EXPECT_EQ(port->info().driver, "net_ring");
  std::vector<void*> burst = crafted_burst(*port, 7, 5);
  ASSERT_EQ(port->tx_burst_or_free(0, burst.data(), 5), 5u);
  EXPECT_EQ(receive_and_check(*port, 0, 7, 5), 5u);
}

TEST(DpdkPort, CrossConnectedRingPair) {
  VOX_REQUIRE_EAL();
  auto pair = create_ring_pair("xc", 2);
  ASSERT_TRUE(pair.ok()) << pair.error();
  PortConfig cfg;
  cfg.rx_queues = cfg.tx_queues = 2;
  auto a = DpdkPort::open(pair->first, cfg);
  ASSERT_TRUE(a.ok()) << a.error();
  auto b = DpdkPort::open(pair->second, cfg);
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(a->info().name, "net_ring_xc_a");

  std::vector<void*> to_b = crafted_burst(*a, 100, kBurst);
  ASSERT_EQ(a->tx_burst_or_free(1, to_b.data(), kBurst), kBurst);
  std::array<void*, kBurst> rx{};
  EXPECT_EQ(a->rx_burst(1, rx.data(), kBurst), 0u) << "A does not hear itself";
  EXPECT_EQ(b->rx_burst(0, rx.data(), kBurst), 0u) << "queue 1 stays on queue 1";
  EXPECT_EQ(receive_and_check(*b, 1, 100, kBurst), kBurst);

  std::vector<void*> to_a = crafted_burst(*b, 500, 3);
  ASSERT_EQ(b->tx_burst_or_free(0, to_a.data(), 3), 3u);
  EXPECT_EQ(receive_and_check(*a, 0, 500, 3), 3u);
}

TEST(DpdkPort, QueuesAreIndependent) {
  VOX_REQUIRE_EAL();
  PortConfig cfg;
  cfg.rx_queues = cfg.tx_queues = 4;
  cfg.rx_descriptors = cfg.tx_descriptors = 512;
  auto port = DpdkPort::open(port_named("net_ring1"), cfg);
  ASSERT_TRUE(port.ok()) << port.error();
  EXPECT_FALSE(port->info().rss);  // net_ring: no RSS, queue q loops to queue q
  for (uint16_t q = 0; q < 4; ++q) {
    std::vector<void*> burst = crafted_burst(*port, 1000u * q, 8);
    ASSERT_EQ(port->tx_burst_or_free(q, burst.data(), 8), 8u);
  }
  for (uint16_t q = 0; q < 4; ++q) EXPECT_EQ(receive_and_check(*port, q, 1000u * q, 8), 8u) << "queue " << q;
}

TEST(DpdkPort, TooManyQueuesIsAnError) {
  VOX_REQUIRE_EAL();
  PortConfig cfg;
  cfg.rx_queues = cfg.tx_queues = 64;  // the ring PMD has 16
  auto port = DpdkPort::open(port_named("net_ring1"), cfg);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().find("at most"), std::string::npos) << port.error();
  EXPECT_FALSE(DpdkPort::open(1000, PortConfig{}).ok()) << "no such port id";
}

TEST(DpdkPort, FullTxRingReturnsTheRestToTheCaller) {
  VOX_REQUIRE_EAL();
  auto port = DpdkPort::open(port_named("net_ring0"), PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  port->reset_stats();
  // net_ring's rings hold 1023 packets; nobody receives meanwhile.
  constexpr uint32_t kOffered = 1100;
  uint32_t accepted = 0;
  uint32_t returned = 0;
  for (uint32_t off = 0; off < kOffered; off += kBurst) {
    const uint16_t n = static_cast<uint16_t>(std::min<uint32_t>(kBurst, kOffered - off));
    std::vector<void*> burst = crafted_burst(*port, off, n);
    ASSERT_EQ(burst.size(), n);
    const uint16_t sent = port->tx_burst(0, burst.data(), n);
    accepted += sent;
    returned += n - sent;
    mbuf_free_bulk(burst.data() + sent, n - sent);  // still ours: free them
  }
  EXPECT_EQ(accepted, 1023u);
  EXPECT_EQ(returned, kOffered - 1023u);
  auto stats = port->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tx_packets, 1023u);
  // net_ring does not count what its ring refused as oerrors: the caller
  // has to (tx_burst's return value is the only signal).
  EXPECT_EQ(stats->tx_errors, 0u);
  EXPECT_EQ(receive_and_check(*port, 0, 0, 1023), 1023u);
  EXPECT_EQ(in_use(*port), 0u);
}

TEST(DpdkPort, MempoolExhaustionIsReportedNotACrash) {
  VOX_REQUIRE_EAL();
  PortConfig cfg;
  cfg.mbufs_per_pool = 127;
  cfg.rx_descriptors = cfg.tx_descriptors = 64;
  auto port = DpdkPort::open(port_named("net_ring1"), cfg);
  ASSERT_TRUE(port.ok()) << port.error();
  ASSERT_EQ(port->pool_usage().size(), 1u);
  EXPECT_EQ(port->pool_usage()[0].capacity, 127u);

  std::vector<void*> held;
  void* m = nullptr;
  while (held.size() < 1000 && port->alloc_mbufs(&m, 1)) held.push_back(m);
  EXPECT_EQ(held.size(), 127u);
  std::array<void*, kBurst> more{};
  EXPECT_FALSE(port->alloc_mbufs(more.data(), kBurst));
  EXPECT_EQ(port->pool_usage()[0].available, 0u);
  mbuf_free_bulk(held.data(), static_cast<uint32_t>(held.size()));
  EXPECT_TRUE(port->alloc_mbufs(more.data(), kBurst)) << "usable again once freed";
  mbuf_free_bulk(more.data(), kBurst);
  EXPECT_EQ(in_use(*port), 0u);
}

TEST(DpdkPort, NullRxOnAnExhaustedPoolReturnsNothing) {
  VOX_REQUIRE_EAL();
  PortConfig cfg;
  cfg.mbufs_per_pool = 255;
  cfg.mbuf_cache_size = 0;
  auto port = DpdkPort::open(port_named("net_null0"), cfg);
  ASSERT_TRUE(port.ok()) << port.error();
  EXPECT_EQ(port->info().driver, "net_null");
  EXPECT_NE(port->info().mac, MacAddress{});  // net_null makes up a random one
  EXPECT_TRUE(port->link().up);
  std::vector<void*> held(512);
  uint32_t got = 0;
  for (int i = 0; i < 32; ++i) got += port->rx_burst(0, held.data() + got, kBurst);
  // net_null fills each burst from the pool: all 255 cannot come in bursts
  // of 32, so it stops at the last whole burst and then returns 0.
  EXPECT_EQ(got, 255u / kBurst * kBurst);
  EXPECT_EQ(port->rx_burst(0, held.data() + got, kBurst), 0u);
  mbuf_free_bulk(held.data(), got);
  EXPECT_EQ(port->rx_burst(0, held.data(), kBurst), kBurst) << "recovers once mbufs return";
  mbuf_free_bulk(held.data(), kBurst);
  // net_null's TX frees what it is given.
  std::vector<void*> burst = crafted_burst(*port, 0, kBurst);
  EXPECT_EQ(port->tx_burst_or_free(0, burst.data(), kBurst), kBurst);
  EXPECT_EQ(in_use(*port), 0u);
}

TEST(DpdkPort, PoolTooLargeForEalMemoryIsAnError) {
  VOX_REQUIRE_EAL();
  PortConfig cfg;
  cfg.mbufs_per_pool = 1u << 20;  // ~2.3 GB of mbufs, EAL has -m 512
  auto port = DpdkPort::open(port_named("net_ring1"), cfg);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.error().find("rte_pktmbuf_pool_create"), std::string::npos) << port.error();
  // The port is still usable afterwards.
  auto again = DpdkPort::open(port_named("net_ring1"), PortConfig{});
  ASSERT_TRUE(again.ok()) << again.error();
}

TEST(DpdkPort, ReopensAfterClose) {
  VOX_REQUIRE_EAL();
  const uint16_t id = port_named("net_ring0");
  for (int round = 0; round < 3; ++round) {
    auto port = DpdkPort::open(id, PortConfig{});
    ASSERT_TRUE(port.ok()) << port.error();
    // Leave frames in the ring: closing drains them back to the pool.
    std::vector<void*> burst = crafted_burst(*port, 0, kBurst);
    ASSERT_EQ(port->tx_burst_or_free(0, burst.data(), kBurst), kBurst);
  }
  auto port = DpdkPort::open(id, PortConfig{});
  ASSERT_TRUE(port.ok()) << port.error();
  std::array<void*, kBurst> rx{};
  EXPECT_EQ(port->rx_burst(0, rx.data(), kBurst), 0u);
}

}  // namespace
}  // namespace vox::dataplane::dpdk::test
