// One conformance suite for every packet I/O backend (STYLE.md rule 13): the
// same cases, written once against BackendHarness, run on the socket backend
// (io_uring and epoll loops, real UDP peers on loopback) and on the DPDK
// worker loop (net_ring, peers played as crafted frames). A backend proves
// itself by passing them: same media out, same named counters.
//
// The cases are in backend_cases.h; include that from exactly one test file
// per binary, which defines a harness and instantiates BackendConformance
// with it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/endpoint.h"
#include "codecs/opus_codec.h"
#include "codecs/transcoder.h"
#include "dataplane/dataplane.h"
#include "dataplane/slow_path.h"
#include "dataplane/worker_set.h"
#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"
#include "tests/codecs/audio_util.h"
#include "tests/dataplane/srtp_test_util.h"

namespace vox::dataplane::conformance {

using Millis = std::chrono::milliseconds;
// Longest a case waits for something that must happen (each normally takes
// well under a millisecond), and how long it listens for something that
// must not.
inline constexpr Millis kWait{500};
inline constexpr Millis kQuiet{30};

// A datagram the relay sent to a peer: the relay endpoint it left from.
struct Datagram {
  Endpoint from;
  std::vector<uint8_t> payload;
};

// What a case needs of a backend. Worker 0 owns every flow; interface 0 is
// the relay's one address. Peers are numbered endpoints the harness can
// send from and receive at: 2k and 2k+1 are one party's RTP and RTCP
// endpoints (one host where the backend tells hosts apart).
class BackendHarness {
 public:
  static constexpr int kPeers = 8;

  virtual ~BackendHarness() = default;
  // Brings the backend up (with a slow path: worker 0 hands STUN and DTLS
  // to the test through its rings); may GTEST_SKIP (the backend cannot
  // run here) or fail, and the case body then does not run.
  virtual void start(bool slow_path) = 0;
  // Tears it down; may check what only the backend can (mbufs leaked).
  virtual void stop() = 0;

  virtual WorkerSet& dataplane() = 0;
  // The largest datagram a peer can send in one piece (DPDK: one mbuf).
  virtual size_t largest_datagram() const = 0;
  virtual IpAddr relay_address() const = 0;
  virtual Endpoint peer(int i) = 0;
  // A relay port of interface 0, bound through Dataplane::bind_port (0:
  // none could be bound, with a test failure).
  virtual LocalKey bind_port() = 0;
  // Sends `payload` as one UDP datagram from peer `i` to relay port `to`.
  virtual void send(int i, LocalKey to, const std::vector<uint8_t>& payload) = 0;
  // What reached peer `i` already, oldest first, without waiting.
  virtual std::optional<Datagram> try_receive(int i) = 0;
  // Lets the relay run a moment (DPDK: polls it once and plays the peers'
  // side of the wire, ARP included; sockets: the worker thread runs).
  virtual void step() = 0;

  // Posts a command to worker 0 and waits until the worker applied it.
  bool post(const FlowCommand& c) {
    const uint64_t before = worker().commands;
    if (!dataplane().post(0, c)) return false;
    dataplane().flush();
    return wait_until([&] { return worker().commands > before; });
  }
  WorkerSnapshot worker() { return dataplane().worker_counters(0); }
  FlowSnapshot flow(FlowId id) { return dataplane().flow_counters(0, id); }
  Endpoint relay(LocalKey key) const { return Endpoint{relay_address(), local_key_port(key)}; }

  // Runs the relay until pred() holds or `wait` has passed; pred()'s last value.
  bool wait_until(const std::function<bool()>& pred, Millis wait = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      step();
    }
    return true;
  }
  // The next datagram for peer `i`, waiting at most `wait` for it.
  std::optional<Datagram> receive(int i, Millis wait = kWait) {
    std::optional<Datagram> d;
    wait_until([&] { return (d = try_receive(i)).has_value(); }, wait);
    return d;
  }
};

struct BackendParam {
  const char* name;
  std::unique_ptr<BackendHarness> (*make)();
};
inline void PrintTo(const BackendParam& p, std::ostream* os) {
  *os << p.name;
}
inline std::string backend_name(const ::testing::TestParamInfo<BackendParam>& p) {
  return p.param.name;
}

// RTP (RFC 3550 §5.1), version 2, no CSRC or extension; payload octets
// derived from seq so that every packet is told apart byte for byte.
inline std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ssrc, uint8_t pt = 0,
                                       size_t payload = 160) {
  std::vector<uint8_t> p(12 + payload);
  p[0] = 0x80;
  p[1] = pt;
  store_be16(&p[2], seq);
  store_be32(&p[4], seq * 160u);
  store_be32(&p[8], ssrc);
  for (size_t i = 12; i < p.size(); ++i) p[i] = uint8_t(seq * 7 + i);
  return p;
}

// RR with one report block (RFC 3550 §6.4.2), 32 octets.
inline std::vector<uint8_t> rtcp_rr(uint32_t ssrc, uint32_t about) {
  std::vector<uint8_t> p(32, 0);
  p[0] = 0x81;
  p[1] = 201;
  store_be16(&p[2], 7);
  store_be32(&p[4], ssrc);
  store_be32(&p[8], about);
  p[12] = 0x19;             // fraction lost
  store_be32(&p[16], 300);  // extended highest sequence number
  return p;
}

// SR without report blocks (RFC 3550 §6.4.1), 28 octets.
inline std::vector<uint8_t> rtcp_sr(uint32_t ssrc) {
  std::vector<uint8_t> p(28, 0);
  p[0] = 0x80;
  p[1] = 200;
  store_be16(&p[2], 6);
  store_be32(&p[4], ssrc);
  store_be32(&p[8], 0xe74b1a2c);  // NTP seconds
  store_be32(&p[16], 16000);      // RTP timestamp
  store_be32(&p[20], 100);        // packets
  store_be32(&p[24], 17200);      // octets
  return p;
}

inline uint64_t drops(const WorkerSnapshot& s, DropReason r) {
  return s.drops[size_t(r)];
}
inline uint64_t drops(const FlowSnapshot& s, DropReason r) {
  return s.drops[size_t(r)];
}

// Every drop counter is zero except those listed, which have these values.
template <class Snapshot>
void expect_drops(const Snapshot& s, std::initializer_list<std::pair<DropReason, uint64_t>> want,
                  const char* whose) {
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    uint64_t expected = 0;
    for (const auto& [reason, n] : want)
      if (size_t(reason) == r) expected = n;
    EXPECT_EQ(s.drops[r], expected) << whose << " drops '" << to_string(DropReason(r)) << "'";
  }
}

class BackendConformance : public ::testing::TestWithParam<BackendParam> {
 protected:
  // Flow ids; peers: party A's RTP/RTCP endpoints, party B's, A's source
  // behind a NAT, a stranger.
  static constexpr FlowId kA = 0, kB = 1, kBrtcp = 2;
  static constexpr int kPeerA = 0, kPeerB = 2, kPeerBrtcp = 3, kPeerAnat = 4, kStranger = 6;
  static constexpr int64_t kWindowNs = 2'000'000'000;

  void SetUp() override {
    h_ = GetParam().make();
    h_->start(false);
  }
  // A fresh backend whose worker has a slow-path consumer: the test.
  void restart_with_slow_path() {
    h_->stop();
    h_ = GetParam().make();
    h_->start(true);
  }
  void TearDown() override {
    if (h_) h_->stop();
  }
  BackendHarness& h() { return *h_; }

  void add_flow(FlowId id, LocalKey key, Endpoint sdp, FlowId egress_rtp, FlowId egress_rtcp,
                uint16_t flags = 0, int64_t window_ns = kWindowNs) {
    FlowCommand c;
    c.type = CommandType::kAddFlow;
    c.id = id;
    c.state.key = key;
    c.state.egress_rtp = egress_rtp;
    c.state.egress_rtcp = egress_rtcp;
    c.state.flags = uint16_t(kFlowEnabled | flags);
    c.state.sdp_source = sdp;
    c.state.latch_until_ns = monotonic_ns() + window_ns;
    ASSERT_TRUE(h_->post(c)) << "flow " << id << " not applied";
  }
  // Flows kA (relay port a_, facing SDP a_sdp) and kB (b_, facing b_sdp):
  // each party's RTP and RTCP leave by the other's port.
  void call(Endpoint a_sdp, Endpoint b_sdp, uint16_t b_flags = 0, int64_t window_ns = kWindowNs) {
    a_ = h_->bind_port();
    b_ = h_->bind_port();
    ASSERT_TRUE(a_ && b_);
    add_flow(kA, a_, a_sdp, kB, kB, 0, window_ns);
    add_flow(kB, b_, b_sdp, kA, kA, b_flags, window_ns);
  }
  // Peer `from` sends `payload` to relay port `to`; peer `at` gets it, byte
  // for byte, from relay port `via`.
  void expect_relayed(int from, LocalKey to, const std::vector<uint8_t>& payload, int at,
                      LocalKey via) {
    h_->send(from, to, payload);
    expect_delivered(at, via, payload);
  }
  // Peer `at` gets `payload` from relay port `via`.
  void expect_delivered(int at, LocalKey via, const std::vector<uint8_t>& payload) {
    auto d = h_->receive(at);
    ASSERT_TRUE(d.has_value()) << "nothing reached peer " << at;
    EXPECT_EQ(d->from.to_string(), h_->relay(via).to_string());
    EXPECT_EQ(d->payload, payload);
  }
  // Nothing more reaches peer `i` (listens kQuiet).
  void expect_quiet(int i) {
    auto d = h_->receive(i, kQuiet);
    EXPECT_FALSE(d.has_value()) << "peer " << i << " got " << d->payload.size() << " octets from "
                                << d->from.to_string();
  }
  // Waits until worker 0 has received `rx` packets (the pipeline saw them).
  void wait_rx(uint64_t rx) {
    EXPECT_TRUE(h_->wait_until([&] { return h_->worker().rx_packets >= rx; }))
        << "rx packets " << h_->worker().rx_packets << ", want " << rx;
  }
  void set_srtp(FlowId id, SrtpSlot* slot) {
    FlowCommand c;
    c.type = CommandType::kSetSrtp;
    c.id = id;
    c.srtp = slot;
    ASSERT_TRUE(h_->post(c));
  }

  LocalKey a_ = 0, b_ = 0;
  std::unique_ptr<BackendHarness> h_;
};

}  // namespace vox::dataplane::conformance
