// The backend conformance suite (tests/conformance/backend_harness.h) on the
// DPDK backend: a WorkerLoop on one port of a net_ring pair, polled by the
// test thread; the test plays the wire on the other port, as the peers
// (each host with its own MAC, answering the relay's ARP requests) and
// parses every frame the relay sends. No mbuf may leak.
#include <cstring>
#include <deque>
#include <thread>

#include "dataplane/dpdk/mbuf.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/vdev.h"
#include "dataplane/dpdk/worker_loop.h"
#include "dataplane/net/arp.h"
#include "dataplane/net/frame.h"
#include "dataplane/net/rewrite.h"
#include "dataplane/worker_set.h"
#include "tests/conformance/backend_cases.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::conformance {
namespace {

using dpdk::DpdkPort;

// The workers' half of a Dataplane for a loop the test polls: DPDK owns
// every port of its addresses, so binding one only names it.
class PolledDataplane final : public WorkerSet {
 public:
  PolledDataplane() : WorkerSet(1, 64) {}
  Result<PortHandle, int> bind_port(LocalKey key) override { return PortHandle{key}; }
  void release_port(PortHandle) override {}
  void set_port_tos(LocalKey, std::optional<uint8_t>) override {}  // the conformance cases set none
};

// One ring pair for the whole process: a process has at most
// RTE_MAX_ETHPORTS (32) ports and a vdev is never closed, so each case
// opens these two again instead of creating its own.
const Result<std::pair<uint16_t, uint16_t>, std::string>& ring_pair() {
  static const auto ids = dpdk::create_ring_pair("conformance", 1);
  return ids;
}

class DpdkHarness final : public BackendHarness {
 public:
  ~DpdkHarness() override { stop(); }

  void start(bool slow_path) override {
    VOX_REQUIRE_EAL();
    const auto& ids = ring_pair();
    ASSERT_TRUE(ids.ok())
        << ids.error()
        << " (every ring pair takes two of a process's 32 ethdev ports for good: run"
           " these cases in a process of their own, as ctest does)";
    auto relay = DpdkPort::open(ids->first, dpdk::PortConfig{});
    ASSERT_TRUE(relay.ok()) << relay.error();
    relay_port_.emplace(std::move(*relay));
    auto wire = DpdkPort::open(ids->second, dpdk::PortConfig{});
    ASSERT_TRUE(wire.ok()) << wire.error();
    wire_.emplace(std::move(*wire));
    std::memcpy(relay_mac_.bytes, relay_port_->info().mac.data(), 6);
    drain();  // what an earlier case left on the rings
    dataplane_ = std::make_unique<PolledDataplane>();
    if (slow_path) dataplane_->enable_slow_path();
    dpdk::WorkerLoopConfig c;
    c.ports.push_back(dpdk::PortQueues{&*relay_port_, 0, 0, {}, {}});
    c.host.addresses = {relay_address()};
    loop_ = std::make_unique<dpdk::WorkerLoop>(dataplane_->state(0), c);
    baseline_ = in_use();
  }

  void stop() override {
    if (!loop_) return;
    loop_.reset();  // frees the frames it still holds
    drain();
    EXPECT_EQ(in_use(), baseline_) << "mbufs leaked";
    dataplane_.reset();
    wire_.reset();
    relay_port_.reset();
  }

  WorkerSet& dataplane() override { return *dataplane_; }
  // A frame in one mbuf (data room 2048) with IPv4 and UDP headers.
  size_t largest_datagram() const override { return 2048 - 42; }
  IpAddr relay_address() const override { return *IpAddr::parse("10.0.0.1"); }

  // Party k (peers 2k, 2k+1) is host 10.0.0.(2 + k), RTP from port 5000,
  // RTCP from 5001.
  Endpoint peer(int i) override {
    return Endpoint{IpAddr::from_v4(0x0a000002u + uint32_t(i / 2)), uint16_t(5000 + i % 2)};
  }

  LocalKey bind_port() override {
    auto bound = dataplane_->bind_port(make_local_key(0, next_port_));
    next_port_ = uint16_t(next_port_ + 2);
    EXPECT_TRUE(bound.ok());
    return bound.ok() ? bound->key : 0;
  }

  void send(int i, LocalKey to, const std::vector<uint8_t>& payload) override {
    net::UdpFrameSpec spec;
    spec.src_mac = peer_mac(peer(i).addr);
    spec.dst_mac = relay_mac_;
    spec.src = peer(i);
    spec.dst = relay(to);
    std::vector<uint8_t> f(net::udp_frame_header_length(spec) + payload.size());
    std::memcpy(f.data() + f.size() - payload.size(), payload.data(), payload.size());
    ASSERT_EQ(net::build_udp_frame(f.data() + f.size() - payload.size(), payload.size(), spec),
              f.data());
    put_on_wire(f);
  }

  std::optional<Datagram> try_receive(int i) override {
    auto& q = inbox_[size_t(i)];
    if (q.empty()) return std::nullopt;
    Datagram d = std::move(q.front());
    q.pop_front();
    return d;
  }

  // One poll of the worker, then the wire: ARP requests answered as the
  // host asked for, UDP frames checked and filed under the peer they are
  // addressed to.
  void step() override {
    const uint32_t n = loop_->poll_once();
    if (take_from_wire() == 0 && n == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

 private:
  static net::MacAddr peer_mac(const IpAddr& ip) {
    return net::MacAddr{{0x02, 0xcf, 0, 0, 0, uint8_t(ip.v4())}};
  }

  void put_on_wire(const std::vector<uint8_t>& frame) {
    void* m;
    ASSERT_TRUE(wire_->alloc_mbufs(&m, 1));
    uint8_t* d = dpdk::mbuf_append(m, uint16_t(frame.size()));
    ASSERT_NE(d, nullptr);
    std::memcpy(d, frame.data(), frame.size());
    ASSERT_EQ(wire_->tx_burst(0, &m, 1), 1);
  }

  uint32_t take_from_wire() {
    void* m[32];
    uint32_t total = 0;
    while (const uint16_t n = wire_->rx_burst(0, m, 32)) {
      for (uint16_t k = 0; k < n; ++k) {
        auto d = dpdk::mbuf_data(m[k]);
        on_frame(std::vector<uint8_t>(d.begin(), d.end()));
      }
      dpdk::mbuf_free_bulk(m, n);
      total += n;
    }
    return total;
  }

  void on_frame(std::vector<uint8_t> f) {
    net::FrameView v;
    const net::FrameStatus st = net::parse_frame(f.data(), f.size(), &v);  // checksums verified
    if (st == net::FrameStatus::kNotIp && v.ethertype == net::kEtherTypeArp) {
      auto arp = net::parse_arp(f.data(), f.size());
      ASSERT_TRUE(arp.ok());
      ASSERT_EQ(arp->operation, net::kArpRequest);
      EXPECT_EQ(arp->sender_ip, relay_address().v4());
      const IpAddr target = IpAddr::from_v4(arp->target_ip);
      ASSERT_TRUE(is_peer_host(target)) << "ARP request for " << target.to_string();
      ASSERT_TRUE(net::build_arp_reply(f.data(), f.size(), peer_mac(target)));
      put_on_wire(f);
      return;
    }
    ASSERT_EQ(st, net::FrameStatus::kOk)
        << "the relay sent a frame that is not UDP: " << net::to_string(st);
    const Endpoint to{v.dst_ip, v.dst_port};
    for (int i = 0; i < kPeers; ++i) {
      if (!(peer(i) == to)) continue;
      EXPECT_EQ(v.dst_mac(), peer_mac(to.addr))
          << "to " << to.to_string() << " on another host's MAC";
      EXPECT_EQ(v.src_mac(), relay_mac_);
      inbox_[size_t(i)].push_back(
          Datagram{Endpoint{v.src_ip, v.src_port},
                   std::vector<uint8_t>(v.payload(), v.payload() + v.payload_length)});
      return;
    }
    ADD_FAILURE() << "the relay sent a datagram to " << to.to_string() << ", no peer";
  }

  bool is_peer_host(const IpAddr& ip) {
    for (int i = 0; i < kPeers; ++i)
      if (peer(i).addr == ip) return true;
    return false;
  }

  void drain() {
    void* m[32];
    for (DpdkPort* p : {relay_port_ ? &*relay_port_ : nullptr, wire_ ? &*wire_ : nullptr})
      while (const uint16_t n = p ? p->rx_burst(0, m, 32) : 0) dpdk::mbuf_free_bulk(m, n);
  }

  uint32_t in_use() const {
    uint32_t n = 0;
    for (const auto& u : relay_port_->pool_usage()) n += u.in_use;
    for (const auto& u : wire_->pool_usage()) n += u.in_use;
    return n;
  }

  std::optional<DpdkPort> relay_port_, wire_;
  net::MacAddr relay_mac_;
  std::unique_ptr<PolledDataplane> dataplane_;
  std::unique_ptr<dpdk::WorkerLoop> loop_;
  uint32_t baseline_ = 0;
  uint16_t next_port_ = 30000;
  std::deque<Datagram> inbox_[kPeers];
};

std::unique_ptr<BackendHarness> make_dpdk() {
  return std::make_unique<DpdkHarness>();
}

INSTANTIATE_TEST_SUITE_P(Dpdk, BackendConformance,
                         ::testing::Values(BackendParam{"dpdk", make_dpdk}), backend_name);

}  // namespace
}  // namespace vox::dataplane::conformance
