// IceLiteAgent: answers, refusals and their error responses, nomination,
// ICE restart and consent freshness, on checks built as a browser sends them.
#include "control/webrtc/ice_agent.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/bytes.h"

namespace vox::control::webrtc {
namespace {

const IceCredentials kLocal{"vOxr", "relaypasswordrelaypassword"};
const IceCredentials kRemote{"ChRm", "browserpasswordbrowserpass"};
constexpr int64_t kSecond = 1'000'000'000;

struct CheckOptions {
  std::string username = "vOxr:ChRm";
  std::string key = kLocal.pwd;  // empty: no MESSAGE-INTEGRITY
  bool use_candidate = false;
  bool controlling = true;
  bool controlled = false;
  bool sha256 = false;
  uint16_t unknown_attribute = 0;  // 0: none
  StunClass cls = StunClass::kRequest;
  uint16_t method = kStunBinding;
  uint8_t tx = 1;
};

// A Binding request as Chrome sends one: USERNAME, ICE-CONTROLLING,
// PRIORITY, [USE-CANDIDATE], MESSAGE-INTEGRITY, FINGERPRINT.
std::vector<uint8_t> make_check(const CheckOptions& o) {
  std::vector<uint8_t> buf(548);
  StunTransaction tx{};
  tx.fill(o.tx);
  StunWriter w(buf, o.method, o.cls, tx);
  if (!o.username.empty()) w.add_username(o.username);
  if (o.controlling) w.add_ice_controlling(0x1122334455667788);
  if (o.controlled) w.add_ice_controlled(0x0102030405060708);
  w.add_priority(0x6e7f1eff);
  if (o.use_candidate) w.add_use_candidate();
  if (o.unknown_attribute != 0) w.add_attribute(o.unknown_attribute, {});
  const size_t n = w.finish(o.key, o.sha256, true);
  EXPECT_GT(n, 0u);
  buf.resize(n);
  return buf;
}

class IceAgentTest : public ::testing::Test {
 protected:
  IceCheckOutcome check(const CheckOptions& o, const Endpoint& from, int64_t now) {
    request_ = make_check(o);
    reply_.assign(IceLiteAgent::kMinReply, 0);
    auto out = agent_.on_check(request_, from, now, reply_);
    reply_.resize(out.reply_len);
    return out;
  }
  StunMessage reply() {
    auto m = parse_stun(reply_);
    EXPECT_TRUE(m.ok());
    return m.ok() ? *m : StunMessage{};
  }

  IceLiteAgent agent_{kLocal, kRemote};
  std::vector<uint8_t> request_, reply_;
  const Endpoint a_ = *Endpoint::parse("198.51.100.7:50000");
  const Endpoint b_ = *Endpoint::parse("[2001:db8::7]:50002");
};

TEST_F(IceAgentTest, ValidCheckIsAnswered) {
  EXPECT_EQ(agent_.state(0), IceState::kWaiting);
  auto out = check({}, a_, 5 * kSecond);
  EXPECT_EQ(out.refusal, IceRefusal::kNone);
  EXPECT_FALSE(out.peer_changed);
  ASSERT_GT(out.reply_len, 0u);
  auto m = reply();
  EXPECT_EQ(m.cls, StunClass::kSuccess);
  EXPECT_EQ(m.method, kStunBinding);
  EXPECT_EQ(m.transaction, parse_stun(request_)->transaction);
  EXPECT_EQ(m.xor_mapped, a_);
  EXPECT_TRUE(m.fingerprint);
  EXPECT_EQ(m.integrity_sha256_at, -1);
  EXPECT_TRUE(verify_integrity(reply_, m, kLocal.pwd));
  EXPECT_FALSE(verify_integrity(reply_, m, kRemote.pwd));
  EXPECT_EQ(agent_.last_checked(), a_);
  EXPECT_FALSE(agent_.peer().valid());
  EXPECT_EQ(agent_.state(5 * kSecond), IceState::kChecking);
  EXPECT_EQ(agent_.checks_answered(), 1u);
}

TEST_F(IceAgentTest, Sha256RequestGetsBothIntegrities) {
  auto out = check({.sha256 = true}, b_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kNone);
  auto m = reply();
  EXPECT_GE(m.integrity_at, 0);
  EXPECT_GT(m.integrity_sha256_at, m.integrity_at);
  EXPECT_EQ(m.xor_mapped, b_);  // IPv6
  EXPECT_TRUE(verify_integrity(reply_, m, kLocal.pwd));
}

TEST_F(IceAgentTest, WrongUfragIsUnauthenticated) {
  for (std::string user : {"vOxX:ChRm", "vOxr:Other", "vOxr", "vOxrChRm", "ChRm:vOxr", "vOx:ChRm"}) {
    auto out = check({.username = user}, a_, 0);
    EXPECT_EQ(out.refusal, IceRefusal::kUnknownUser) << user;
    auto m = reply();
    EXPECT_EQ(m.cls, StunClass::kError);
    EXPECT_EQ(m.error_code, 401) << user;
    EXPECT_EQ(m.integrity_at, -1);  // unauthenticated: no MESSAGE-INTEGRITY
    EXPECT_TRUE(m.fingerprint);
  }
  EXPECT_EQ(agent_.outcomes(IceRefusal::kUnknownUser), 6u);
  EXPECT_FALSE(agent_.last_checked().valid());
  EXPECT_EQ(agent_.state(0), IceState::kWaiting);
}

TEST_F(IceAgentTest, BadIntegrityMovesNothing) {
  ASSERT_EQ(check({.use_candidate = true}, a_, 0).refusal, IceRefusal::kNone);
  ASSERT_EQ(agent_.peer(), a_);
  // Signed with the remote pwd (a confused peer), and from elsewhere with
  // USE-CANDIDATE: neither nominates, refreshes consent nor is last_checked.
  for (const auto& key : {kRemote.pwd, std::string("x")}) {
    auto out = check({.key = key, .use_candidate = true}, b_, 29 * kSecond);
    EXPECT_EQ(out.refusal, IceRefusal::kBadIntegrity);
    EXPECT_FALSE(out.peer_changed);
    auto m = reply();
    EXPECT_EQ(m.error_code, 401);
    EXPECT_EQ(m.integrity_at, -1);
  }
  // A forged check from the peer's own address does not refresh consent.
  EXPECT_EQ(check({.key = "x"}, a_, 29 * kSecond).refusal, IceRefusal::kBadIntegrity);
  EXPECT_EQ(agent_.peer(), a_);
  EXPECT_EQ(agent_.last_checked(), a_);
  EXPECT_TRUE(agent_.consent_expired(30 * kSecond));
  // A check whose integrity was computed, then the message altered (a
  // different PRIORITY, fingerprint recomputed) fails the same way.
  auto good = make_check({});
  auto m = parse_stun(good);
  ASSERT_TRUE(m.ok());
  good[m->integrity_at - 1] ^= 1;  // last octet of PRIORITY (just before MESSAGE-INTEGRITY)
  const uint32_t crc = crc32(std::span(good).first(good.size() - 8)) ^ 0x5354554e;
  store_be32(good.data() + good.size() - 4, crc);
  reply_.assign(548, 0);
  EXPECT_EQ(agent_.on_check(good, b_, 0, reply_).refusal, IceRefusal::kBadIntegrity);
  EXPECT_EQ(agent_.last_checked(), a_);
}

TEST_F(IceAgentTest, MissingIntegrityOrUsernameIsBadRequest) {
  auto out = check({.key = ""}, a_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kNoIntegrity);
  EXPECT_EQ(reply().error_code, 400);
  out = check({.username = ""}, a_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kNoIntegrity);
  EXPECT_EQ(reply().error_code, 400);
  EXPECT_EQ(reply().integrity_at, -1);
  EXPECT_FALSE(agent_.last_checked().valid());
}

TEST_F(IceAgentTest, UseCandidateNominates) {
  // Without USE-CANDIDATE, or without ICE-CONTROLLING: no nomination.
  EXPECT_FALSE(check({}, a_, 0).peer_changed);
  EXPECT_FALSE(check({.use_candidate = true, .controlling = false}, a_, 0).peer_changed);
  EXPECT_FALSE(agent_.peer().valid());
  auto out = check({.use_candidate = true}, a_, kSecond);
  EXPECT_EQ(out.refusal, IceRefusal::kNone);
  EXPECT_TRUE(out.peer_changed);
  EXPECT_EQ(agent_.peer(), a_);
  EXPECT_EQ(agent_.state(kSecond), IceState::kConnected);
  // Nominated again from the same address: nothing changes.
  EXPECT_FALSE(check({.use_candidate = true}, a_, 2 * kSecond).peer_changed);
  EXPECT_EQ(agent_.nominations(), 1u);
}

TEST_F(IceAgentTest, NewAddressNominatesAgain) {
  ASSERT_TRUE(check({.use_candidate = true}, a_, 0).peer_changed);
  // Checks from elsewhere without USE-CANDIDATE leave the peer alone.
  EXPECT_FALSE(check({}, b_, kSecond).peer_changed);
  EXPECT_EQ(agent_.peer(), a_);
  EXPECT_EQ(agent_.last_checked(), b_);
  auto out = check({.use_candidate = true}, b_, 2 * kSecond);  // network change
  EXPECT_TRUE(out.peer_changed);
  EXPECT_EQ(agent_.peer(), b_);
  EXPECT_EQ(reply().xor_mapped, b_);
  EXPECT_EQ(agent_.nominations(), 2u);
  // Consent now follows the new peer: the old address no longer refreshes it.
  EXPECT_EQ(check({}, a_, 31 * kSecond).refusal, IceRefusal::kNone);
  EXPECT_TRUE(agent_.consent_expired(32 * kSecond));
}

TEST_F(IceAgentTest, ControlledPeerGetsRoleConflict) {
  auto out = check({.use_candidate = true, .controlling = false, .controlled = true}, a_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kRoleConflict);
  EXPECT_FALSE(out.peer_changed);
  auto m = reply();
  EXPECT_EQ(m.cls, StunClass::kError);
  EXPECT_EQ(m.error_code, 487);
  EXPECT_EQ(m.error_reason, "Role Conflict");
  EXPECT_TRUE(verify_integrity(reply_, m, kLocal.pwd));  // authenticated request: signed reply
  EXPECT_FALSE(agent_.peer().valid());
  EXPECT_FALSE(agent_.last_checked().valid());
  EXPECT_EQ(agent_.outcomes(IceRefusal::kRoleConflict), 1u);
}

TEST_F(IceAgentTest, UnknownComprehensionRequiredAttribute) {
  auto out = check({.use_candidate = true, .unknown_attribute = 0x0031}, a_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kUnknownAttribute);
  auto m = reply();
  EXPECT_EQ(m.error_code, 420);
  EXPECT_EQ(m.unknown_attributes, std::string_view("\x00\x31", 2));
  EXPECT_TRUE(verify_integrity(reply_, m, kLocal.pwd));
  EXPECT_FALSE(agent_.peer().valid());
  // A comprehension-optional one (Chrome's GOOG-NETWORK-INFO) is fine.
  EXPECT_EQ(check({.use_candidate = true, .unknown_attribute = 0xC057}, a_, 0).refusal,
            IceRefusal::kNone);
}

TEST_F(IceAgentTest, IceRestartViaUpdate) {
  ASSERT_TRUE(check({.use_candidate = true}, a_, 0).peer_changed);
  agent_.update(kLocal, kRemote);  // the same SDP: nothing changes
  EXPECT_EQ(agent_.peer(), a_);
  EXPECT_EQ(agent_.restarts(), 0u);

  const IceCredentials local2{"n3wL", "newrelaypasswordnewrelaypw"};
  const IceCredentials remote2{"n3wR", "newbrowserpasswordnewbrows"};
  agent_.update(local2, remote2);
  EXPECT_EQ(agent_.restarts(), 1u);
  EXPECT_FALSE(agent_.peer().valid());
  EXPECT_FALSE(agent_.last_checked().valid());
  EXPECT_EQ(agent_.state(kSecond), IceState::kWaiting);
  EXPECT_FALSE(agent_.consent_expired(100 * kSecond));
  // Old credentials no longer work; the new ones do, and nominate afresh.
  EXPECT_EQ(check({.use_candidate = true}, a_, kSecond).refusal, IceRefusal::kUnknownUser);
  auto out = check({.username = "n3wL:n3wR", .key = local2.pwd, .use_candidate = true}, a_,
                   kSecond);
  EXPECT_EQ(out.refusal, IceRefusal::kNone);
  EXPECT_TRUE(out.peer_changed);
  EXPECT_TRUE(verify_integrity(reply_, reply(), local2.pwd));
  // Only the remote side changing is a restart too.
  agent_.update(local2, kRemote);
  EXPECT_EQ(agent_.restarts(), 2u);
  EXPECT_FALSE(agent_.peer().valid());
}

TEST_F(IceAgentTest, AnswerNamingTheCheckedRemoteUfragIsNoRestart) {
  // An offerer's agent knows no remote credentials until the answer, and the
  // answerer's checks may come first: the answer then keeps what they did.
  agent_ = IceLiteAgent(kLocal, {});
  ASSERT_TRUE(check({.use_candidate = true}, a_, kSecond).peer_changed);  // "vOxr:ChRm"
  agent_.update(kLocal, kRemote);
  EXPECT_EQ(agent_.restarts(), 0u);
  EXPECT_EQ(agent_.peer(), a_);
  EXPECT_EQ(agent_.last_checked(), a_);
  EXPECT_EQ(agent_.remote(), kRemote);
  // An answer naming another ufrag than the checks used is a restart.
  agent_ = IceLiteAgent(kLocal, {});
  ASSERT_TRUE(check({.use_candidate = true}, a_, kSecond).peer_changed);
  agent_.update(kLocal, {"0thr", "otherbrowserpasswordother1"});
  EXPECT_EQ(agent_.restarts(), 1u);
  EXPECT_FALSE(agent_.peer().valid());
}

TEST_F(IceAgentTest, ConsentExpiresAfter30sAndIsRefreshed) {
  const int64_t t0 = 1000 * kSecond;
  EXPECT_FALSE(agent_.consent_expired(t0));  // nothing nominated: nothing to expire
  ASSERT_TRUE(check({.use_candidate = true}, a_, t0).peer_changed);
  EXPECT_FALSE(agent_.consent_expired(t0 + IceLiteAgent::kConsentTimeoutNs - 1));
  EXPECT_TRUE(agent_.consent_expired(t0 + IceLiteAgent::kConsentTimeoutNs));
  // A check 20 s in refreshes it to 50 s.
  EXPECT_EQ(check({}, a_, t0 + 20 * kSecond).refusal, IceRefusal::kNone);
  EXPECT_FALSE(agent_.consent_expired(t0 + 49 * kSecond));
  EXPECT_EQ(agent_.state(t0 + 49 * kSecond), IceState::kConnected);
  EXPECT_TRUE(agent_.consent_expired(t0 + 50 * kSecond));
  EXPECT_EQ(agent_.state(t0 + 50 * kSecond), IceState::kExpired);
  // Checks from another address do not refresh it...
  EXPECT_EQ(check({}, b_, t0 + 45 * kSecond).refusal, IceRefusal::kNone);
  EXPECT_TRUE(agent_.consent_expired(t0 + 50 * kSecond));
  // ... a later valid check from the peer gives consent again.
  EXPECT_EQ(check({}, a_, t0 + 60 * kSecond).refusal, IceRefusal::kNone);
  EXPECT_EQ(agent_.state(t0 + 61 * kSecond), IceState::kConnected);
}

TEST_F(IceAgentTest, IndicationsAndResponsesGetNoReply) {
  for (auto cls : {StunClass::kIndication, StunClass::kSuccess, StunClass::kError}) {
    auto out = check({.use_candidate = true, .cls = cls}, a_, 0);
    EXPECT_EQ(out.refusal, IceRefusal::kNotRequest);
    EXPECT_EQ(out.reply_len, 0u);
    EXPECT_FALSE(out.peer_changed);
  }
  EXPECT_EQ(agent_.outcomes(IceRefusal::kNotRequest), 3u);
  EXPECT_EQ(agent_.state(0), IceState::kWaiting);
}

TEST_F(IceAgentTest, MalformedIsDiscardedSilently) {
  reply_.assign(548, 0);
  const uint8_t rtp[] = {0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
                         0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0};
  auto out = agent_.on_check(rtp, a_, 0, reply_);
  EXPECT_EQ(out.refusal, IceRefusal::kMalformed);
  EXPECT_EQ(out.reply_len, 0u);
  auto req = make_check({});
  req.back() ^= 1;  // wrong FINGERPRINT
  EXPECT_EQ(agent_.on_check(req, a_, 0, reply_).refusal, IceRefusal::kMalformed);
  EXPECT_EQ(agent_.on_check({}, a_, 0, reply_).reply_len, 0u);
  // A request of another method (0x003: TURN Allocate) gets 400.
  out = check({.method = 0x003}, a_, 0);
  EXPECT_EQ(out.refusal, IceRefusal::kMalformed);
  EXPECT_EQ(reply().error_code, 400);
  EXPECT_EQ(agent_.outcomes(IceRefusal::kMalformed), 4u);
}

TEST_F(IceAgentTest, SmallReplyBufferSendsNothing) {
  request_ = make_check({.use_candidate = true});
  uint8_t small[40];
  auto out = agent_.on_check(request_, a_, 0, small);
  EXPECT_EQ(out.refusal, IceRefusal::kNone);  // still a valid check...
  EXPECT_EQ(out.reply_len, 0u);               // ... but no reply fits
  EXPECT_TRUE(out.peer_changed);
}

TEST(IceNames, Labels) {
  EXPECT_STREQ(to_string(IceRefusal::kUnknownUser), "unknown-user");
  EXPECT_STREQ(to_string(IceRefusal::kBadIntegrity), "bad-integrity");
  EXPECT_STREQ(to_string(IceState::kExpired), "expired");
  EXPECT_STREQ(to_string(StunError::kBadFingerprint), "bad-fingerprint");
}

}  // namespace
}  // namespace vox::control::webrtc
