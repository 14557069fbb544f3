// STUN parsing, integrity and writing: the RFC 5769 test vectors, writer
// round trips, truncation, corrupted fingerprints and integrity.
#include "control/webrtc/stun.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include <string>
#include <vector>

namespace vox::control::webrtc {
namespace {

std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(uint8_t(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// RFC 5769 §2.1-§2.4, byte for byte.
constexpr std::string_view kSampleRequest =
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e7400"
    "2400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aea"
    "a70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
constexpr std::string_view kSampleIpv4Response =
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72200020000800"
    "01a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
constexpr std::string_view kSampleIpv6Response =
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72200020001400"
    "02a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3"
    "ed4180280004c8fb0b4c";
constexpr std::string_view kSampleLongTermRequest =
    "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382"
    "b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b6578"
    "616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666";
constexpr std::string_view kSamplePassword = "VOkJxbRl1RmTxUk/WvJxBt";
constexpr StunTransaction kSampleTransaction = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

TEST(StunVectors, SampleRequest) {  // RFC 5769 §2.1
  const auto pkt = from_hex(kSampleRequest);
  ASSERT_EQ(pkt.size(), 108u);
  auto m = parse_stun(pkt);
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->method, kStunBinding);
  EXPECT_EQ(m->cls, StunClass::kRequest);
  EXPECT_EQ(m->transaction, kSampleTransaction);
  EXPECT_EQ(m->software, "STUN test client");
  EXPECT_EQ(m->username, "evtj:h6vY");
  EXPECT_EQ(m->priority, 0x6e0001ffu);
  EXPECT_EQ(m->ice_controlled, 0x932ff9b151263b36u);
  EXPECT_FALSE(m->ice_controlling);
  EXPECT_FALSE(m->use_candidate);
  EXPECT_EQ(m->integrity_at, 76);  // 20 + SOFTWARE 20 + PRIORITY 8 + ICE-CONTROLLED 12 + USERNAME 16
  EXPECT_EQ(m->integrity_sha256_at, -1);
  EXPECT_TRUE(m->fingerprint);
  EXPECT_EQ(m->unknown_count, 0);
  EXPECT_TRUE(verify_integrity(pkt, *m, kSamplePassword));
  EXPECT_FALSE(verify_integrity(pkt, *m, "VOkJxbRl1RmTxUk/WvJxBu"));
}

TEST(StunVectors, SampleIpv4Response) {  // RFC 5769 §2.2
  const auto pkt = from_hex(kSampleIpv4Response);
  auto m = parse_stun(pkt);
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->cls, StunClass::kSuccess);
  EXPECT_EQ(m->method, kStunBinding);
  EXPECT_EQ(m->software, "test vector");
  ASSERT_TRUE(m->xor_mapped);
  EXPECT_EQ(*m->xor_mapped, *Endpoint::parse("192.0.2.1:32853"));
  EXPECT_TRUE(m->fingerprint);
  EXPECT_TRUE(verify_integrity(pkt, *m, kSamplePassword));
}

TEST(StunVectors, SampleIpv6Response) {  // RFC 5769 §2.3
  const auto pkt = from_hex(kSampleIpv6Response);
  auto m = parse_stun(pkt);
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->cls, StunClass::kSuccess);
  ASSERT_TRUE(m->xor_mapped);
  EXPECT_EQ(*m->xor_mapped, *Endpoint::parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_TRUE(verify_integrity(pkt, *m, kSamplePassword));
}

TEST(StunVectors, SampleLongTermRequest) {  // RFC 5769 §2.4
  const auto pkt = from_hex(kSampleLongTermRequest);
  auto m = parse_stun(pkt);
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->username, "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  EXPECT_EQ(m->nonce, "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m->realm, "example.org");
  EXPECT_FALSE(m->fingerprint);
  // Long-term key = MD5(username ":" realm ":" SASLprep(password)) (RFC 8489
  // §9.2.2); the vector's password "The<U+00AD>M<U+00AA>trIX" prepares to
  // "TheMatrIX". voxrelay does no SASLprep: the prepared form is given here.
  const std::string input = std::string(m->username) + ":example.org:TheMatrIX";
  uint8_t key[16];
  unsigned key_len = 0;
  ASSERT_EQ(EVP_Digest(input.data(), input.size(), key, &key_len, EVP_md5(), nullptr), 1);
  const std::string_view k(reinterpret_cast<const char*>(key), key_len);
  EXPECT_TRUE(verify_integrity(pkt, *m, k));
  EXPECT_FALSE(verify_integrity(pkt, *m, "TheMatrIX"));
}

TEST(StunCrc32, CheckValue) {
  const std::string_view s = "123456789";  // the CRC-32 check value (RFC 1952 §8's CRC)
  EXPECT_EQ(crc32({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
}

TEST(StunParse, EveryTruncationIsAnError) {
  for (auto hex : {kSampleRequest, kSampleIpv4Response, kSampleIpv6Response,
                   kSampleLongTermRequest}) {
    const auto pkt = from_hex(hex);
    for (size_t n = 0; n < pkt.size(); ++n) {
      // Exactly sized copies so ASan would see any read past the end.
      std::vector<uint8_t> cut(pkt.begin(), pkt.begin() + long(n));
      EXPECT_FALSE(parse_stun(cut).ok()) << n;
    }
  }
}

TEST(StunParse, TruncationWithAdjustedLengthIsAnError) {
  // The header claims the truncated length: the last attribute is then cut.
  const auto pkt = from_hex(kSampleRequest);
  for (size_t n = kStunHeaderLength + 4; n < pkt.size(); n += 4) {
    std::vector<uint8_t> cut(pkt.begin(), pkt.begin() + long(n));
    cut[2] = uint8_t((n - 20) >> 8);
    cut[3] = uint8_t(n - 20);
    auto m = parse_stun(cut);
    // Cuts on an attribute boundary parse (without the later attributes);
    // others must be errors, and none may claim a fingerprint.
    if (m.ok()) {
      EXPECT_FALSE(m->fingerprint) << n;
    } else {
      EXPECT_EQ(m.error(), StunError::kTruncatedAttribute) << n;
    }
  }
}

TEST(StunParse, HeaderChecks) {
  auto pkt = from_hex(kSampleIpv4Response);
  auto bad = pkt;
  bad[0] |= 0x80;
  EXPECT_EQ(parse_stun(bad).error(), StunError::kNotStun);
  bad = pkt;
  bad[5] ^= 1;
  EXPECT_EQ(parse_stun(bad).error(), StunError::kBadCookie);
  bad = pkt;
  bad[3] += 4;
  EXPECT_EQ(parse_stun(bad).error(), StunError::kBadLength);
  bad = pkt;
  bad[3] += 1;
  EXPECT_EQ(parse_stun(bad).error(), StunError::kBadLength);
  bad = pkt;
  bad.push_back(0);
  EXPECT_EQ(parse_stun(bad).error(), StunError::kBadLength);
  EXPECT_EQ(parse_stun(std::span(pkt).first(19)).error(), StunError::kTooShort);
  EXPECT_TRUE(looks_like_stun(pkt));
  EXPECT_FALSE(looks_like_stun(bad = {0x80, 0, 0, 0}));
}

TEST(StunParse, WrongFingerprintFails) {
  auto pkt = from_hex(kSampleRequest);
  pkt.back() ^= 0x01;
  EXPECT_EQ(parse_stun(pkt).error(), StunError::kBadFingerprint);
  pkt = from_hex(kSampleRequest);
  pkt[30] ^= 0x20;  // inside SOFTWARE: the CRC no longer matches
  EXPECT_EQ(parse_stun(pkt).error(), StunError::kBadFingerprint);
}

TEST(StunParse, FingerprintMustBeLast) {
  uint8_t buf[128];
  StunWriter w(buf, kStunBinding, StunClass::kRequest, kSampleTransaction);
  const size_t n = w.finish("", false, true);
  ASSERT_EQ(n, 28u);
  // Append USE-CANDIDATE after FINGERPRINT and fix the length.
  buf[28] = 0x00, buf[29] = 0x25, buf[30] = 0, buf[31] = 0;
  buf[3] = 12;
  EXPECT_EQ(parse_stun(std::span(buf, 32)).error(), StunError::kFingerprintNotLast);
}

TEST(StunParse, IntegrityWithoutKnowledgeFailsVerification) {
  const auto pkt = from_hex(kSampleIpv4Response);
  auto m = parse_stun(pkt);
  ASSERT_TRUE(m.ok());
  StunMessage none = *m;
  none.integrity_at = -1;
  EXPECT_FALSE(verify_integrity(pkt, none, kSamplePassword));
  StunMessage wild = *m;
  wild.integrity_at = 1000;  // not from this packet: must not read past it
  EXPECT_FALSE(verify_integrity(pkt, wild, kSamplePassword));
}

TEST(StunWriter, RoundTrip) {
  uint8_t buf[548];
  const StunTransaction tx = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  StunWriter w(buf, kStunBinding, StunClass::kRequest, tx);
  w.add_username("abcd:efg");  // 8 octets: no padding
  w.add_software("vox");       // 3 octets: one of padding
  w.add_priority(0x6e7f1eff);
  w.add_use_candidate();
  w.add_ice_controlling(0x0102030405060708);
  w.add_xor_mapped(*Endpoint::parse("[2001:db8::1]:5000"));
  const size_t n = w.finish("secret", false, true);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(n % 4, 0u);
  auto m = parse_stun(std::span(buf, n));
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->method, kStunBinding);
  EXPECT_EQ(m->cls, StunClass::kRequest);
  EXPECT_EQ(m->transaction, tx);
  EXPECT_EQ(m->username, "abcd:efg");
  EXPECT_EQ(m->software, "vox");
  EXPECT_EQ(m->priority, 0x6e7f1effu);
  EXPECT_TRUE(m->use_candidate);
  EXPECT_EQ(m->ice_controlling, 0x0102030405060708u);
  EXPECT_FALSE(m->ice_controlled);
  EXPECT_EQ(m->xor_mapped, Endpoint::parse("[2001:db8::1]:5000"));
  EXPECT_TRUE(m->fingerprint);
  EXPECT_GE(m->integrity_at, 0);
  EXPECT_EQ(m->integrity_sha256_at, -1);
  EXPECT_TRUE(verify_integrity(std::span(buf, n), *m, "secret"));
  EXPECT_FALSE(verify_integrity(std::span(buf, n), *m, "secreT"));
}

TEST(StunWriter, ClassesAndMethodsRoundTrip) {
  uint8_t buf[64];
  for (auto cls : {StunClass::kRequest, StunClass::kIndication, StunClass::kSuccess,
                   StunClass::kError}) {
    for (uint16_t method : {uint16_t(0x001), uint16_t(0x003), uint16_t(0xABC), uint16_t(0xFFF)}) {
      StunWriter w(buf, method, cls, kSampleTransaction);
      const size_t n = w.finish("", false, false);
      ASSERT_EQ(n, 20u);
      auto m = parse_stun(std::span(buf, n));
      ASSERT_TRUE(m.ok());
      EXPECT_EQ(m->cls, cls);
      EXPECT_EQ(m->method, method);
    }
  }
  // A Binding success response is 0x0101, an error 0x0111 (RFC 8489 §5).
  StunWriter w(buf, kStunBinding, StunClass::kError, kSampleTransaction);
  ASSERT_EQ(w.finish("", false, false), 20u);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[1], 0x11);
}

TEST(StunWriter, Sha256IntegrityRoundTrip) {
  uint8_t buf[256];
  StunWriter w(buf, kStunBinding, StunClass::kSuccess, kSampleTransaction);
  w.add_xor_mapped(*Endpoint::parse("192.0.2.1:32853"));
  const size_t n = w.finish(kSamplePassword, true, true);
  ASSERT_GT(n, 0u);
  auto m = parse_stun(std::span(buf, n));
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  ASSERT_GE(m->integrity_at, 0);
  ASSERT_GT(m->integrity_sha256_at, m->integrity_at);
  EXPECT_EQ(m->xor_mapped, Endpoint::parse("192.0.2.1:32853"));
  EXPECT_TRUE(verify_integrity(std::span(buf, n), *m, kSamplePassword));
  EXPECT_FALSE(verify_integrity(std::span(buf, n), *m, "wrong"));
  // The SHA-256 value is what is checked when present: corrupt it alone
  // (and fix the fingerprint by dropping it) and verification fails...
  StunMessage no_fp = *m;
  buf[m->integrity_sha256_at + 4] ^= 1;
  EXPECT_FALSE(verify_integrity(std::span(buf, n), no_fp, kSamplePassword));
  // ... while the SHA-1 value alone still verifies.
  no_fp.integrity_sha256_at = -1;
  EXPECT_TRUE(verify_integrity(std::span(buf, n), no_fp, kSamplePassword));
}

TEST(StunParse, TruncatedSha256IsAccepted) {
  // MESSAGE-INTEGRITY-SHA256 may carry only the leading 16..32 octets
  // (§14.6): build USERNAME + a 16-octet MI-SHA256 by hand, the HMAC from
  // OpenSSL directly over the header (length ending after the attribute)
  // and USERNAME.
  uint8_t buf[128];
  StunWriter w(buf, kStunBinding, StunClass::kRequest, kSampleTransaction);
  w.add_username("a:b");
  const std::array<uint8_t, 16> zero{};
  w.add_attribute(stun_attr::kMessageIntegritySha256, zero);
  const size_t n = w.finish("", false, false);
  ASSERT_EQ(n, 20u + 8 + 20);
  auto m = parse_stun(std::span(buf, n));
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->integrity_sha256_at, 28);
  EXPECT_FALSE(verify_integrity(std::span(buf, n), *m, "k"));  // zeros are no HMAC
  uint8_t mac[32];
  unsigned mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), "k", 1, buf, 28, mac, &mac_len), nullptr);
  std::memcpy(buf + 32, mac, 16);
  EXPECT_TRUE(verify_integrity(std::span(buf, n), *m, "k"));
  EXPECT_FALSE(verify_integrity(std::span(buf, n), *m, "j"));
}

TEST(StunWriter, ErrorAndUnknownAttributes) {
  uint8_t buf[256];
  StunWriter w(buf, kStunBinding, StunClass::kError, kSampleTransaction);
  w.add_error(420, "Unknown Attribute");
  const uint16_t unknown[] = {0x0031, 0x7F00, 0x0042};
  w.add_unknown(unknown);
  const size_t n = w.finish("pw", false, true);
  ASSERT_GT(n, 0u);
  auto m = parse_stun(std::span(buf, n));
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  EXPECT_EQ(m->cls, StunClass::kError);
  EXPECT_EQ(m->error_code, 420);
  EXPECT_EQ(m->error_reason, "Unknown Attribute");
  EXPECT_EQ(m->unknown_attributes, std::string_view("\x00\x31\x7f\x00\x00\x42", 6));
  EXPECT_EQ(m->unknown_count, 0);  // UNKNOWN-ATTRIBUTES itself is understood
}

TEST(StunParse, UnknownComprehensionRequiredAttributes) {
  uint8_t buf[256];
  StunWriter w(buf, kStunBinding, StunClass::kRequest, kSampleTransaction);
  const uint8_t v[3] = {1, 2, 3};
  w.add_attribute(0x0031, v);  // comprehension-required, unknown
  w.add_attribute(0xC057, v);  // comprehension-optional (Chrome's GOOG-NETWORK-INFO)
  w.add_attribute(0x7FFF, {});
  const size_t n = w.finish("pw", false, false);
  // After MESSAGE-INTEGRITY: ignored (§14.5), so not reported.
  buf[n] = 0x00, buf[n + 1] = 0x32, buf[n + 2] = 0, buf[n + 3] = 0;
  buf[3] = uint8_t(buf[3] + 4);
  auto m = parse_stun(std::span(buf, n + 4));
  ASSERT_TRUE(m.ok()) << to_string(m.error());
  ASSERT_EQ(m->unknown_count, 2);
  EXPECT_EQ(m->unknown[0], 0x0031);
  EXPECT_EQ(m->unknown[1], 0x7FFF);
  EXPECT_TRUE(verify_integrity(std::span(buf, n + 4), *m, "pw"));
}

TEST(StunParse, MalformedKnownAttributes) {
  const uint8_t three[3] = {1, 2, 3};
  const uint8_t bad_family[8] = {0, 3, 0, 0, 0, 0, 0, 0};
  const uint8_t bad_class[4] = {0, 0, 2, 0};
  struct Case {
    uint16_t type;
    std::span<const uint8_t> value;
  } cases[] = {{stun_attr::kPriority, three},        {stun_attr::kUseCandidate, three},
               {stun_attr::kIceControlling, three},  {stun_attr::kXorMappedAddress, bad_family},
               {stun_attr::kErrorCode, bad_class},   {stun_attr::kMessageIntegrity, three},
               {stun_attr::kFingerprint, three}};
  for (const auto& c : cases) {
    uint8_t buf[64];
    StunWriter w(buf, kStunBinding, StunClass::kRequest, kSampleTransaction);
    w.add_attribute(c.type, c.value);
    const size_t n = w.finish("", false, false);
    auto m = parse_stun(std::span(buf, n));
    ASSERT_FALSE(m.ok()) << c.type;
    EXPECT_EQ(m.error(), StunError::kBadAttribute) << c.type;
  }
}

TEST(StunWriter, Overflow) {
  uint8_t buf[40];
  StunWriter w(buf, kStunBinding, StunClass::kSuccess, kSampleTransaction);
  w.add_xor_mapped(*Endpoint::parse("[2001:db8::1]:5000"));  // 24 octets: 44 > 40
  EXPECT_TRUE(w.overflow());
  EXPECT_EQ(w.finish("", false, false), 0u);
  StunWriter small(std::span(buf, 28), kStunBinding, StunClass::kSuccess, kSampleTransaction);
  EXPECT_EQ(small.finish("key", false, false), 0u);  // MESSAGE-INTEGRITY does not fit
  StunWriter tiny(std::span(buf, 10), kStunBinding, StunClass::kSuccess, kSampleTransaction);
  EXPECT_EQ(tiny.finish("", false, false), 0u);
}

}  // namespace
}  // namespace vox::control::webrtc
