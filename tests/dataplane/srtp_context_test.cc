// Tests for dataplane/srtp_context.cc: known-answer packets (RFC 3711 B.3
// master key; expected bytes from libsrtp2's own srtp_driver validation
// vectors), then for every suite: round trip, replay, tampering, RTCP,
// re-key, tailroom and length checks, and the RFC 4568 §6.3 session flags.
// Buffers are exactly sized heap vectors so ASan sees any overrun.
#include "dataplane/srtp_context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hex.h"

namespace vox::dataplane {
namespace {

using testing::from_hex;

SrtpKey key_from_hex(SrtpSuite suite, std::string_view h, SrtpSessionFlags flags = {}) {
  SrtpKey k;
  k.suite = suite;
  k.flags = flags;
  auto bytes = from_hex(h);
  k.key_salt_length = uint8_t(bytes.size());
  std::copy(bytes.begin(), bytes.end(), k.key_salt.begin());
  return k;
}

// A deterministic key for `suite`; `seed` makes different keys.
SrtpKey test_key(SrtpSuite suite, uint8_t seed = 1, SrtpSessionFlags flags = {}) {
  SrtpKey k;
  k.suite = suite;
  k.flags = flags;
  const auto& info = srtp_suite_info(suite);
  k.key_salt_length = uint8_t(info.key_length + info.salt_length);
  for (size_t i = 0; i < k.key_salt_length; ++i) k.key_salt[i] = uint8_t(seed * 31 + i * 7);
  return k;
}

SrtpStream make(const SrtpKey& k, SrtpDirection d) {
  auto s = SrtpStream::create(k, d);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : to_string(s.error()));
  return std::move(s).value();
}

// 172 octets of PCMU RTP (the relay's reference packet): header + 160 samples.
std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ssrc = 0x3c5a8e11) {
  std::vector<uint8_t> p(172);
  p[0] = 0x80;
  p[1] = 0x00;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  p[4] = 0x00, p[5] = 0x07, p[6] = 0xd0, p[7] = 0xa0;
  p[8] = uint8_t(ssrc >> 24), p[9] = uint8_t(ssrc >> 16), p[10] = uint8_t(ssrc >> 8),
  p[11] = uint8_t(ssrc);
  for (size_t i = 12; i < p.size(); ++i) p[i] = uint8_t(0x1e + i);
  return p;
}

// RTCP receiver report with one report block (RFC 3550 §6.4.2), 32 octets.
std::vector<uint8_t> rtcp_packet(uint32_t ssrc = 0x3c5a8e11) {
  auto p = from_hex(
      "81c90007"
      "00000000"
      "11223344"
      "00000000"
      "00001f4c"
      "00000010"
      "00000000"
      "00000000");
  p[4] = uint8_t(ssrc >> 24), p[5] = uint8_t(ssrc >> 16), p[6] = uint8_t(ssrc >> 8),
  p[7] = uint8_t(ssrc);
  return p;
}

// Protects into an exactly sized buffer (packet + the stream's trailer).
std::vector<uint8_t> protect(SrtpStream& s, std::vector<uint8_t> p, bool rtcp = false) {
  size_t n = p.size();
  p.resize(n + (rtcp ? s.rtcp_trailer() : s.rtp_trailer()));
  auto r = rtcp ? s.protect_rtcp(p.data(), n, p.size()) : s.protect_rtp(p.data(), n, p.size());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : to_string(r.error()));
  if (!r.ok()) return {};
  EXPECT_EQ(*r, p.size());
  return p;
}

// Unprotects a copy in an exactly sized buffer; the plaintext or the error.
Result<std::vector<uint8_t>, SrtpError> unprotect(SrtpStream& s, std::vector<uint8_t> p,
                                                  bool rtcp = false) {
  auto r = rtcp ? s.unprotect_rtcp(p.data(), p.size()) : s.unprotect_rtp(p.data(), p.size());
  if (!r.ok()) return Err{r.error()};
  p.resize(*r);
  return p;
}

SrtpError unprotect_error(SrtpStream& s, const std::vector<uint8_t>& p, bool rtcp = false) {
  auto r = unprotect(s, p, rtcp);
  EXPECT_FALSE(r.ok());
  return r.ok() ? SrtpError::kCount : r.error();
}

// --- known answers -------------------------------------------------------------------

constexpr std::string_view kKeyAesCm128 =
    "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6";
constexpr std::string_view kKeyGcm128 = "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaab";
constexpr std::string_view kKeyAes256 =
    "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b63b04803de51ee7c96423ab5b78d2";
constexpr std::string_view kRtpPlain = "800f1234decafbadcafebabeabababababababababababababababab";
constexpr std::string_view kRtcpPlain = "81c8000bcafebabeabababababababababababababababab";

void expect_known_answer(SrtpSuite suite, std::string_view key, std::string_view plain,
                         std::string_view cipher, bool rtcp) {
  SrtpStream out = make(key_from_hex(suite, key), SrtpDirection::kOutbound);
  EXPECT_EQ(protect(out, from_hex(plain), rtcp), from_hex(cipher));
  SrtpStream in = make(key_from_hex(suite, key), SrtpDirection::kInbound);
  auto back = unprotect(in, from_hex(cipher), rtcp);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, from_hex(plain));
}

TEST(SrtpKnownAnswer, AesCm128HmacSha1_80) {
  expect_known_answer(
      SrtpSuite::kAesCm128HmacSha1_80, kKeyAesCm128, kRtpPlain,
      "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb", false);
  // SRTCP: E bit set, index 1, 80-bit tag (RFC 3711 §3.4).
  expect_known_answer(
      SrtpSuite::kAesCm128HmacSha1_80, kKeyAesCm128, kRtcpPlain,
      "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798", true);
}

TEST(SrtpKnownAnswer, AeadAes128Gcm) {
  expect_known_answer(
      SrtpSuite::kAeadAes128Gcm, kKeyGcm128, kRtpPlain,
      "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392",
      false);
  // RFC 7714 §9: tag before the E||index word.
  expect_known_answer(
      SrtpSuite::kAeadAes128Gcm, kKeyGcm128, kRtcpPlain,
      "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001",
      true);
}

TEST(SrtpKnownAnswer, Aes256CmHmacSha1_80) {
  expect_known_answer(
      SrtpSuite::kAes256CmHmacSha1_80, kKeyAes256, kRtpPlain,
      "800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40da08d9d9a5b3a55d8873b", false);
}

// --- every suite ----------------------------------------------------------------------

class SrtpEverySuite : public ::testing::TestWithParam<SrtpSuite> {
 protected:
  SrtpSuite suite() const { return GetParam(); }
  const SrtpSuiteInfo& info() const { return srtp_suite_info(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Suites, SrtpEverySuite,
                         ::testing::Values(SrtpSuite::kAeadAes256Gcm, SrtpSuite::kAeadAes128Gcm,
                                           SrtpSuite::kAes256CmHmacSha1_80,
                                           SrtpSuite::kAesCm128HmacSha1_80,
                                           SrtpSuite::kAesCm128HmacSha1_32),
                         [](const auto& p) { return std::string(srtp_suite_info(p.param).name); });

TEST_P(SrtpEverySuite, RtpRoundTrip) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  EXPECT_EQ(out.suite(), suite());
  EXPECT_EQ(out.rtp_trailer(), info().srtp_tag_length);
  EXPECT_EQ(out.rtcp_trailer(), info().srtcp_tag_length + 4u);
  for (uint16_t seq = 65530; seq != 6; ++seq) {  // across the sequence wrap (ROC 0 -> 1)
    auto plain = rtp_packet(seq);
    auto sealed = protect(out, plain);
    ASSERT_EQ(sealed.size(), 172u + info().srtp_tag_length);
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 12, sealed.begin()));  // header in clear
    EXPECT_FALSE(std::equal(plain.begin() + 12, plain.end(), sealed.begin() + 12));  // payload not
    auto back = unprotect(in, sealed);
    ASSERT_TRUE(back.ok()) << to_string(back.error());
    EXPECT_EQ(*back, plain);
  }
}

TEST_P(SrtpEverySuite, ReplayedPacketRejected) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  auto first = protect(out, rtp_packet(100));
  ASSERT_TRUE(unprotect(in, first).ok());
  EXPECT_EQ(unprotect_error(in, first), SrtpError::kReplayed);
  // Out of order inside the window is fine (RFC 3711 §3.3.2); each only once.
  std::vector<std::vector<uint8_t>> sealed;
  for (uint16_t seq = 101; seq <= 110; ++seq) sealed.push_back(protect(out, rtp_packet(seq)));
  for (int i : {9, 3, 5, 0, 8, 1, 2, 7, 4, 6}) ASSERT_TRUE(unprotect(in, sealed[i]).ok()) << i;
  for (int i : {0, 9}) EXPECT_EQ(unprotect_error(in, sealed[i]), SrtpError::kReplayed);
  // Far behind the 128-packet window: too old.
  auto late = protect(out, rtp_packet(111));
  ASSERT_TRUE(unprotect(in, protect(out, rtp_packet(400))).ok());
  EXPECT_EQ(unprotect_error(in, late), SrtpError::kTooOld);
}

TEST_P(SrtpEverySuite, TamperedPacketFailsAuthAndChangesNothing) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  auto sealed = protect(out, rtp_packet(7));
  for (size_t at :
       {size_t(3), size_t(11), size_t(40), sealed.size() - 1}) {  // seq, SSRC, payload, tag
    auto bad = sealed;
    bad[at] ^= 0x01;
    EXPECT_EQ(unprotect_error(in, bad), SrtpError::kAuthFailed) << at;
  }
  // The failures did not mark the index as seen: the genuine packet passes.
  auto back = unprotect(in, sealed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, rtp_packet(7));
  // Another key cannot unprotect it.
  SrtpStream stranger = make(test_key(suite(), 2), SrtpDirection::kInbound);
  EXPECT_EQ(unprotect_error(stranger, protect(out, rtp_packet(8))), SrtpError::kAuthFailed);
}

TEST_P(SrtpEverySuite, Rtcp) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  auto plain = rtcp_packet();
  auto sealed = protect(out, plain, true);
  ASSERT_EQ(sealed.size(), plain.size() + info().srtcp_tag_length + 4);
  EXPECT_FALSE(std::equal(plain.begin() + 8, plain.end(), sealed.begin() + 8));
  auto back = unprotect(in, sealed, true);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, plain);
  EXPECT_EQ(unprotect_error(in, sealed, true), SrtpError::kReplayed);
  auto next = protect(out, plain, true);
  auto bad = next;
  bad[10] ^= 0x80;
  EXPECT_EQ(unprotect_error(in, bad, true), SrtpError::kAuthFailed);
  EXPECT_TRUE(unprotect(in, next, true).ok());
}

// A restored call (control/ha/): fresh contexts under the saved keys meet
// a stream whose sequence number wrapped before (ROC 1). Started at the
// saved rollover counter they interoperate with the running far ends;
// started at 0 they do not (the ROC is in the authenticated index).
TEST_P(SrtpEverySuite, RestoredContextStartsAtTheSavedRolloverCounter) {
  const SrtpKey k = test_key(GetParam());
  SrtpStream sender = make(k, SrtpDirection::kOutbound);
  SrtpStream receiver = make(k, SrtpDirection::kInbound);
  for (uint32_t i = 0; i < 12; ++i) {  // 65530 .. 65535, 0 .. 5: ROC 0 -> 1
    const auto seq = uint16_t(65530 + i);
    ASSERT_TRUE(unprotect(receiver, protect(sender, rtp_packet(seq))).ok()) << seq;
  }
  // Inbound: what the running sender sends next.
  const auto next = protect(sender, rtp_packet(6));
  SrtpStream fresh_in = make(k, SrtpDirection::kInbound);
  EXPECT_EQ(unprotect_error(fresh_in, next), SrtpError::kAuthFailed);
  SrtpStream restored_in = make(k, SrtpDirection::kInbound);
  ASSERT_TRUE(restored_in.start_at(0x3c5a8e11, 1));
  auto back = unprotect(restored_in, next);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, rtp_packet(6));
  // Outbound: the running receiver gets what the restored relay sends.
  SrtpStream fresh_out = make(k, SrtpDirection::kOutbound);
  EXPECT_EQ(unprotect_error(receiver, protect(fresh_out, rtp_packet(7))), SrtpError::kAuthFailed);
  SrtpStream restored_out = make(k, SrtpDirection::kOutbound);
  ASSERT_TRUE(restored_out.start_at(0x3c5a8e11, 1));
  EXPECT_TRUE(unprotect(receiver, protect(restored_out, rtp_packet(8))).ok());
  // Another SSRC on the same context still starts at 0.
  SrtpStream other_in = make(k, SrtpDirection::kInbound);
  EXPECT_TRUE(unprotect(other_in, protect(restored_out, rtp_packet(9, 0x1234))).ok());
}

TEST_P(SrtpEverySuite, RekeyWithoutLosingPacketsInFlight) {
  SrtpStream out = make(test_key(suite(), 1), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite(), 1), SrtpDirection::kInbound);
  ASSERT_TRUE(unprotect(in, protect(out, rtp_packet(1))).ok());
  auto in_flight = protect(out, rtp_packet(2));  // sent under the old key
  auto jumbo = rtp_packet(20);
  jumbo.resize(3000, 0x55);
  auto jumbo_in_flight = protect(out, jumbo);  // too big for the fallback copy

  // Re-INVITE with a new key for both directions.
  ASSERT_TRUE(out.rekey(test_key(suite(), 9)).ok());
  ASSERT_TRUE(in.rekey(test_key(suite(), 9)).ok());
  auto fresh = protect(out, rtp_packet(3));
  auto fresh2 = protect(out, rtp_packet(4));
  // The late old-key packet still authenticates (previous key kept)...
  auto back = unprotect(in, in_flight);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, rtp_packet(2));
  EXPECT_EQ(unprotect_error(in, jumbo_in_flight), SrtpError::kAuthFailed);
  // ... until the party is seen using the new key.
  ASSERT_TRUE(unprotect(in, fresh).ok());
  SrtpStream old_sender = make(test_key(suite(), 1), SrtpDirection::kOutbound);
  auto stale = protect(old_sender, rtp_packet(5));
  EXPECT_EQ(unprotect_error(in, stale), SrtpError::kAuthFailed);
  EXPECT_TRUE(unprotect(in, fresh2).ok());
  // A key the suite cannot take leaves the stream as it was.
  SrtpKey broken = test_key(suite(), 3);
  broken.key_salt_length = 7;
  auto r = in.rekey(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SrtpError::kBadKey);
  EXPECT_TRUE(unprotect(in, protect(out, rtp_packet(6))).ok());
}

// The worker's re-key (srtp_slot.h carry_over): the new session was built
// off the worker, the old one becomes its previous key.
TEST_P(SrtpEverySuite, AdoptPreviousKeepsTheOldKeyUntilTheNewOneIsUsed) {
  SrtpStream out = make(test_key(suite(), 1), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite(), 1), SrtpDirection::kInbound);
  ASSERT_TRUE(unprotect(in, protect(out, rtp_packet(1))).ok());
  auto in_flight = protect(out, rtp_packet(2));
  SrtpStream out2 = make(test_key(suite(), 9), SrtpDirection::kOutbound);
  SrtpStream in2 = make(test_key(suite(), 9), SrtpDirection::kInbound);
  in2.adopt_previous(std::move(in));
  auto back = unprotect(in2, in_flight);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, rtp_packet(2));
  EXPECT_EQ(unprotect_error(in2, in_flight), SrtpError::kReplayed);  // the old window goes on
  ASSERT_TRUE(unprotect(in2, protect(out2, rtp_packet(3))).ok());
  EXPECT_EQ(unprotect_error(in2, protect(out, rtp_packet(4))), SrtpError::kAuthFailed);
  // Outbound streams keep no previous key: nothing to adopt.
  SrtpStream out3 = make(test_key(suite(), 5), SrtpDirection::kOutbound);
  out3.adopt_previous(std::move(out2));
  SrtpStream in3 = make(test_key(suite(), 5), SrtpDirection::kInbound);
  EXPECT_TRUE(unprotect(in3, protect(out3, rtp_packet(1))).ok());
}

TEST_P(SrtpEverySuite, SameKeyComparesEverythingThatMakesTheSession) {
  SrtpStream a = make(test_key(suite(), 1), SrtpDirection::kInbound);
  EXPECT_TRUE(a.same_key(make(test_key(suite(), 1), SrtpDirection::kInbound)));
  EXPECT_FALSE(a.same_key(make(test_key(suite(), 2), SrtpDirection::kInbound)));
  SrtpKey mki = test_key(suite(), 1);
  mki.mki_length = 2;
  mki.mki_value = 1;
  EXPECT_FALSE(a.same_key(make(mki, SrtpDirection::kInbound)));
  SrtpKey flags = test_key(suite(), 1);
  flags.flags.unencrypted_srtcp = true;
  EXPECT_FALSE(a.same_key(make(flags, SrtpDirection::kInbound)));
  SrtpStream b = make(test_key(suite(), 2), SrtpDirection::kInbound);
  ASSERT_TRUE(b.rekey(test_key(suite(), 1)).ok());
  EXPECT_TRUE(a.same_key(b));
}

TEST_P(SrtpEverySuite, RekeyToAnotherSuite) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  const SrtpSuite other = suite() == SrtpSuite::kAesCm128HmacSha1_80
                              ? SrtpSuite::kAeadAes128Gcm
                              : SrtpSuite::kAesCm128HmacSha1_80;
  ASSERT_TRUE(out.rekey(test_key(other, 5)).ok());
  ASSERT_TRUE(in.rekey(test_key(other, 5)).ok());
  EXPECT_EQ(out.suite(), other);
  EXPECT_EQ(out.rtp_trailer(), srtp_suite_info(other).srtp_tag_length);
  auto back = unprotect(in, protect(out, rtp_packet(10)));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, rtp_packet(10));
}

TEST_P(SrtpEverySuite, LengthsAndTailroom) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  auto p = rtp_packet(1);
  const auto original = p;
  auto r = out.protect_rtp(p.data(), p.size(), p.size() + info().srtp_tag_length - 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SrtpError::kNoTailroom);
  EXPECT_EQ(p, original);  // untouched
  r = out.protect_rtp(p.data(), 11, 64);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SrtpError::kMalformed);
  auto rc = rtcp_packet();
  r = out.protect_rtcp(rc.data(), rc.size(), rc.size() + 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SrtpError::kNoTailroom);
  // Too short to carry a header, or a header and a tag.
  auto header = rtp_packet(1);
  header.resize(12);
  EXPECT_FALSE(unprotect(in, header).ok());
  header.resize(11);
  EXPECT_EQ(unprotect_error(in, header), SrtpError::kMalformed);
  std::vector<uint8_t> short_rtcp(7, 0x80);
  EXPECT_EQ(unprotect_error(in, short_rtcp, true), SrtpError::kMalformed);
  // CSRC count pointing past the end (RFC 3550 §5.1).
  auto csrc = protect(out, rtp_packet(2));
  csrc[0] = 0x8f;
  EXPECT_FALSE(unprotect(in, csrc).ok());
  // Every truncation of a valid packet fails cleanly (ASan checks the reads).
  auto sealed = protect(out, rtp_packet(3));
  for (size_t n = 0; n < sealed.size(); ++n) {
    std::vector<uint8_t> cut(sealed.begin(), sealed.begin() + long(n));
    EXPECT_FALSE(unprotect(in, cut).ok()) << n;
  }
}

TEST_P(SrtpEverySuite, EgressDuplicateNotReencrypted) {
  // Protecting the same index twice would reuse keystream (RFC 3711 §9.1):
  // a duplicate on the plain side is refused, not re-encrypted.
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  protect(out, rtp_packet(50));
  auto p = rtp_packet(50);
  p.resize(p.size() + 16);
  auto r = out.protect_rtp(p.data(), 172, p.size());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SrtpError::kReplayed);
}

TEST_P(SrtpEverySuite, SsrcsOfOneStreamShareTheKey) {
  SrtpStream out = make(test_key(suite()), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(suite()), SrtpDirection::kInbound);
  uint16_t seq = 1;
  for (uint32_t ssrc : {0x11111111u, 0x22222222u, 0x11111111u}) {
    auto back = unprotect(in, protect(out, rtp_packet(seq++, ssrc)));
    EXPECT_TRUE(back.ok());
  }
}

// --- session flags (RFC 4568 §6.3) --------------------------------------------------------

TEST(SrtpSessionFlags, UnencryptedSrtp) {
  SrtpSessionFlags f{.unencrypted_srtp = true};
  for (auto suite : {SrtpSuite::kAes256CmHmacSha1_80, SrtpSuite::kAesCm128HmacSha1_80,
                     SrtpSuite::kAesCm128HmacSha1_32}) {
    SrtpStream out = make(test_key(suite, 1, f), SrtpDirection::kOutbound);
    SrtpStream in = make(test_key(suite, 1, f), SrtpDirection::kInbound);
    auto plain = rtp_packet(1);
    auto sealed = protect(out, plain);
    // Payload in clear, still authenticated.
    ASSERT_EQ(sealed.size(), 172u + srtp_suite_info(suite).srtp_tag_length);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), sealed.begin()));
    auto bad = sealed;
    bad[100] ^= 1;
    EXPECT_EQ(unprotect_error(in, bad), SrtpError::kAuthFailed);
    auto back = unprotect(in, sealed);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
    // RTCP stays encrypted (a separate flag).
    auto rc = protect(out, rtcp_packet(), true);
    EXPECT_FALSE(std::equal(rc.begin() + 8, rc.begin() + 32, rtcp_packet().begin() + 8));
  }
}

TEST(SrtpSessionFlags, UnauthenticatedSrtp) {
  SrtpSessionFlags f{.unauthenticated_srtp = true};
  for (auto suite : {SrtpSuite::kAes256CmHmacSha1_80, SrtpSuite::kAesCm128HmacSha1_80,
                     SrtpSuite::kAesCm128HmacSha1_32}) {
    SrtpStream out = make(test_key(suite, 1, f), SrtpDirection::kOutbound);
    SrtpStream in = make(test_key(suite, 1, f), SrtpDirection::kInbound);
    EXPECT_EQ(out.rtp_trailer(), 0u);
    auto plain = rtp_packet(1);
    auto sealed = protect(out, plain);
    ASSERT_EQ(sealed.size(), 172u);  // no tag
    EXPECT_FALSE(std::equal(plain.begin() + 12, plain.end(), sealed.begin() + 12));
    auto back = unprotect(in, sealed);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, plain);
    // Without a tag a flipped bit goes undetected (that is what the flag means)...
    auto next = protect(out, rtp_packet(2));
    next[100] ^= 1;
    auto garbled = unprotect(in, next);
    ASSERT_TRUE(garbled.ok());
    EXPECT_EQ((*garbled)[100], rtp_packet(2)[100] ^ 1);
    // ... but replay protection still holds, and SRTCP keeps its tag.
    EXPECT_EQ(unprotect_error(in, sealed), SrtpError::kReplayed);
    auto rc = protect(out, rtcp_packet(), true);
    rc[9] ^= 1;
    EXPECT_EQ(unprotect_error(in, rc, true), SrtpError::kAuthFailed);
  }
}

TEST(SrtpSessionFlags, UnencryptedSrtcp) {
  SrtpSessionFlags f{.unencrypted_srtcp = true};
  for (const auto& info : kSrtpSuites) {
    SrtpStream out = make(test_key(info.suite, 1, f), SrtpDirection::kOutbound);
    SrtpStream in = make(test_key(info.suite, 1, f), SrtpDirection::kInbound);
    auto plain = rtcp_packet();
    auto sealed = protect(out, plain, true);
    ASSERT_EQ(sealed.size(), plain.size() + info.srtcp_tag_length + 4) << info.name;
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), sealed.begin())) << info.name;
    // E bit clear in the E||SRTCP-index word (RFC 3711 §3.4); where it sits:
    // after the tag for HMAC suites, before it for GCM (RFC 7714 §9).
    size_t word = info.aead ? sealed.size() - 4 : plain.size();
    EXPECT_EQ(sealed[word] & 0x80, 0) << info.name;
    auto bad = sealed;
    bad[12] ^= 1;
    EXPECT_EQ(unprotect_error(in, bad, true), SrtpError::kAuthFailed) << info.name;
    auto back = unprotect(in, sealed, true);
    ASSERT_TRUE(back.ok()) << info.name;
    EXPECT_EQ(*back, plain);
    // RTP is still encrypted.
    auto rtp = protect(out, rtp_packet(1));
    EXPECT_FALSE(std::equal(rtp.begin() + 12, rtp.begin() + 172, rtp_packet(1).begin() + 12));
  }
}

TEST(SrtpSessionFlags, ImpossibleCombinationsRefused) {
  for (auto suite : {SrtpSuite::kAeadAes128Gcm, SrtpSuite::kAeadAes256Gcm}) {
    for (SrtpSessionFlags f : {SrtpSessionFlags{.unencrypted_srtp = true},
                               SrtpSessionFlags{.unauthenticated_srtp = true}}) {
      auto s = SrtpStream::create(test_key(suite, 1, f), SrtpDirection::kInbound);
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.error(), SrtpError::kBadKey);
    }
  }
  auto both = SrtpStream::create(
      test_key(SrtpSuite::kAesCm128HmacSha1_80, 1,
               SrtpSessionFlags{.unencrypted_srtp = true, .unauthenticated_srtp = true}),
      SrtpDirection::kOutbound);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error(), SrtpError::kBadKey);
  SrtpKey wrong = test_key(SrtpSuite::kAeadAes128Gcm);
  wrong.key_salt_length = 30;  // an AES-CM length under a GCM suite
  auto w = SrtpStream::create(wrong, SrtpDirection::kOutbound);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error(), SrtpError::kBadKey);
}

// --- MKI, moves, library ----------------------------------------------------------------------

// A party whose key has "|1:4" puts a 4-octet MKI between the encrypted
// payload and the tag (RFC 3711 §3.1); the MKI is not authenticated, so
// splicing it into a packet protected without one yields exactly that.
TEST(SrtpMki, InboundAcceptsThePartysMki) {
  SrtpKey k = test_key(SrtpSuite::kAesCm128HmacSha1_80);
  SrtpStream out = make(k, SrtpDirection::kOutbound);
  k.mki_value = 1;
  k.mki_length = 4;
  SrtpStream in = make(k, SrtpDirection::kInbound);
  auto splice = [](std::vector<uint8_t> p, std::vector<uint8_t> mki) {
    p.insert(p.end() - 10, mki.begin(), mki.end());
    return p;
  };
  auto sealed = protect(out, rtp_packet(1));
  auto back = unprotect(in, splice(sealed, {0, 0, 0, 1}));
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(*back, rtp_packet(1));
  EXPECT_EQ(unprotect_error(in, splice(protect(out, rtp_packet(2)), {0, 0, 0, 2})),
            SrtpError::kAuthFailed);  // an MKI that was never signalled
}

TEST(SrtpStreamObject, MoveKeepsTheSession) {
  SrtpStream out = make(test_key(SrtpSuite::kAeadAes128Gcm), SrtpDirection::kOutbound);
  SrtpStream in = make(test_key(SrtpSuite::kAeadAes128Gcm), SrtpDirection::kInbound);
  SrtpStream moved = std::move(out);
  std::vector<SrtpStream> many;
  many.push_back(std::move(in));
  many.push_back(make(test_key(SrtpSuite::kAesCm128HmacSha1_32), SrtpDirection::kInbound));
  EXPECT_TRUE(unprotect(many[0], protect(moved, rtp_packet(1))).ok());
  moved = make(test_key(SrtpSuite::kAesCm128HmacSha1_32), SrtpDirection::kOutbound);
  EXPECT_TRUE(unprotect(many[1], protect(moved, rtp_packet(1))).ok());
}

TEST(SrtpLibrary, ConcurrentFirstUse) {
  // srtp_init runs once however many workers create streams at once.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&ok, t] {
      for (int i = 0; i < 50; ++i) {
        auto s = SrtpStream::create(test_key(SrtpSuite::kAesCm128HmacSha1_80, uint8_t(t)),
                                    SrtpDirection::kOutbound);
        if (s.ok()) ok.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_TRUE(std::string(srtp_library_version()).starts_with("libsrtp2 2."))
      << srtp_library_version();
  std::string backend = srtp_backend_name();
  EXPECT_TRUE(backend == "openssl" || backend == "nss") << backend;
}

TEST(SrtpErrors, NamesAreDistinct) {
  std::set<std::string> seen;
  for (size_t e = 0; e < kSrtpErrorCount; ++e)
    EXPECT_TRUE(seen.insert(to_string(SrtpError(e))).second) << e;
}

}  // namespace
}  // namespace vox::dataplane
