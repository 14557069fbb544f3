// The DPDK worker loop on two net_ring ports wired back to back: the test
// plays the wire on port "peer" (phones, gateway, attackers), the worker owns
// port "relay". Crafted frames go in; what comes out is parsed and checked
// header by header, and every drop must show in its named counter with no
// mbuf leaked.
#include "dataplane/dpdk/worker_loop.h"

#include <cstring>
#include <optional>

#include "base/bytes.h"
#include "dataplane/dpdk/mbuf.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/vdev.h"
#include "dataplane/net/arp.h"
#include "dataplane/net/checksum.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/rewrite.h"
#include "dataplane/srtp_slot.h"
#include "tests/dataplane/srtp_test_util.h"
#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::dpdk::test {
namespace {

using net::FrameStatus;
using net::FrameView;
using net::MacAddr;

constexpr MacAddr kPhoneMac{{0x02, 0xaa, 0, 0, 0, 0x02}};
constexpr MacAddr kCalleeMac{{0x02, 0xaa, 0, 0, 0, 0x03}};
constexpr MacAddr kGatewayMac{{0x02, 0xaa, 0, 0, 0, 0xfe}};

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
Endpoint ep(const char* s, uint16_t port) { return Endpoint{ip(s), port}; }
uint64_t get(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

// The two flows (ids 0 and 1) of one call on 10.0.0.1: port_a faces the
// caller (SDP 10.0.0.2:5000), port_b the callee (SDP callee:6000).
std::pair<FlowCommand, FlowCommand> call_flows(uint16_t port_a, uint16_t port_b, const char* callee) {
  FlowCommand a;
  a.type = CommandType::kAddFlow;
  a.id = 0;
  a.state.key = make_local_key(0, port_a);
  a.state.egress_rtp = a.state.egress_rtcp = 1;
  a.state.flags = kFlowEnabled;
  a.state.sdp_source = ep("10.0.0.2", 5000);
  FlowCommand b = a;
  b.id = 1;
  b.state.key = make_local_key(0, port_b);
  b.state.egress_rtp = b.state.egress_rtcp = 0;
  b.state.sdp_source = ep(callee, 6000);
  return {a, b};
}

// RTP (RFC 3550): version 2, PT 0, 160 bytes of payload.
std::vector<uint8_t> rtp_packet(uint16_t seq) {
  std::vector<uint8_t> p(172, 0xd5);
  p[0] = 0x80;
  p[1] = 0;
  store_be16(&p[2], seq);
  store_be32(&p[4], seq * 160u);
  store_be32(&p[8], 0x11223344);
  return p;
}

// A whole Ethernet/IPv4/UDP frame with correct checksums.
std::vector<uint8_t> udp_frame(const MacAddr& src_mac, const MacAddr& dst_mac, Endpoint src,
                               Endpoint dst, const std::vector<uint8_t>& payload, uint8_t ttl = 64) {
  net::UdpFrameSpec spec;
  spec.src_mac = src_mac;
  spec.dst_mac = dst_mac;
  spec.src = src;
  spec.dst = dst;
  spec.ttl = ttl;
  const size_t hdr = net::udp_frame_header_length(spec);
  std::vector<uint8_t> f(hdr + payload.size());
  std::memcpy(f.data() + hdr, payload.data(), payload.size());
  EXPECT_EQ(net::build_udp_frame(f.data() + hdr, payload.size(), spec), f.data());
  return f;
}

class WorkerLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VOX_REQUIRE_EAL();
    static int serial = 0;
    auto ids = create_ring_pair("wl" + std::to_string(serial++), 2);
    ASSERT_TRUE(ids.ok()) << ids.error();
    PortConfig pc;
    pc.tx_queues = 2;
    pc.rx_queues = 2;
    auto relay = DpdkPort::open(ids->first, pc);
    ASSERT_TRUE(relay.ok()) << relay.error();
    relay_.emplace(std::move(*relay));
    auto peer = DpdkPort::open(ids->second, pc);
    ASSERT_TRUE(peer.ok()) << peer.error();
    peer_.emplace(std::move(*peer));
    std::memcpy(relay_mac_.bytes, relay_->info().mac.data(), 6);
    state_ = std::make_unique<WorkerState>(0, 64);
  }

  void TearDown() override {
    loop_.reset();
    drain();
    if (relay_ && peer_) {
      EXPECT_EQ(in_use(), baseline_) << "mbufs leaked";
    }
  }

  uint32_t in_use() const {
    uint32_t n = 0;
    for (const auto& u : relay_->pool_usage()) n += u.in_use;
    for (const auto& u : peer_->pool_usage()) n += u.in_use;
    return n;
  }

  WorkerLoop& make_loop(HostConfig host = {}, IpAddr gateway = {}) {
    if (host.addresses.empty()) host.addresses = {ip("10.0.0.1")};
    WorkerLoopConfig c;
    c.ports.push_back(PortQueues{&*relay_, 0, 0, gateway.is_v4() ? gateway : IpAddr{}, gateway.is_v4() ? IpAddr{} : gateway});
    c.host = host;
    loop_ = std::make_unique<WorkerLoop>(*state_, c);
    baseline_ = in_use();
    return *loop_;
  }

  // Two flows of one call on the relay: 10.0.0.1:30000 faces the caller
  // (SDP 10.0.0.2:5000), 10.0.0.1:30002 the callee (SDP 10.0.0.3:6000).
  void install_call(const char* callee = "10.0.0.3") {
    auto [a, b] = call_flows(30000, 30002, callee);
    ASSERT_TRUE(state_->commands().push(a));
    ASSERT_TRUE(state_->commands().push(b));
  }

  // RTP from the caller to the relay's caller-facing port.
  std::vector<uint8_t> caller_frame(uint16_t seq) const {
    return udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                     rtp_packet(seq));
  }
  // The call's first packet: its ARP request for the callee answered, the
  // packet sent on (left for receive()).
  void first_call_packet(WorkerLoop& loop, uint16_t seq) {
    auto out = exchange(caller_frame(seq));
    ASSERT_EQ(out.size(), 1u);
    answer_arp(out[0], ip("10.0.0.3").v4(), kCalleeMac);
    EXPECT_EQ(loop.poll_once(), 1u);
  }

  void send(const std::vector<uint8_t>& frame) { send_on(*peer_, frame); }

  // Plays the wire on `peer` (the far end of one of the relay's ports).
  static void send_on(DpdkPort& peer, const std::vector<uint8_t>& frame) {
    void* m;
    ASSERT_TRUE(peer.alloc_mbufs(&m, 1));
    uint8_t* d = mbuf_append(m, uint16_t(frame.size()));
    ASSERT_NE(d, nullptr);
    std::memcpy(d, frame.data(), frame.size());
    ASSERT_EQ(peer.tx_burst(0, &m, 1), 1);
  }

  // Everything the relay transmitted (on any queue), as byte vectors.
  std::vector<std::vector<uint8_t>> receive() { return receive_from(*peer_); }

  static std::vector<std::vector<uint8_t>> receive_from(DpdkPort& peer) {
    std::vector<std::vector<uint8_t>> out;
    for (uint16_t q = 0; q < 2; ++q) {
      void* m[32];
      uint16_t n;
      while ((n = peer.rx_burst(q, m, 32)) > 0) {
        for (uint16_t i = 0; i < n; ++i) {
          auto d = mbuf_data(m[i]);
          out.emplace_back(d.begin(), d.end());
        }
        mbuf_free_bulk(m, n);
      }
    }
    return out;
  }

  void drain() {
    if (!relay_) return;
    void* m[32];
    uint16_t n;
    for (uint16_t q = 0; q < 2; ++q)
      while ((n = relay_->rx_burst(q, m, 32)) > 0) mbuf_free_bulk(m, n);
    receive();
  }

  // One frame in, one poll, what came out.
  std::vector<std::vector<uint8_t>> exchange(const std::vector<uint8_t>& frame) {
    send(frame);
    EXPECT_EQ(loop_->poll_once(), 1u);
    return receive();
  }

  // The callee's MAC, learned through the ARP request the worker sends.
  // Two workers without rte_flow: worker 0 polls the port and hands worker
  // 1's frames over `ring`; worker 1 sends on TX queue 1. Sets the baseline.
  std::pair<WorkerLoopConfig, WorkerLoopConfig> handoff_configs(void* ring, IpAddr address) {
    WorkerLoopConfig c0;
    c0.ports.push_back(PortQueues{&*relay_, 0, 0, {}, {}});
    c0.host.addresses = {address};
    c0.workers = 2;
    c0.outboxes = {nullptr, ring};
    WorkerLoopConfig c1 = c0;
    c1.outboxes.clear();
    c1.inbox = ring;
    c1.ports[0].tx_queue = 1;
    baseline_ = in_use();
    return {c0, c1};
  }

  // A frame the relay sent: from it to `to_mac`, between the endpoints,
  // TTL / hop limit 64, carrying `payload`; parse_frame verifies checksums.
  void expect_relayed(const std::vector<uint8_t>& frame, const MacAddr& to_mac, Endpoint from,
                      Endpoint to, const std::vector<uint8_t>& payload) {
    FrameView v;
    ASSERT_EQ(net::parse_frame(frame.data(), frame.size(), &v), FrameStatus::kOk);
    EXPECT_EQ(v.src_mac(), relay_mac_);
    EXPECT_EQ(v.dst_mac(), to_mac);
    EXPECT_EQ(v.src_ip, from.addr);
    EXPECT_EQ(v.src_port, from.port);
    EXPECT_EQ(v.dst_ip, to.addr);
    EXPECT_EQ(v.dst_port, to.port);
    EXPECT_EQ(v.ttl, 64);
    ASSERT_EQ(v.payload_length, payload.size());
    EXPECT_EQ(0, std::memcmp(v.payload(), payload.data(), payload.size()));
  }

  void answer_arp(const std::vector<uint8_t>& request, uint32_t for_ip, const MacAddr& mac) {
    auto a = net::parse_arp(request.data(), request.size());
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->operation, net::kArpRequest);
    EXPECT_EQ(a->target_ip, for_ip);
    EXPECT_EQ(a->sender_ip, ip("10.0.0.1").v4());
    EXPECT_EQ(a->sender_mac, relay_mac_);
    std::vector<uint8_t> reply = request;
    ASSERT_TRUE(net::build_arp_reply(reply.data(), reply.size(), mac));
    // build_arp_reply answers as `mac` for the target address: the callee.
    send(reply);
  }

  std::optional<DpdkPort> relay_, peer_;
  MacAddr relay_mac_;
  std::unique_ptr<WorkerState> state_;
  std::unique_ptr<WorkerLoop> loop_;
  uint32_t baseline_ = 0;
};

TEST_F(WorkerLoopTest, RelaysRtpWithRewrittenHeadersAfterResolvingTheNextHop) {
  WorkerLoop& loop = make_loop();
  install_call();
  const auto payload = rtp_packet(7);
  // TTL 3 on the way in: the relay sends as a host, with TTL 64.
  auto out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                                payload, 3));
  // The callee's MAC is unknown: one ARP request, the packet waits.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(get(loop.counters().arp_requests_sent), 1u);
  answer_arp(out[0], ip("10.0.0.3").v4(), kCalleeMac);
  EXPECT_EQ(loop.poll_once(), 1u);
  out = receive();
  ASSERT_EQ(out.size(), 1u);

  FrameView v;
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);  // checksums verified
  EXPECT_EQ(v.src_mac(), relay_mac_);
  EXPECT_EQ(v.dst_mac(), kCalleeMac);
  EXPECT_EQ(v.src_ip, ip("10.0.0.1"));
  EXPECT_EQ(v.src_port, 30002);
  EXPECT_EQ(v.dst_ip, ip("10.0.0.3"));
  EXPECT_EQ(v.dst_port, 6000);
  EXPECT_EQ(v.ttl, 64);
  ASSERT_EQ(v.payload_length, payload.size());
  EXPECT_EQ(0, std::memcmp(v.payload(), payload.data(), payload.size()));

  EXPECT_EQ(get(state_->counters().rx_packets), 1u);
  EXPECT_EQ(get(state_->counters().tx_packets), 1u);
  EXPECT_EQ(get(state_->flow(0).fast.packets), 1u);
  EXPECT_EQ(get(loop.counters().arp_learned), 1u);

  // Resolved now: the next packet goes straight out, both ways.
  out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                           rtp_packet(8)));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.dst_mac(), kCalleeMac);
  // The phone's MAC is not known either (the relay never gleans it from
  // data packets): the reverse direction resolves it by ARP the same way.
  out = exchange(udp_frame(kCalleeMac, relay_mac_, ep("10.0.0.3", 6000), ep("10.0.0.1", 30002),
                           rtp_packet(1)));
  ASSERT_EQ(out.size(), 1u);
  answer_arp(out[0], ip("10.0.0.2").v4(), kPhoneMac);
  loop.poll_once();
  out = receive();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.dst_ip, ip("10.0.0.2"));
  EXPECT_EQ(v.dst_port, 5000);
  EXPECT_EQ(v.src_port, 30000);
  EXPECT_EQ(v.dst_mac(), kPhoneMac);
  EXPECT_EQ(get(state_->counters().tx_packets), 3u);
}

// The TOS octet of what leaves a port: the call's (NG "TOS", the engine's
// PortTos table) ahead of --tos; a port whose call set none, --tos.
TEST_F(WorkerLoopTest, TosIsTheCallsElseTheOperators) {
  PortTos calls(1);
  HostConfig host;
  host.tos = 184;  // --tos: DSCP EF
  host.port_tos = &calls;
  WorkerLoop& loop = make_loop(host);
  install_call();
  first_call_packet(loop, 1);
  const auto tos_out = [&](uint16_t seq) -> int {
    auto got = seq ? exchange(caller_frame(seq)) : receive();
    FrameView v;
    if (got.size() != 1 || net::parse_frame(got[0].data(), got[0].size(), &v) != FrameStatus::kOk) return -1;
    return got[0][v.l3_offset + 1];
  };
  EXPECT_EQ(tos_out(0), 184);
  calls.set(make_local_key(0, 30002), 104);  // the callee-facing port: the call's AF31
  EXPECT_EQ(tos_out(2), 104);
  calls.set(make_local_key(0, 30002), 0);  // unmarked on purpose
  EXPECT_EQ(tos_out(3), 0);
  calls.set(make_local_key(0, 30002), std::nullopt);
  EXPECT_EQ(tos_out(4), 184);
}

// The relay's TX ring (net_ring: 1023 frames) is left undrained: what the
// queue refuses is freed, counted per worker and charged to the flow it
// would have left by (the callee-facing 10.0.0.1:30002), as the socket
// backend charges a refused sendmmsg.
TEST_F(WorkerLoopTest, FramesTheTxQueueRefusesAreChargedToTheirEgressFlow) {
  WorkerLoop& loop = make_loop();
  install_call();
  first_call_packet(loop, 0);
  ASSERT_EQ(receive().size(), 1u);

  const uint64_t sent_before = get(state_->counters().tx_packets);
  constexpr uint32_t kBursts = 40, kRingHolds = 1023;
  for (uint32_t b = 0; b < kBursts; ++b) {
    for (uint16_t j = 0; j < 32; ++j) send(caller_frame(uint16_t(1 + b * 32 + j)));
    ASSERT_EQ(loop.poll_once(), 32u);
  }
  const uint64_t refused = kBursts * 32 - kRingHolds;
  EXPECT_EQ(get(state_->counters().tx_packets) - sent_before, kRingHolds);
  EXPECT_EQ(get(loop.counters().tx_drops), refused);
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kSendFailed)]), refused);
  const FlowId to_callee = state_->table().find(make_local_key(0, 30002));
  const FlowId from_caller = state_->table().find(make_local_key(0, 30000));
  ASSERT_NE(to_callee, kNoFlow);
  ASSERT_NE(from_caller, kNoFlow);
  EXPECT_EQ(get(state_->flow(to_callee).drops.by_reason[size_t(DropReason::kSendFailed)]), refused);
  EXPECT_EQ(get(state_->flow(from_caller).drops.by_reason[size_t(DropReason::kSendFailed)]), 0u);
  EXPECT_EQ(receive().size(), kRingHolds);
}

TEST_F(WorkerLoopTest, OffLinkDestinationsGoThroughTheGateway) {
  WorkerLoop& loop = make_loop({}, ip("10.0.0.254"));
  install_call("198.51.100.7");
  auto out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                                rtp_packet(1)));
  ASSERT_EQ(out.size(), 1u);
  answer_arp(out[0], ip("10.0.0.254").v4(), kGatewayMac);
  loop.poll_once();
  out = receive();
  ASSERT_EQ(out.size(), 1u);
  FrameView v;
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.dst_mac(), kGatewayMac);
  EXPECT_EQ(v.dst_ip, ip("198.51.100.7"));
}

TEST_F(WorkerLoopTest, UnansweredArpDropsTheHeldPacketAndCountsIt) {
  HostConfig host;
  host.addresses = {ip("10.0.0.1")};
  host.arp_hold_ns = 1'000'000;  // 1 ms
  WorkerLoop& loop = make_loop(host);
  install_call();
  auto out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                                rtp_packet(1)));
  ASSERT_EQ(out.size(), 1u);  // the ARP request
  usleep(5000);
  loop.poll_once();
  EXPECT_TRUE(receive().empty());
  EXPECT_EQ(get(loop.counters().arp_unresolved), 1u);
  // Charged, like a refused send, to the flow it would have left by.
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kSendFailed)]), 1u);
  const FlowId to_callee = state_->table().find(make_local_key(0, 30002));
  ASSERT_NE(to_callee, kNoFlow);
  EXPECT_EQ(get(state_->flow(to_callee).drops.by_reason[size_t(DropReason::kSendFailed)]), 1u);
}

// A held frame whose hop resolves while the TX ring is full: the queue's
// refusal is counted and charged to its egress flow like any other.
TEST_F(WorkerLoopTest, AHeldFrameTheTxQueueRefusesIsChargedToItsEgressFlow) {
  WorkerLoop& loop = make_loop();
  install_call();
  auto out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                                rtp_packet(1)));
  ASSERT_EQ(out.size(), 1u);  // the ARP request; the frame waits for the reply
  // Fill the relay's TX ring (net_ring: 1023 frames) with ARP replies, left
  // undrained.
  uint8_t req[64];
  const size_t n =
      net::build_arp_request(req, sizeof req, kPhoneMac, ip("10.0.0.2").v4(), ip("10.0.0.1").v4());
  for (int b = 0; b < 33; ++b) {
    for (int j = 0; j < 32; ++j) send(std::vector<uint8_t>(req, req + n));
    ASSERT_EQ(loop.poll_once(), 32u);
  }
  ASSERT_GT(get(loop.counters().tx_drops), 0u);  // full
  const uint64_t tx_drops = get(loop.counters().tx_drops);
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kSendFailed)]), 0u);

  answer_arp(out[0], ip("10.0.0.3").v4(), kCalleeMac);
  EXPECT_EQ(loop.poll_once(), 1u);
  EXPECT_EQ(get(loop.counters().tx_drops), tx_drops + 1);
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kSendFailed)]), 1u);
  const FlowId to_callee = state_->table().find(make_local_key(0, 30002));
  ASSERT_NE(to_callee, kNoFlow);
  EXPECT_EQ(get(state_->flow(to_callee).drops.by_reason[size_t(DropReason::kSendFailed)]), 1u);
}

// The relay's IPv6 neighbour (RFC 4861) for a Neighbor Solicitation it
// sent: the NS is checked, and answered by the same code that answers the
// relay's own (as the neighbour, with its MAC).
std::vector<uint8_t> advertise(const std::vector<uint8_t>& ns, const char* target,
                               const MacAddr& target_mac, const MacAddr& relay_mac) {
  FrameView v;
  EXPECT_EQ(net::parse_frame(ns.data(), ns.size(), &v), FrameStatus::kNotUdp);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.ip_protocol, net::kIpProtoIcmpv6);
  EXPECT_EQ(v.l4()[0], net::kIcmpv6NeighborSolicitation);
  EXPECT_EQ(std::memcmp(v.l4() + 8, ip(target).bytes, 16), 0);
  EXPECT_EQ(v.src_mac(), relay_mac);
  // To the target's solicited-node group: 33:33:ff + its low 24 bits.
  const MacAddr group{{0x33, 0x33, 0xff, ip(target).bytes[13], ip(target).bytes[14], ip(target).bytes[15]}};
  EXPECT_EQ(v.dst_mac(), group);
  std::vector<uint8_t> na(ns.size() + 16);
  std::memcpy(na.data(), ns.data(), ns.size());
  const IpAddr ours[] = {ip(target)};
  auto n = net::answer_neighbor_solicitation(na.data(), na.size(), v, target_mac, ours);
  EXPECT_TRUE(n.ok());
  na.resize(n.ok() ? *n : 0);
  return na;
}

std::pair<FlowCommand, FlowCommand> call_flows_v6(uint16_t iface_a, const char* caller,
                                                  uint16_t iface_b, const char* callee) {
  auto [a, b] = call_flows(30000, 30002, callee);
  a.state.key = make_local_key(iface_a, 30000);
  a.state.sdp_source = ep(caller, 5000);
  b.state.key = make_local_key(iface_b, 30002);
  return {a, b};
}

// IPv6 on both legs: the callee's MAC comes by neighbour discovery, and the
// frame waiting for it leaves rewritten for the callee.
TEST_F(WorkerLoopTest, RelaysIpv6AfterNeighbourDiscovery) {
  HostConfig host;
  host.addresses = {ip("2001:db8::1")};
  WorkerLoop& loop = make_loop(host);
  auto [a, b] = call_flows_v6(0, "2001:db8::2", 0, "2001:db8::3");
  ASSERT_TRUE(state_->commands().push(a));
  ASSERT_TRUE(state_->commands().push(b));
  const auto rtp = rtp_packet(1);
  auto out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("2001:db8::2", 5000), ep("2001:db8::1", 30000), rtp));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(get(loop.counters().nd_solicitations_sent), 1u);
  // An unsolicited advertisement (S clear) for an address nobody is
  // resolving teaches nothing (RFC 4861 §7.2.5).
  uint8_t stray[128];
  const size_t sn = net::build_neighbor_solicitation(stray, sizeof stray, relay_mac_, ip("2001:db8::1"),
                                                     ip("2001:db8::9"));
  auto na = advertise(std::vector<uint8_t>(stray, stray + sn), "2001:db8::9", kGatewayMac, relay_mac_);
  uint8_t* icmp = na.data() + 14 + 40;
  icmp[4] &= 0xbf;
  store_be16(icmp + 2, 0);
  const uint32_t icmp_len = uint32_t(na.size() - 54);
  store_be16(icmp + 2, net::checksum_finish(net::checksum_add(
                           icmp, icmp_len,
                           net::pseudo_header_sum_v6(na.data() + 22, na.data() + 38, net::kIpProtoIcmpv6, icmp_len))));
  send(na);
  EXPECT_EQ(loop.poll_once(), 1u);
  EXPECT_TRUE(receive().empty());
  EXPECT_EQ(get(loop.counters().nd_learned), 0u);
  EXPECT_EQ(get(loop.counters().not_handled), 1u);

  send(advertise(out[0], "2001:db8::3", kCalleeMac, relay_mac_));
  EXPECT_EQ(loop.poll_once(), 1u);
  EXPECT_EQ(get(loop.counters().nd_learned), 1u);
  out = receive();
  ASSERT_EQ(out.size(), 1u);
  expect_relayed(out[0], kCalleeMac, ep("2001:db8::1", 30002), ep("2001:db8::3", 6000), rtp);
  EXPECT_EQ(get(state_->counters().tx_packets), 1u);

  // Resolved: the next one goes straight out.
  out = exchange(udp_frame(kPhoneMac, relay_mac_, ep("2001:db8::2", 5000), ep("2001:db8::1", 30000),
                           rtp_packet(2)));
  ASSERT_EQ(out.size(), 1u);
  expect_relayed(out[0], kCalleeMac, ep("2001:db8::1", 30002), ep("2001:db8::3", 6000), rtp_packet(2));
  EXPECT_EQ(get(loop.counters().nd_solicitations_sent), 1u);
}

// A trunk on IPv4 and a client on IPv6 (two interfaces, NG "direction"):
// each frame changes family, with fresh headers in front of its payload,
// and keeps its DSCP.
TEST_F(WorkerLoopTest, BridgesIpv4AndIpv6) {
  HostConfig host;
  host.addresses = {ip("10.0.0.1"), ip("2001:db8::1")};
  WorkerLoop& loop = make_loop(host);
  auto [a, b] = call_flows_v6(0, "10.0.0.2", 1, "2001:db8::3");
  ASSERT_TRUE(state_->commands().push(a));
  ASSERT_TRUE(state_->commands().push(b));
  auto frame = [](const MacAddr& from, Endpoint src, Endpoint dst, const std::vector<uint8_t>& payload,
                  const MacAddr& to) {
    net::UdpFrameSpec spec;
    spec.src_mac = from;
    spec.dst_mac = to;
    spec.src = src;
    spec.dst = dst;
    spec.traffic_class = 0xb8;  // EF
    std::vector<uint8_t> f(net::udp_frame_header_length(spec) + payload.size());
    std::memcpy(f.data() + f.size() - payload.size(), payload.data(), payload.size());
    EXPECT_EQ(net::build_udp_frame(f.data() + f.size() - payload.size(), payload.size(), spec), f.data());
    return f;
  };
  const auto rtp = rtp_packet(1);
  auto out = exchange(frame(kPhoneMac, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000), rtp, relay_mac_));
  ASSERT_EQ(out.size(), 1u);
  send(advertise(out[0], "2001:db8::3", kCalleeMac, relay_mac_));
  loop.poll_once();
  out = receive();
  ASSERT_EQ(out.size(), 1u);
  expect_relayed(out[0], kCalleeMac, ep("2001:db8::1", 30002), ep("2001:db8::3", 6000), rtp);
  FrameView v;
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
  EXPECT_EQ(uint8_t(load_be16(v.l3()) >> 4), 0xb8);
  EXPECT_EQ(out[0].size(), 14u + 40 + 8 + rtp.size());

  // And back: IPv6 in, IPv4 out to the caller once ARP has found it.
  const auto back = rtp_packet(7);
  out = exchange(frame(kCalleeMac, ep("2001:db8::3", 6000), ep("2001:db8::1", 30002), back, relay_mac_));
  ASSERT_EQ(out.size(), 1u);
  answer_arp(out[0], ip("10.0.0.2").v4(), kPhoneMac);
  loop.poll_once();
  out = receive();
  ASSERT_EQ(out.size(), 1u);
  expect_relayed(out[0], kPhoneMac, ep("10.0.0.1", 30000), ep("10.0.0.2", 5000), back);
  ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
  EXPECT_EQ(v.l3()[1], 0xb8);
  EXPECT_EQ(get(state_->counters().tx_packets), 2u);
  EXPECT_EQ(get(loop.counters().family_mismatch) + get(loop.counters().rewrite_failed), 0u);
}

TEST_F(WorkerLoopTest, AnswersArpAndPingForItsAddressesOnly) {
  WorkerLoop& loop = make_loop();
  // who-has 10.0.0.1 from the phone.
  uint8_t req[64];
  size_t n = net::build_arp_request(req, sizeof req, kPhoneMac, ip("10.0.0.2").v4(), ip("10.0.0.1").v4());
  auto out = exchange(std::vector<uint8_t>(req, req + n));
  ASSERT_EQ(out.size(), 1u);
  auto a = net::parse_arp(out[0].data(), out[0].size());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->operation, net::kArpReply);
  EXPECT_EQ(a->sender_mac, relay_mac_);
  EXPECT_EQ(a->sender_ip, ip("10.0.0.1").v4());
  EXPECT_EQ(a->target_mac, kPhoneMac);
  EXPECT_EQ(get(loop.counters().arp_replies_sent), 1u);
  EXPECT_EQ(get(loop.counters().arp_learned), 1u);  // RFC 826: the asker is learned

  // who-has 10.0.0.9: not ours, no answer.
  n = net::build_arp_request(req, sizeof req, kPhoneMac, ip("10.0.0.2").v4(), ip("10.0.0.9").v4());
  EXPECT_TRUE(exchange(std::vector<uint8_t>(req, req + n)).empty());
  EXPECT_EQ(get(loop.counters().not_handled), 1u);

  // ICMP echo request to 10.0.0.1, then to 10.0.0.9.
  for (const char* dst : {"10.0.0.1", "10.0.0.9"}) {
    std::vector<uint8_t> f = udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 1), ep(dst, 1),
                                       std::vector<uint8_t>(32, 0x61));
    uint8_t* ipv4 = f.data() + 14;
    ipv4[9] = 1;  // ICMP; the 8 "UDP" octets become the ICMP header
    store_be16(ipv4 + 10, 0);
    store_be16(ipv4 + 10, net::internet_checksum(ipv4, 20));
    uint8_t* icmp = ipv4 + 20;
    std::memset(icmp, 0, 8);
    icmp[0] = 8;
    store_be16(icmp + 4, 0x1234);  // identifier
    store_be16(icmp + 6, 1);       // sequence
    store_be16(icmp + 2, net::internet_checksum(icmp, f.size() - 34));
    out = exchange(f);
    if (std::string(dst) == "10.0.0.1") {
      ASSERT_EQ(out.size(), 1u);
      FrameView v;
      EXPECT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kNotUdp);
      EXPECT_EQ(out[0][34], 0);  // echo reply
      EXPECT_EQ(v.dst_ip, ip("10.0.0.2"));
      EXPECT_EQ(v.src_ip, ip("10.0.0.1"));
      EXPECT_EQ(net::internet_checksum(out[0].data() + 34, out[0].size() - 34), 0);
    } else {
      EXPECT_TRUE(out.empty());
    }
  }
  EXPECT_EQ(get(loop.counters().icmp_echo_replies), 1u);
  EXPECT_EQ(get(loop.counters().not_handled), 2u);
}

// Each malformed frame is dropped under its own reason, nothing goes out,
// no mbuf leaks (TearDown), and the call keeps working afterwards.
TEST_F(WorkerLoopTest, MalformedFramesAreCountedAndDropped) {
  WorkerLoop& loop = make_loop();
  install_call();
  const auto good = udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                              rtp_packet(1));
  struct Case {
    const char* what;
    FrameStatus reason;
    std::vector<uint8_t> frame;
  };
  std::vector<Case> cases;
  auto mutate = [&](const char* what, FrameStatus reason, auto fn) {
    std::vector<uint8_t> f = good;
    fn(f);
    cases.push_back({what, reason, std::move(f)});
  };
  mutate("truncated ethernet", FrameStatus::kTruncatedEthernet, [](auto& f) { f.resize(10); });
  mutate("truncated ip", FrameStatus::kTruncatedIp, [](auto& f) { f.resize(14 + 12); });
  mutate("bad ihl", FrameStatus::kBadIhl, [](auto& f) { f[14] = 0x43; });
  mutate("ip total length past the frame", FrameStatus::kBadIpLength,
         [](auto& f) { store_be16(&f[16], uint16_t(f.size())); });
  mutate("fragment", FrameStatus::kFragment, [](auto& f) {
    store_be16(&f[20], 0x2000);  // MF
    store_be16(&f[24], 0);
    store_be16(&f[24], net::internet_checksum(&f[14], 20));
  });
  mutate("wrong ip checksum", FrameStatus::kBadIpChecksum, [](auto& f) { f[24] ^= 0x55; });
  mutate("wrong udp checksum", FrameStatus::kBadUdpChecksum, [](auto& f) { f[40] ^= 0x55; });
  mutate("udp length", FrameStatus::kBadUdpLength, [](auto& f) { store_be16(&f[38], 9); });
  mutate("truncated udp", FrameStatus::kTruncatedUdp, [](auto& f) {
    f.resize(14 + 20 + 4);
    store_be16(&f[16], 24);
    store_be16(&f[24], 0);
    store_be16(&f[24], net::internet_checksum(&f[14], 20));
  });
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const uint64_t before = get(loop.counters().frame_drops[size_t(c.reason)]);
    const uint64_t malformed = get(state_->counters().drops[size_t(DropReason::kMalformed)]);
    EXPECT_TRUE(exchange(c.frame).empty());
    EXPECT_EQ(get(loop.counters().frame_drops[size_t(c.reason)]), before + 1);
    EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kMalformed)]), malformed + 1);
  }
  // An MLD report (what every IPv6 host sends when it joins a group) has a
  // Hop-by-Hop header: unsupported, counted as such, and not "malformed".
  {
    std::vector<uint8_t> mld = udp_frame(kPhoneMac, relay_mac_, ep("fe80::2", 5000), ep("ff02::16", 5000),
                                         rtp_packet(1));
    mld[14 + 6] = 0;  // next header: Hop-by-Hop Options
    const uint64_t malformed = get(state_->counters().drops[size_t(DropReason::kMalformed)]);
    EXPECT_TRUE(exchange(mld).empty());
    EXPECT_EQ(get(loop.counters().frame_drops[size_t(FrameStatus::kUnsupported)]), 1u);
    EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kMalformed)]), malformed);
  }
  // Unicast to another station's MAC: not for this host at all.
  std::vector<uint8_t> elsewhere = good;
  std::memcpy(elsewhere.data(), kCalleeMac.bytes, 6);
  EXPECT_TRUE(exchange(elsewhere).empty());
  EXPECT_EQ(get(loop.counters().other_mac), 1u);
  // Not UDP: TCP to our address is not ours to handle.
  std::vector<uint8_t> tcp = good;
  tcp[23] = 6;
  store_be16(&tcp[24], 0);
  store_be16(&tcp[24], net::internet_checksum(&tcp[14], 20));
  EXPECT_TRUE(exchange(tcp).empty());
  EXPECT_EQ(get(loop.counters().not_handled), 1u);
  // UDP to an address that is not the relay's.
  EXPECT_TRUE(exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.77", 30000),
                                 rtp_packet(1)))
                  .empty());
  EXPECT_EQ(get(loop.counters().not_ours), 1u);
  // Valid UDP but not RTP on a media port: the pipeline's counter.
  EXPECT_TRUE(exchange(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000),
                                 std::vector<uint8_t>(20, 0)))
                  .empty());
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kNotMedia)]), 1u);
  EXPECT_EQ(get(state_->counters().tx_packets), 0u);
  // The call still relays.
  auto out = exchange(good);
  ASSERT_EQ(out.size(), 1u);  // ARP request for the callee
  EXPECT_EQ(get(loop.counters().arp_requests_sent), 1u);
  answer_arp(out[0], ip("10.0.0.3").v4(), kCalleeMac);
  loop.poll_once();
  EXPECT_EQ(receive().size(), 1u);
  EXPECT_EQ(get(state_->counters().tx_packets), 1u);
}

// Without rte_flow, worker 0 polls the port and hands other workers' frames
// over rings; the owner relays them on its own TX queue.
TEST_F(WorkerLoopTest, RxCoreHandsFramesToTheOwningWorker) {
  void* ring = create_handoff_ring("wl_handoff", 1024);
  ASSERT_NE(ring, nullptr);
  WorkerState s1(1, 64);
  auto [c0, c1] = handoff_configs(ring, ip("10.0.0.1"));
  {
    WorkerLoop w0(*state_, c0), w1(s1, c1);
    w0.share_arp_with(w1);
    // Ports 30002/30003 -> (30002 / 2) % 2 = 1: worker 1's call.
    auto [a, b] = call_flows(30002, 30006, "10.0.0.3");
    ASSERT_TRUE(s1.commands().push(a));
    ASSERT_TRUE(s1.commands().push(b));
    // Worker 0 learns the callee's MAC from its ARP request to us and
    // tells worker 1.
    uint8_t req[64];
    size_t n = net::build_arp_request(req, sizeof req, kCalleeMac, ip("10.0.0.3").v4(), ip("10.0.0.1").v4());
    send(std::vector<uint8_t>(req, req + n));
    send(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30002), rtp_packet(1)));
    EXPECT_EQ(w0.poll_once(), 2u);
    EXPECT_EQ(get(w0.counters().handed_off), 1u);
    EXPECT_EQ(w1.poll_once(), 1u);
    auto out = receive();
    ASSERT_EQ(out.size(), 2u);  // the ARP reply (queue 0) and the relayed frame (queue 1)
    FrameView v;
    ASSERT_EQ(net::parse_frame(out[1].data(), out[1].size(), &v), FrameStatus::kOk);
    EXPECT_EQ(v.dst_mac(), kCalleeMac);
    EXPECT_EQ(v.dst_ip, ip("10.0.0.3"));
    EXPECT_EQ(v.src_port, 30006);
    EXPECT_EQ(get(s1.counters().tx_packets), 1u);
    EXPECT_EQ(get(w1.counters().arp_requests_sent), 0u);
  }
  free_handoff_ring(ring);
}

// The same over IPv6: worker 1 solicits the callee, the advertisement comes
// back to worker 0 (which polls the port and solicited nothing): it takes
// it, being solicited and for our address, and tells worker 1.
TEST_F(WorkerLoopTest, AnAdvertisementForAnotherWorkersSolicitationReachesIt) {
  void* ring = create_handoff_ring("wl_handoff6", 1024);
  ASSERT_NE(ring, nullptr);
  WorkerState s1(1, 64);
  auto [c0, c1] = handoff_configs(ring, ip("2001:db8::1"));
  {
    WorkerLoop w0(*state_, c0), w1(s1, c1);
    w0.share_arp_with(w1);
    auto [a, b] = call_flows_v6(0, "2001:db8::2", 0, "2001:db8::3");
    a.state.key = make_local_key(0, 30002);  // (30002 / 2) % 2 = 1: worker 1's call
    b.state.key = make_local_key(0, 30006);
    ASSERT_TRUE(s1.commands().push(a));
    ASSERT_TRUE(s1.commands().push(b));
    const auto rtp = rtp_packet(1);
    send(udp_frame(kPhoneMac, relay_mac_, ep("2001:db8::2", 5000), ep("2001:db8::1", 30002), rtp));
    EXPECT_EQ(w0.poll_once(), 1u);
    EXPECT_EQ(w1.poll_once(), 1u);
    auto out = receive();
    ASSERT_EQ(out.size(), 1u);  // worker 1's solicitation
    EXPECT_EQ(get(w1.counters().nd_solicitations_sent), 1u);
    send(advertise(out[0], "2001:db8::3", kCalleeMac, relay_mac_));
    EXPECT_EQ(w0.poll_once(), 1u);
    EXPECT_EQ(get(w0.counters().nd_learned), 1u);
    w1.poll_once();  // takes the news, sends the held frame
    out = receive();
    ASSERT_EQ(out.size(), 1u);
    expect_relayed(out[0], kCalleeMac, ep("2001:db8::1", 30006), ep("2001:db8::3", 6000), rtp);
    EXPECT_EQ(get(s1.counters().tx_packets), 1u);
  }
  free_handoff_ring(ring);
}

// Two ports, as on an SBC with a trunk NIC and a client NIC: interface 0
// (10.0.0.1) lives on the fixture's port, interface 1 (10.9.0.1) on a
// second ring pair with its own MAC and gateway. Media crosses between
// them; ARP for an address is answered only on its own port; next hops are
// resolved, and packets sent, on the egress interface's port.
TEST_F(WorkerLoopTest, RelaysBetweenTwoPortsEachWithItsOwnAddressesAndGateway) {
  auto ids = create_ring_pair("wl_second", 2);
  ASSERT_TRUE(ids.ok()) << ids.error();
  PortConfig pc;
  pc.tx_queues = pc.rx_queues = 2;
  auto relay2 = DpdkPort::open(ids->first, pc);
  ASSERT_TRUE(relay2.ok()) << relay2.error();
  auto peer2 = DpdkPort::open(ids->second, pc);
  ASSERT_TRUE(peer2.ok()) << peer2.error();
  // net_ring ports all have MAC 00:00:00:00:00:00 (and take no other), so
  // here which ring a frame leaves on tells the ports apart; the netns
  // test checks each veth's own MAC (test_dpdk_netns_ports.py).
  MacAddr relay2_mac;
  std::memcpy(relay2_mac.bytes, relay2->info().mac.data(), 6);
  auto in_use2 = [&] {
    uint32_t n = 0;
    for (const auto& u : relay2->pool_usage()) n += u.in_use;
    for (const auto& u : peer2->pool_usage()) n += u.in_use;
    return n;
  };
  const uint32_t baseline2 = in_use2();
  constexpr MacAddr kClientGatewayMac{{0x02, 0xbb, 0, 0, 0, 0xfe}};
  {
    HostConfig host;
    host.addresses = {ip("10.0.0.1"), ip("10.9.0.1")};
    host.interface_port = {0, 1};
    WorkerLoopConfig c;
    c.ports.push_back(PortQueues{&*relay_, 0, 0, ip("10.0.0.254"), {}});
    c.ports.push_back(PortQueues{&*relay2, 0, 0, ip("10.9.0.254"), {}});
    c.host = host;
    WorkerLoop loop(*state_, c);
    baseline_ = in_use();
    // The caller on the trunk side (on link), the client off link behind
    // the second port's gateway.
    auto [a, b] = call_flows(30000, 30002, "198.51.100.7");
    b.state.key = make_local_key(1, 30002);
    ASSERT_TRUE(state_->commands().push(a));
    ASSERT_TRUE(state_->commands().push(b));

    // who-has 10.9.0.1 on the trunk port: not that port's address.
    uint8_t req[64];
    size_t n = net::build_arp_request(req, sizeof req, kPhoneMac, ip("10.0.0.2").v4(), ip("10.9.0.1").v4());
    send(std::vector<uint8_t>(req, req + n));
    EXPECT_EQ(loop.poll_once(), 1u);
    EXPECT_TRUE(receive().empty());
    EXPECT_TRUE(receive_from(*peer2).empty());
    EXPECT_EQ(get(loop.counters().arp_replies_sent), 0u);
    // ... and on its own port it is, with that port's MAC.
    n = net::build_arp_request(req, sizeof req, kClientGatewayMac, ip("10.9.0.254").v4(), ip("10.9.0.1").v4());
    send_on(*peer2, std::vector<uint8_t>(req, req + n));
    EXPECT_EQ(loop.poll_once(), 1u);
    auto out2 = receive_from(*peer2);
    ASSERT_EQ(out2.size(), 1u);
    auto reply = net::parse_arp(out2[0].data(), out2[0].size());
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->operation, net::kArpReply);
    EXPECT_EQ(reply->sender_mac, relay2_mac);
    EXPECT_TRUE(receive().empty());
    // That request taught the relay the client gateway's MAC (RFC 826).

    // Trunk -> client: in on port 0, out on port 1 through its gateway.
    send(udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000), rtp_packet(1)));
    EXPECT_EQ(loop.poll_once(), 1u);
    EXPECT_TRUE(receive().empty());
    // One frame, checksums valid, from this port's MAC and address.
    auto expect_relayed = [](const std::vector<std::vector<uint8_t>>& frames, const MacAddr& src_mac,
                             const MacAddr& dst_mac, Endpoint src, Endpoint dst) {
      ASSERT_EQ(frames.size(), 1u);
      FrameView v;
      ASSERT_EQ(net::parse_frame(frames[0].data(), frames[0].size(), &v), FrameStatus::kOk);
      EXPECT_EQ(v.src_mac(), src_mac);
      EXPECT_EQ(v.dst_mac(), dst_mac);
      EXPECT_EQ((Endpoint{v.src_ip, v.src_port}).to_string(), src.to_string());
      EXPECT_EQ((Endpoint{v.dst_ip, v.dst_port}).to_string(), dst.to_string());
      EXPECT_EQ(v.payload_length, 172u);
    };
    expect_relayed(receive_from(*peer2), relay2_mac, kClientGatewayMac, ep("10.9.0.1", 30002),
                   ep("198.51.100.7", 6000));

    // Client -> trunk: the caller's MAC is resolved on port 0, by an ARP
    // request from the trunk address, and the packet leaves there.
    send_on(*peer2, udp_frame(kClientGatewayMac, relay2_mac, ep("198.51.100.7", 6000),
                              ep("10.9.0.1", 30002), rtp_packet(2)));
    EXPECT_EQ(loop.poll_once(), 1u);
    EXPECT_TRUE(receive_from(*peer2).empty());
    auto out = receive();
    ASSERT_EQ(out.size(), 1u);
    answer_arp(out[0], ip("10.0.0.2").v4(), kPhoneMac);
    loop.poll_once();
    expect_relayed(receive(), relay_mac_, kPhoneMac, ep("10.0.0.1", 30000), ep("10.0.0.2", 5000));
    EXPECT_TRUE(receive_from(*peer2).empty());

    EXPECT_EQ(get(state_->counters().tx_packets), 2u);
    EXPECT_EQ(get(state_->flow(0).fast.packets), 1u);
    EXPECT_EQ(get(state_->flow(1).fast.packets), 1u);
  }
  receive_from(*peer2);
  void* m[32];
  for (uint16_t q = 0; q < 2; ++q)
    while (uint16_t k = relay2->rx_burst(q, m, 32)) mbuf_free_bulk(m, k);
  EXPECT_EQ(in_use2(), baseline2) << "mbufs leaked on the second port";
}

// An SRTP callee: the caller's plain RTP leaves as SRTP that the callee's
// own context decrypts (the frame's lengths and checksums follow the longer
// payload), the callee's SRTP arrives plain at the caller, and a tampered
// or replayed frame from the callee goes nowhere, counted on its flow.
TEST_F(WorkerLoopTest, BridgesPlainAndSrtpAndDropsForgedFrames) {
  using dataplane::testing::make_slot;
  using dataplane::testing::make_stream;
  using dataplane::testing::seal;
  using dataplane::testing::test_key;
  WorkerLoop& loop = make_loop();
  install_call();
  uint16_t seq = 1;
  uint8_t seed = 1;
  bool resolved = false;
  for (SrtpSuite suite : {SrtpSuite::kAesCm128HmacSha1_80, SrtpSuite::kAeadAes128Gcm}) {
    SCOPED_TRACE(srtp_suite_info(suite).name);
    const SrtpKey callee_sends = test_key(suite, seed++), to_callee = test_key(suite, seed++);
    FlowCommand c;
    c.type = CommandType::kSetSrtp;
    c.id = 1;
    c.srtp = make_slot(&callee_sends, &to_callee);
    ASSERT_TRUE(state_->commands().push(c));
    SrtpStream callee_out = make_stream(callee_sends, SrtpDirection::kOutbound);
    SrtpStream callee_in = make_stream(to_callee, SrtpDirection::kInbound);
    const size_t tag = srtp_suite_info(suite).srtp_tag_length;

    // Caller -> callee: plain in, SRTP out.
    const auto plain = rtp_packet(seq++);
    auto out = exchange(
        udp_frame(kPhoneMac, relay_mac_, ep("10.0.0.2", 5000), ep("10.0.0.1", 30000), plain));
    if (!resolved) {
      ASSERT_EQ(out.size(), 1u);  // ARP for the callee, the frame waits
      answer_arp(out[0], ip("10.0.0.3").v4(), kCalleeMac);
      EXPECT_EQ(loop.poll_once(), 1u);
      out = receive();
    }
    ASSERT_EQ(out.size(), 1u);
    FrameView v;
    ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);  // checksums
    EXPECT_EQ(out[0].size(), 14 + 20 + 8 + plain.size() + tag);
    EXPECT_EQ(v.dst_ip, ip("10.0.0.3"));
    EXPECT_EQ(v.src_port, 30002);
    ASSERT_EQ(v.payload_length, plain.size() + tag);
    auto back = dataplane::testing::open(callee_in, v.payload(), v.payload_length);
    ASSERT_TRUE(back.ok()) << to_string(back.error());
    EXPECT_EQ(*back, plain);

    // Callee -> caller: SRTP in, plain out.
    const auto reply = rtp_packet(seq++);
    const auto sealed = seal(callee_out, reply);
    const auto frame =
        udp_frame(kCalleeMac, relay_mac_, ep("10.0.0.3", 6000), ep("10.0.0.1", 30002), sealed);
    out = exchange(frame);
    if (!resolved) {
      ASSERT_EQ(out.size(), 1u);
      answer_arp(out[0], ip("10.0.0.2").v4(), kPhoneMac);
      EXPECT_EQ(loop.poll_once(), 1u);
      out = receive();
      resolved = true;
    }
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(net::parse_frame(out[0].data(), out[0].size(), &v), FrameStatus::kOk);
    EXPECT_EQ(v.dst_ip, ip("10.0.0.2"));
    EXPECT_EQ(v.src_port, 30000);
    ASSERT_EQ(v.payload_length, reply.size());
    EXPECT_EQ(0, std::memcmp(v.payload(), reply.data(), reply.size()));

    // Forged frames from the callee's address: a replay and a flipped bit.
    const uint64_t sent_before = get(state_->counters().tx_packets);
    const uint64_t replayed =
        get(state_->flow(1).drops.by_reason[size_t(DropReason::kSrtpReplayed)]);
    const uint64_t forged =
        get(state_->flow(1).drops.by_reason[size_t(DropReason::kSrtpAuthFailed)]);
    EXPECT_TRUE(exchange(frame).empty());
    auto tampered = seal(callee_out, rtp_packet(seq++));
    tampered[50] ^= 0x04;
    EXPECT_TRUE(exchange(udp_frame(kCalleeMac, relay_mac_, ep("10.0.0.3", 6000),
                                   ep("10.0.0.1", 30002), tampered))
                    .empty());
    EXPECT_EQ(get(state_->flow(1).drops.by_reason[size_t(DropReason::kSrtpReplayed)]),
              replayed + 1);
    EXPECT_EQ(get(state_->flow(1).drops.by_reason[size_t(DropReason::kSrtpAuthFailed)]),
              forged + 1);
    EXPECT_EQ(get(state_->counters().tx_packets), sent_before);
  }
  EXPECT_EQ(get(state_->counters().drops[size_t(DropReason::kSrtpError)]), 0u);
}

}  // namespace
}  // namespace vox::dataplane::dpdk::test
