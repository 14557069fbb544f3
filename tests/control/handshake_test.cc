// The handshake thread, driven by hand (run_once, no thread) on an
// in-memory dataplane: a browser emulated with the project's own STUN
// writer and a DTLS client session sends its checks and handshake through
// worker 0's slow-path ring; what the relay answers is read back from the
// reply ring and fed to the browser, as a worker would send it.
#include "control/webrtc/handshake.h"

#include <gtest/gtest.h>

#include <cstring>

#include "control/webrtc/stun.h"
#include "dataplane/inline_dataplane.h"
#include "dataplane/slow_path.h"

namespace vox::control::webrtc {
namespace {

constexpr dataplane::LocalKey kPort = dataplane::make_local_key(0, 30000);
const Endpoint kBrowser{*IpAddr::parse("127.0.0.2"), 50000};
const Endpoint kForger{*IpAddr::parse("127.0.0.3"), 50001};

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_ctx_ = std::move(DtlsContext::create({}).value());
    browser_ctx_ = std::move(DtlsContext::create({}).value());
    thread_ = std::make_unique<HandshakeThread>(plane_, *relay_ctx_);
  }

  LegSpec spec(bool relay_client = false) const {
    LegSpec s;
    s.id = 7;
    s.key = kPort;
    s.ice = true;
    s.local = {"relayufr", "relaypassword0123456789ab"};
    s.remote = {"brwsufrg", "browserpassword012345678"};
    s.dtls = true;
    s.dtls_client = relay_client;
    s.remote_fingerprint = browser_ctx_->fingerprint();
    return s;
  }

  // A browser's binding request: USERNAME relay:browser, integrity with the relay's pwd.
  std::vector<uint8_t> check(std::string_view pwd, bool nominate, uint8_t tid = 1) {
    std::vector<uint8_t> buf(512);
    std::array<uint8_t, 12> t{};
    t[0] = tid;
    StunWriter w(buf, kStunBinding, StunClass::kRequest, t);
    w.add_username("relayufr:brwsufrg");
    w.add_priority(0x6e001eff);
    w.add_ice_controlling(0x1122334455667788ull);
    if (nominate) w.add_use_candidate();
    buf.resize(w.finish(pwd, false, true));
    return buf;
  }

  void arrive(std::span<const uint8_t> d, const Endpoint& from, dataplane::PacketKind kind) {
    dataplane::SlowPacket* p = plane_.state(0).slow_path()->in.claim();
    ASSERT_NE(p, nullptr);
    p->local = kPort;
    p->source = from;
    p->kind = kind;
    p->len = uint16_t(d.size());
    std::memcpy(p->data, d.data(), d.size());
    plane_.state(0).slow_path()->in.publish();
  }

  // The replies the relay queued for the worker to send.
  std::vector<dataplane::SlowReply> replies() {
    std::vector<dataplane::SlowReply> out;
    auto& ring = plane_.state(0).slow_path()->out;
    for (const dataplane::SlowReply* r; (r = ring.peek(0)) != nullptr; ring.consume(1)) out.push_back(*r);
    return out;
  }

  // Runs browser <-> relay until neither has anything to say.
  void pump(DtlsSession& browser) {
    std::vector<uint8_t> d;
    for (int round = 0; round < 20; ++round) {
      bool any = false;
      while (browser.pop(d)) {
        arrive(d, kBrowser, dataplane::PacketKind::kDtls);
        any = true;
      }
      thread_->run_once(now_ += 1'000'000);
      for (auto& r : replies()) {
        EXPECT_EQ(r.from, kPort);
        if (r.data[0] >= 20 && r.data[0] <= 63) {
          EXPECT_EQ(r.dest, kBrowser);
          browser.on_datagram({r.data, r.len}, now_);
          any = true;
        }
      }
      if (!any) return;
    }
  }

  dataplane::InlineDataplane plane_{1};
  std::unique_ptr<DtlsContext> relay_ctx_, browser_ctx_;
  std::unique_ptr<HandshakeThread> thread_;
  int64_t now_ = 1'000'000'000;
};

TEST_F(HandshakeTest, ChecksAnsweredNominationAndDtlsKeysReported) {
  thread_->set_leg(spec());
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  auto r = replies();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dest, kBrowser);
  auto resp = parse_stun({r[0].data, r[0].len});
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->cls, StunClass::kSuccess);
  EXPECT_TRUE(verify_integrity({r[0].data, r[0].len}, *resp, "relaypassword0123456789ab"));
  ASSERT_TRUE(resp->xor_mapped.has_value());
  EXPECT_EQ(*resp->xor_mapped, kBrowser);

  auto events = thread_->take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, LegEventKind::kIcePeer);
  EXPECT_EQ(events[0].id, 7u);
  EXPECT_EQ(events[0].peer, kBrowser);

  // The browser is the DTLS client (the relay answered a=setup:passive).
  DtlsSession browser(*browser_ctx_, true, relay_ctx_->fingerprint());
  browser.start(now_);
  pump(browser);
  ASSERT_EQ(browser.state(), DtlsState::kConnected);
  events = thread_->take_events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(events[0].kind, LegEventKind::kDtlsConnected);
  EXPECT_EQ(events[0].keys.inbound, browser.keys().outbound);
  EXPECT_EQ(events[0].keys.outbound, browser.keys().inbound);
  EXPECT_EQ(thread_->counters().handshakes_completed, 1u);
  EXPECT_EQ(thread_->counters().checks_answered, 1u);
  auto st = thread_->status(kPort);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->dtls, DtlsState::kConnected);
  EXPECT_EQ(st->ice, IceState::kConnected);
}

TEST_F(HandshakeTest, RelayAsClientStartsAtTheFirstValidCheck) {
  thread_->set_leg(spec(true));
  arrive(check("relaypassword0123456789ab", false), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  auto r = replies();
  ASSERT_EQ(r.size(), 2u);  // the STUN answer, then the ClientHello
  EXPECT_EQ(r[1].dest, kBrowser);
  DtlsSession browser(*browser_ctx_, false, relay_ctx_->fingerprint());
  browser.on_datagram({r[1].data, r[1].len}, now_);
  pump(browser);
  EXPECT_EQ(browser.state(), DtlsState::kConnected);
  bool connected = false;
  for (auto& e : thread_->take_events()) connected |= e.kind == LegEventKind::kDtlsConnected;
  EXPECT_TRUE(connected);
}

// A restored call's leg (LegSpec::dtls_done: keys installed by an earlier
// process): checks are answered with the saved credentials, no DTLS
// handshake starts, even as the client, and a stray DTLS datagram is
// counted, not answered.
TEST_F(HandshakeTest, RestoredLegAnswersChecksAndRunsNoHandshake) {
  LegSpec s = spec(true);
  s.dtls_done = true;
  thread_->set_leg(s);
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  auto r = replies();
  ASSERT_EQ(r.size(), 1u);  // the STUN answer, no ClientHello
  EXPECT_EQ(r[0].dest, kBrowser);
  EXPECT_EQ(r[0].data[0] & 0xC0, 0);  // STUN
  DtlsSession browser(*browser_ctx_, true, relay_ctx_->fingerprint());
  browser.start(now_);
  std::vector<uint8_t> hello;
  ASSERT_TRUE(browser.pop(hello));
  arrive(hello, kBrowser, dataplane::PacketKind::kDtls);
  thread_->run_once(now_ += 1'000'000);
  EXPECT_TRUE(replies().empty());
  EXPECT_EQ(thread_->counters().unexpected, 1u);
  bool peer = false;
  for (auto& e : thread_->take_events()) {
    EXPECT_NE(e.kind, LegEventKind::kDtlsFailed);
    EXPECT_NE(e.kind, LegEventKind::kDtlsConnected);
    peer |= e.kind == LegEventKind::kIcePeer;
  }
  EXPECT_TRUE(peer);  // nomination still reported: media goes to the browser's address
}

TEST_F(HandshakeTest, ForgedCheckMovesNothing) {
  thread_->set_leg(spec());
  arrive(check("wrong-password-of-a-forger", true), kForger, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  auto r = replies();
  ASSERT_EQ(r.size(), 1u);  // 401, no success
  auto resp = parse_stun({r[0].data, r[0].len});
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->cls, StunClass::kError);
  EXPECT_TRUE(thread_->take_events().empty());
  EXPECT_EQ(thread_->counters().checks_refused[size_t(IceRefusal::kBadIntegrity)], 1u);
  // DTLS from an address ICE never validated is not taken either.
  DtlsSession browser(*browser_ctx_, true, relay_ctx_->fingerprint());
  browser.start(now_);
  std::vector<uint8_t> d;
  while (browser.pop(d)) arrive(d, kForger, dataplane::PacketKind::kDtls);
  thread_->run_once(now_);
  EXPECT_TRUE(replies().empty());
  EXPECT_GE(thread_->counters().unexpected, 1u);
}

TEST_F(HandshakeTest, WrongFingerprintFailsAndReportsNoKeys) {
  LegSpec s = spec();
  s.remote_fingerprint = relay_ctx_->fingerprint();  // not the browser's certificate
  thread_->set_leg(s);
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  replies();
  thread_->take_events();
  DtlsSession browser(*browser_ctx_, true, relay_ctx_->fingerprint());
  browser.start(now_);
  pump(browser);
  auto events = thread_->take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, LegEventKind::kDtlsFailed);
  EXPECT_EQ(events[0].failure, DtlsFailure::kFingerprintMismatch);
  EXPECT_EQ(thread_->counters().handshakes_failed[size_t(DtlsFailure::kFingerprintMismatch)], 1u);
}

TEST_F(HandshakeTest, PacketsForPortsWithoutALegAreCountedAndDropped) {
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  EXPECT_TRUE(replies().empty());
  EXPECT_EQ(thread_->counters().no_leg, 1u);
  // A removed leg is gone too.
  thread_->set_leg(spec());
  thread_->remove_leg(kPort);
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_ + 2'000'000'000);
  EXPECT_TRUE(replies().empty());
  EXPECT_EQ(thread_->counters().no_leg, 2u);
  EXPECT_FALSE(thread_->status(kPort).has_value());
}

TEST_F(HandshakeTest, ConsentExpiryIsReportedOnce) {
  thread_->set_leg(spec());
  arrive(check("relaypassword0123456789ab", true), kBrowser, dataplane::PacketKind::kStun);
  thread_->run_once(now_);
  replies();
  ASSERT_EQ(thread_->take_events().size(), 1u);
  thread_->run_once(now_ + IceLiteAgent::kConsentTimeoutNs - 1'000'000'000);
  EXPECT_TRUE(thread_->take_events().empty());
  thread_->run_once(now_ + IceLiteAgent::kConsentTimeoutNs + 1'000'000'000);
  auto events = thread_->take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, LegEventKind::kIceExpired);
  thread_->run_once(now_ + IceLiteAgent::kConsentTimeoutNs + 3'000'000'000);
  EXPECT_TRUE(thread_->take_events().empty());
}

}  // namespace
}  // namespace vox::control::webrtc
