// Tests for control/sdes.cc: RFC 4568's own example attributes (§4, §8.1)
// as golden data, every suite's key length and base64 form, every SdesError,
// each NG SDES flag, offer/answer choice and re-offers, and one whole SRTP
// call setup whose keys are checked by actually protecting and unprotecting.
#include "control/sdes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "dataplane/srtp_context.h"

namespace vox::control {
namespace {

using dataplane::kSrtpSuites;
using dataplane::srtp_suite_info;

std::vector<uint8_t> hex(std::string_view h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

std::vector<uint8_t> key_bytes(const SrtpKey& k) {
  return {k.key_salt.begin(), k.key_salt.begin() + k.key_salt_length};
}

SdesError parse_error(std::string_view line) {
  auto r = parse_sdes_crypto(line);
  EXPECT_FALSE(r.ok()) << line;
  return r.ok() ? SdesError::kSyntax : r.error();
}

SdesFlags flags_of(std::vector<std::string_view> list) {
  auto f = parse_sdes_flags(list);
  EXPECT_TRUE(f.ok());
  return f.ok() ? *f : SdesFlags{};
}

std::vector<std::string> rendered(const std::vector<SdesCrypto>& lines, SdesRenderOptions o = {}) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(render_sdes_crypto(l, o));
  return out;
}

// --- golden attributes -----------------------------------------------------------

// RFC 4568 §4, the first example: lifetime 2^20, MKI value 1 in 32 octets.
TEST(SdesParse, Rfc4568Section4Example) {
  auto c = parse_sdes_crypto(
      "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tag, 1u);
  EXPECT_EQ(c->key.suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(key_bytes(c->key), hex("3d2d6e40255e7821426a75667239293f2c2335685c603d265d7b71695051"));
  EXPECT_EQ(c->key.master_key().size(), 16u);
  EXPECT_EQ(c->key.master_salt().size(), 14u);
  EXPECT_EQ(c->lifetime, uint64_t(1) << 20);
  EXPECT_EQ(c->key.mki_value, 1u);
  EXPECT_EQ(c->key.mki_length, 32);
  EXPECT_EQ(c->key.flags, SrtpSessionFlags{});
  EXPECT_EQ(render_sdes_crypto(*c),
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32");
}

// RFC 4568 §8.1: the offer's two lines and the answer.
constexpr std::string_view kRfcOffer1 =
    "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 "
    "FEC_ORDER=FEC_SRTP";
constexpr std::string_view kRfcOffer2 =
    "2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
    "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP";
constexpr std::string_view kRfcAnswer =
    "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";

TEST(SdesParse, Rfc4568Section81OfferAndAnswer) {
  auto c = parse_sdes_crypto(kRfcOffer1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(key_bytes(c->key), hex("59535f5f5f73656d63746c202829207b093232303b7d0a7d0a756e6c6573"));
  EXPECT_EQ(c->key.mki_length, 4);
  ASSERT_EQ(c->other_params.size(), 1u);
  EXPECT_EQ(c->other_params[0], "FEC_ORDER=FEC_SRTP");
  EXPECT_EQ(render_sdes_crypto(*c), kRfcOffer1);  // round trip, declarative params kept
  // F8 is not implemented: the suite is what the error names, before the key list.
  EXPECT_EQ(parse_error(kRfcOffer2), SdesError::kUnknownSuite);
  auto a = parse_sdes_crypto(kRfcAnswer);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->tag, 1u);
}

// A relay answering the RFC's offer takes line 1 (the only usable one) with
// the same tag and its own key.
TEST(SdesAnswer, Rfc4568Section81Offer) {
  std::vector<std::string_view> offer = {kRfcOffer1, kRfcOffer2};
  auto a = make_sdes_answer(offer, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->line.tag, 1u);
  EXPECT_EQ(a->line.key.suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(a->session.inbound, parse_sdes_crypto(kRfcOffer1)->key);
  EXPECT_EQ(a->session.outbound, a->line.key);
  EXPECT_NE(key_bytes(a->line.key), key_bytes(a->session.inbound));
  EXPECT_EQ(a->line.key.mki_length, 0);  // the relay's packets carry no MKI
  std::string line = render_sdes_crypto(a->line);
  EXPECT_TRUE(line.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:")) << line;
  EXPECT_EQ(line.size(), std::string_view("1 AES_CM_128_HMAC_SHA1_80 inline:").size() + 40);
}

// Lines as rtpengine and common endpoints send them, one per suite.
TEST(SdesParse, EverySuiteGolden) {
  struct Case {
    std::string_view line;
    SrtpSuite suite;
    std::string_view key_hex;
  } cases[] = {
      {"1 AEAD_AES_256_GCM inline:8PBJFLUT8nY6Gx+hMPEOKZj29uQ+QwnR5iKg4zK58bY7BIA95R7nyWQjq1s",
       SrtpSuite::kAeadAes256Gcm,
       "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b63b04803de51ee7c96423ab5b"},
      {"2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw==",
       SrtpSuite::kAeadAes128Gcm, "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaab"},
      {"3 AES_256_CM_HMAC_SHA1_80 "
       "inline:8PBJFLUT8nY6Gx+hMPEOKZj29uQ+QwnR5iKg4zK58bY7BIA95R7nyWQjq1t40g",
       SrtpSuite::kAes256CmHmacSha1_80,
       "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b63b04803de51ee7c96423ab5b78d"
       "2"},
      {"4 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm",
       SrtpSuite::kAesCm128HmacSha1_80,
       "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6"},
      {"5 AES_CM_128_HMAC_SHA1_32 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm|2^31",
       SrtpSuite::kAesCm128HmacSha1_32,
       "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6"},
  };
  for (const auto& c : cases) {
    auto p = parse_sdes_crypto(c.line);
    ASSERT_TRUE(p.ok()) << c.line;
    EXPECT_EQ(p->key.suite, c.suite);
    EXPECT_EQ(key_bytes(p->key), hex(c.key_hex)) << c.line;
    EXPECT_TRUE(p->key.valid());
    // Rendering gives the line back: padding as it came ("pad" for the GCM-128 one).
    bool padded = c.line.ends_with("=");
    EXPECT_EQ(render_sdes_crypto(*p, {.pad = padded}), c.line);
  }
}

TEST(SdesParse, SuiteTableMatchesTheRfcs) {
  // RFC 4568 §6.2, RFC 6188 §7.1, RFC 7714 §12 and §14.2.
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAesCm128HmacSha1_80).key_length, 16);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAesCm128HmacSha1_80).salt_length, 14);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAesCm128HmacSha1_32).srtp_tag_length, 4);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAesCm128HmacSha1_32).srtcp_tag_length, 10);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAes256CmHmacSha1_80).key_length, 32);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAeadAes128Gcm).salt_length, 12);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAeadAes256Gcm).key_length, 32);
  EXPECT_EQ(srtp_suite_info(SrtpSuite::kAeadAes256Gcm).srtp_tag_length, 16);
  for (size_t i = 0; i < kSrtpSuites.size(); ++i) EXPECT_EQ(size_t(kSrtpSuites[i].suite), i);
}

TEST(SdesParse, SessionParameters) {
  constexpr std::string_view k =
      "1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
  auto c = parse_sdes_crypto(std::string(k) +
                             " UNENCRYPTED_SRTCP UNENCRYPTED_SRTP KDR=0 WSH=128 -X_VENDOR=1");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->key.flags.unencrypted_srtp);
  EXPECT_TRUE(c->key.flags.unencrypted_srtcp);
  EXPECT_FALSE(c->key.flags.unauthenticated_srtp);
  EXPECT_EQ(c->other_params, (std::vector<std::string>{"KDR=0", "WSH=128", "-X_VENDOR=1"}));
  auto u = parse_sdes_crypto(std::string(k) + "\tUNAUTHENTICATED_SRTP");  // tabs separate too
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->key.flags.unauthenticated_srtp);
  EXPECT_EQ(render_sdes_crypto(*u), std::string(k) + " UNAUTHENTICATED_SRTP");
  // GCM takes UNENCRYPTED_SRTCP (RFC 7714: the E bit) but not the SRTP ones.
  auto g = parse_sdes_crypto(
      "1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw UNENCRYPTED_SRTCP");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->key.flags.unencrypted_srtcp);
}

TEST(SdesParse, Errors) {
  const std::string k = "inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
  const std::string ok = "1 AES_CM_128_HMAC_SHA1_80 " + k;
  ASSERT_TRUE(parse_sdes_crypto(ok).ok());
  // Structure and tag (§9.1).
  EXPECT_EQ(parse_error(""), SdesError::kSyntax);
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80"), SdesError::kSyntax);
  EXPECT_EQ(parse_error("x AES_CM_128_HMAC_SHA1_80 " + k), SdesError::kBadTag);
  EXPECT_EQ(parse_error("1234567890 AES_CM_128_HMAC_SHA1_80 " + k), SdesError::kBadTag);
  EXPECT_EQ(parse_error("-1 AES_CM_128_HMAC_SHA1_80 " + k), SdesError::kBadTag);
  // Suites.
  EXPECT_EQ(parse_error("1 AES_CM_192_HMAC_SHA1_80 " + k), SdesError::kUnknownSuite);
  EXPECT_EQ(parse_error("1 aes_cm_128_hmac_sha1_80 " + k), SdesError::kUnknownSuite);
  EXPECT_EQ(parse_error("1 NULL_HMAC_SHA1_80 " + k), SdesError::kUnknownSuite);
  // Key method and base64.
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 uri:http://x/"), SdesError::kBadKeyMethod);
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 4fl6DT4Bi"), SdesError::kSyntax);
  EXPECT_TRUE(
      parse_sdes_crypto("1 AES_CM_128_HMAC_SHA1_80 INLINE:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm")
          .ok());
  EXPECT_EQ(
      parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi!DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"),
      SdesError::kBadBase64);
  EXPECT_EQ(
      parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4B=+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"),
      SdesError::kBadBase64);
  EXPECT_EQ(
      parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvmA"),
      SdesError::kBadBase64);  // 41 characters: 6 stray bits
  EXPECT_EQ(
      parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi-DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"),
      SdesError::kBadBase64);  // base64url is not RFC 4648 §4 base64
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:|2^20"), SdesError::kSyntax);
  // Key lengths: a 256-bit key under a 128-bit suite, a short key, a huge one.
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 "
                        "inline:8PBJFLUT8nY6Gx+hMPEOKZj29uQ+QwnR5iKg4zK58bY7BIA95R7nyWQjq1t40g"),
            SdesError::kBadKeyLength);
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7r"),
            SdesError::kBadKeyLength);
  EXPECT_EQ(parse_error("1 AEAD_AES_128_GCM " + k), SdesError::kBadKeyLength);  // 30, not 28
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:" + std::string(400, 'A')),
            SdesError::kBadKeyLength);
  // Lifetime and MKI (§6.1, §9.2).
  EXPECT_EQ(parse_error(ok + "|2^49"), SdesError::kBadLifetime);
  EXPECT_EQ(parse_error(ok + "|2^x"), SdesError::kBadLifetime);
  EXPECT_EQ(parse_error(ok + "|0"), SdesError::kBadLifetime);
  EXPECT_EQ(parse_error(ok + "|1:0"), SdesError::kBadMki);
  EXPECT_EQ(parse_error(ok + "|1:129"), SdesError::kBadMki);
  EXPECT_EQ(parse_error(ok + "|256:1"), SdesError::kBadMki);  // does not fit one octet
  EXPECT_EQ(parse_error(ok + "|x:4"), SdesError::kBadMki);
  EXPECT_EQ(parse_error(ok + "|1:4|2^20"), SdesError::kSyntax);  // lifetime after MKI
  EXPECT_EQ(parse_error(ok + "|2^20|2^20"), SdesError::kSyntax);
  EXPECT_EQ(parse_error(ok + "|2^20|1:4|x"), SdesError::kSyntax);
  EXPECT_TRUE(parse_sdes_crypto(ok + "|1048576|255:1").ok());
  // Session parameters (§6.3).
  EXPECT_EQ(parse_error(ok + " KDR=1"), SdesError::kUnsupportedParam);  // libsrtp2: KDR 0 only
  EXPECT_EQ(parse_error(ok + " KDR=25"), SdesError::kBadSessionParam);
  EXPECT_EQ(parse_error(ok + " KDR="), SdesError::kBadSessionParam);
  EXPECT_EQ(parse_error(ok + " WSH=10"), SdesError::kBadSessionParam);
  EXPECT_EQ(parse_error(ok + " FEC_ORDER=X"), SdesError::kBadSessionParam);
  EXPECT_EQ(parse_error(ok + " FEC_KEY=" + k), SdesError::kUnsupportedParam);
  EXPECT_EQ(parse_error(ok + " SOMETHING_NEW"), SdesError::kUnsupportedParam);
  EXPECT_EQ(parse_error(ok + " UNENCRYPTED_SRTP UNAUTHENTICATED_SRTP"),
            SdesError::kUnsupportedParam);
  EXPECT_EQ(parse_error("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw "
                        "UNENCRYPTED_SRTP"),
            SdesError::kUnsupportedParam);
  EXPECT_EQ(parse_error("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw "
                        "UNAUTHENTICATED_SRTP"),
            SdesError::kUnsupportedParam);
  // Key lists (MKI rollover): one key per line only.
  EXPECT_EQ(parse_error(ok + "|2^20|1:4;" + k + "|2^20|2:4"), SdesError::kMultipleKeys);
  EXPECT_EQ(parse_error(ok + ";inline:!!"), SdesError::kMultipleKeys);
  EXPECT_EQ(parse_error("1 AES_CM_128_HMAC_SHA1_80 inline:!!;" + k), SdesError::kBadBase64);
}

TEST(SdesParse, ErrorReasonsAreDistinct) {
  std::set<std::string> seen;
  for (int e = 0; e <= int(SdesError::kRandomFailure); ++e)
    EXPECT_TRUE(seen.insert(to_string(SdesError(e))).second) << e;
}

// --- flags -------------------------------------------------------------------------

TEST(SdesFlags, EachFlag) {
  EXPECT_TRUE(flags_of({"off"}).off);
  EXPECT_TRUE(flags_of({"no"}).off);
  EXPECT_TRUE(flags_of({"disable"}).off);
  EXPECT_TRUE(flags_of({"unencrypted_srtp"}).session.unencrypted_srtp);
  EXPECT_TRUE(flags_of({"unencrypted_srtcp"}).session.unencrypted_srtcp);
  EXPECT_TRUE(flags_of({"unauthenticated_srtp"}).session.unauthenticated_srtp);
  EXPECT_FALSE(flags_of({"unencrypted_srtp", "encrypted_srtp"}).session.unencrypted_srtp);
  EXPECT_FALSE(flags_of({"unencrypted_srtcp", "encrypted_srtcp"}).session.unencrypted_srtcp);
  EXPECT_FALSE(
      flags_of({"unauthenticated_srtp", "authenticated_srtp"}).session.unauthenticated_srtp);
  EXPECT_TRUE(flags_of({"pad"}).pad);
  EXPECT_TRUE(flags_of({"lifetime"}).lifetime);
  EXPECT_TRUE(flags_of({"static"}).static_keys);

  SdesFlags no = flags_of({"no-AEAD_AES_256_GCM", "no-aes_cm_128_hmac_sha1_32"});
  EXPECT_FALSE(no.allows(SrtpSuite::kAeadAes256Gcm));
  EXPECT_FALSE(no.allows(SrtpSuite::kAesCm128HmacSha1_32));
  EXPECT_TRUE(no.allows(SrtpSuite::kAeadAes128Gcm));
  SdesFlags only = flags_of({"only-AES_CM_128_HMAC_SHA1_80", "only-AEAD_AES_128_GCM"});
  for (const auto& s : kSrtpSuites)
    EXPECT_EQ(only.allows(s.suite),
              s.suite == SrtpSuite::kAesCm128HmacSha1_80 || s.suite == SrtpSuite::kAeadAes128Gcm);
  // Suites rtpengine has and voxrelay lacks: "no-" changes nothing, "only-"
  // of them alone leaves nothing to offer.
  EXPECT_TRUE(flags_of({"no-F8_128_HMAC_SHA1_80"}).allows(SrtpSuite::kAesCm128HmacSha1_80));
  EXPECT_FALSE(flags_of({"only-AES_192_CM_HMAC_SHA1_80"}).allows(SrtpSuite::kAesCm128HmacSha1_80));

  EXPECT_TRUE(flags_of({"nonew"}).nonew);
  EXPECT_TRUE(flags_of({"prefer"}).prefer);
  // order: suites voxrelay has, in the given order; unknown names skipped.
  EXPECT_EQ(flags_of({"order:aes_cm_128_hmac_sha1_32;F8_128_HMAC_SHA1_80;AEAD_AES_128_GCM;"}).order,
            (std::vector<SrtpSuite>{SrtpSuite::kAesCm128HmacSha1_32, SrtpSuite::kAeadAes128Gcm}));

  std::vector<std::string_view> bad[] = {{"bogus"}, {"no-"}, {"only-AES CM"}, {"OFF"}};
  for (const auto& b : bad) {
    auto r = parse_sdes_flags(b);
    ASSERT_FALSE(r.ok()) << b[0];
    EXPECT_EQ(r.error(), SdesError::kUnknownFlag);
  }
}

// --- offers -------------------------------------------------------------------------

// rtpengine's docs: "order:" moves the named suites to the top of the
// offer and changes no tag.
TEST(SdesOffer, OrderMovesSuitesAndKeepsTags) {
  auto plain = make_sdes_offer({});
  ASSERT_TRUE(plain.ok());
  SdesFlags f = flags_of({"order:AES_CM_128_HMAC_SHA1_32;AES_256_CM_HMAC_SHA1_80"});
  auto o = make_sdes_offer(f);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), plain->size());
  std::vector<std::pair<uint32_t, SrtpSuite>> got, want;
  for (const auto& l : *o) got.emplace_back(l.tag, l.key.suite);
  want = {{5, SrtpSuite::kAesCm128HmacSha1_32}, {3, SrtpSuite::kAes256CmHmacSha1_80},
          {1, SrtpSuite::kAeadAes256Gcm}, {2, SrtpSuite::kAeadAes128Gcm},
          {4, SrtpSuite::kAesCm128HmacSha1_80}};
  EXPECT_EQ(got, want);
}

TEST(SdesOffer, DefaultIsEverySuiteStrongestFirst) {
  auto o = make_sdes_offer({});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), 5u);
  std::set<std::vector<uint8_t>> keys;
  for (size_t i = 0; i < 5; ++i) {
    const auto& l = (*o)[i];
    EXPECT_EQ(l.tag, i + 1);
    EXPECT_EQ(l.key.suite, kSrtpSuites[i].suite);
    EXPECT_TRUE(l.key.valid());
    EXPECT_FALSE(l.lifetime.has_value());
    keys.insert(key_bytes(l.key));
  }
  EXPECT_EQ(keys.size(), 5u);  // a fresh key per line
  auto r = rendered(*o);
  // Unpadded base64 by default: 44/28/46/30/30 octets -> 59/38/62/40/40 characters.
  EXPECT_TRUE(r[0].starts_with("1 AEAD_AES_256_GCM inline:"));
  EXPECT_EQ(r[0].size(), std::string_view("1 AEAD_AES_256_GCM inline:").size() + 59);
  EXPECT_EQ(r[1].size(), std::string_view("2 AEAD_AES_128_GCM inline:").size() + 38);
  EXPECT_EQ(r[2].size(), std::string_view("3 AES_256_CM_HMAC_SHA1_80 inline:").size() + 62);
  EXPECT_EQ(r[3].size(), std::string_view("4 AES_CM_128_HMAC_SHA1_80 inline:").size() + 40);
  EXPECT_EQ(r[4].size(), std::string_view("5 AES_CM_128_HMAC_SHA1_32 inline:").size() + 40);
  for (const auto& line : r) {
    EXPECT_EQ(line.find('='), std::string::npos) << line;
    auto back = parse_sdes_crypto(line);  // what we render, we parse
    ASSERT_TRUE(back.ok()) << line;
  }
  // Each line parses back to the same key.
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(parse_sdes_crypto(r[i])->key, (*o)[i].key);
}

TEST(SdesOffer, PadAndLifetime) {
  auto o = make_sdes_offer(flags_of({"pad", "lifetime"}));
  ASSERT_TRUE(o.ok());
  auto r = rendered(*o, {.pad = true});
  EXPECT_TRUE(r[0].ends_with("=|2^31")) << r[0];   // 44 octets: one "="
  EXPECT_TRUE(r[1].ends_with("==|2^31")) << r[1];  // 28 octets: two
  EXPECT_TRUE(r[2].ends_with("==|2^31")) << r[2];  // 46 octets: two
  EXPECT_FALSE(r[3].ends_with("=|2^31")) << r[3];  // 30 octets: none needed
  for (const auto& line : r) EXPECT_EQ(parse_sdes_crypto(line)->lifetime, uint64_t(1) << 31);
}

TEST(SdesOffer, NoAndOnly) {
  auto o = make_sdes_offer(flags_of({"no-AEAD_AES_256_GCM"}));
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), 4u);
  EXPECT_EQ((*o)[0].tag, 1u);
  EXPECT_EQ((*o)[0].key.suite, SrtpSuite::kAeadAes128Gcm);
  o = make_sdes_offer(flags_of({"only-AES_CM_128_HMAC_SHA1_80"}));
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), 1u);
  EXPECT_EQ((*o)[0].key.suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ((*o)[0].tag, 1u);
  auto none = make_sdes_offer(flags_of({"only-F8_128_HMAC_SHA1_80"}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error(), SdesError::kNoAcceptableCrypto);
  auto off = make_sdes_offer(flags_of({"off"}));
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->empty());
}

TEST(SdesOffer, SessionFlags) {
  // AEAD has no unencrypted or unauthenticated SRTP: only the AES-CM suites.
  for (auto flag : {"unencrypted_srtp", "unauthenticated_srtp"}) {
    auto o = make_sdes_offer(flags_of({flag}));
    ASSERT_TRUE(o.ok());
    ASSERT_EQ(o->size(), 3u) << flag;
    EXPECT_EQ((*o)[0].key.suite, SrtpSuite::kAes256CmHmacSha1_80);
    std::string param = flag == std::string_view("unencrypted_srtp") ? " UNENCRYPTED_SRTP"
                                                                     : " UNAUTHENTICATED_SRTP";
    for (const auto& line : rendered(*o)) EXPECT_TRUE(line.ends_with(param)) << line;
  }
  auto o = make_sdes_offer(flags_of({"unencrypted_srtcp"}));
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), 5u);
  for (const auto& line : rendered(*o)) EXPECT_TRUE(line.ends_with(" UNENCRYPTED_SRTCP")) << line;
  auto both = make_sdes_offer(flags_of({"unencrypted_srtp", "unauthenticated_srtp"}));
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error(), SdesError::kNoAcceptableCrypto);
}

TEST(SdesOffer, ReofferKeepsKeys) {
  auto first = make_sdes_offer(flags_of({"no-AEAD_AES_256_GCM"}));
  ASSERT_TRUE(first.ok());
  // Unchanged flags: same lines, same keys: a re-INVITE does not re-key.
  auto again = make_sdes_offer(flags_of({"no-AEAD_AES_256_GCM"}), &*first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(rendered(*again), rendered(*first));
  // A suite allowed now: old lines keep tag and key, the new one gets a free tag.
  auto wider = make_sdes_offer({}, &*first);
  ASSERT_TRUE(wider.ok());
  ASSERT_EQ(wider->size(), 5u);
  EXPECT_EQ((*wider)[0].key.suite, SrtpSuite::kAeadAes256Gcm);
  EXPECT_EQ((*wider)[0].tag, 5u);
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_EQ((*wider)[i].tag, (*first)[i - 1].tag);
    EXPECT_EQ((*wider)[i].key, (*first)[i - 1].key);
  }
  // Different session flags: different lines, fresh keys.
  auto changed = make_sdes_offer(flags_of({"unencrypted_srtcp"}), &*first);
  ASSERT_TRUE(changed.ok());
  for (const auto& c : *changed)
    for (const auto& f : *first) EXPECT_NE(key_bytes(c.key), key_bytes(f.key));
  // "static": the previous offer as it was, whatever the flags say now.
  auto stat = make_sdes_offer(flags_of({"static", "only-AES_CM_128_HMAC_SHA1_32"}), &*first);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(rendered(*stat), rendered(*first));
}

// --- answers the relay receives --------------------------------------------------------

TEST(SdesAcceptAnswer, PairsKeys) {
  auto offer = make_sdes_offer({});
  ASSERT_TRUE(offer.ok());
  // The party picks tag 4 (AES_CM_128_HMAC_SHA1_80) with its own key.
  const std::string answer =
      "4 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
  std::vector<std::string_view> lines = {answer};
  auto s = accept_sdes_answer(*offer, lines);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tag, 4u);
  EXPECT_EQ(s->outbound, (*offer)[3].key);
  EXPECT_EQ(key_bytes(s->inbound),
            hex("e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6"));
}

TEST(SdesAcceptAnswer, Errors) {
  auto offer = make_sdes_offer(flags_of({"unencrypted_srtcp"}));
  ASSERT_TRUE(offer.ok());
  auto err = [&](std::vector<std::string_view> lines) {
    auto r = accept_sdes_answer(*offer, lines);
    EXPECT_FALSE(r.ok());
    return r.ok() ? SdesError::kSyntax : r.error();
  };
  const std::string key = " inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
  const std::string good = "4 AES_CM_128_HMAC_SHA1_80" + key + " UNENCRYPTED_SRTCP";
  EXPECT_TRUE(accept_sdes_answer(*offer, std::vector<std::string_view>{good}).ok());
  EXPECT_EQ(err({}), SdesError::kAnswerMismatch);
  EXPECT_EQ(err({good, good}), SdesError::kAnswerMismatch);
  EXPECT_EQ(err({"9 AES_CM_128_HMAC_SHA1_80" + key + " UNENCRYPTED_SRTCP"}),
            SdesError::kAnswerMismatch);  // tag never offered
  EXPECT_EQ(err({"4 AES_CM_128_HMAC_SHA1_32" + key + " UNENCRYPTED_SRTCP"}),
            SdesError::kAnswerMismatch);                                            // suite changed
  EXPECT_EQ(err({"4 AES_CM_128_HMAC_SHA1_80" + key}), SdesError::kAnswerMismatch);  // flag dropped
  EXPECT_EQ(err({"4 AES_CM_128_HMAC_SHA1_80 inline:!!!"}), SdesError::kBadBase64);
  EXPECT_EQ(err({"4 F8_128_HMAC_SHA1_80" + key}), SdesError::kUnknownSuite);
}

// --- offers the relay answers ------------------------------------------------------------

constexpr std::string_view kPeer80 =
    "1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
constexpr std::string_view kPeerGcm =
    "2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw";
constexpr std::string_view kPeer32 =
    "3 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

TEST(SdesAnswer, TakesThePartysFirstUsableLine) {
  // The party prefers AES-CM over GCM: its order wins, not ours.
  std::vector<std::string_view> offer = {"7 AES_192_CM_HMAC_SHA1_80 inline:xxxx", kPeer80,
                                         kPeerGcm};
  auto a = make_sdes_answer(offer, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->line.tag, 1u);
  EXPECT_EQ(a->line.key.suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(a->session.tag, 1u);
  // Flags restrict what the relay accepts.
  auto b = make_sdes_answer(offer, flags_of({"no-AES_CM_128_HMAC_SHA1_80"}));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->line.key.suite, SrtpSuite::kAeadAes128Gcm);
  EXPECT_EQ(b->line.tag, 2u);
  EXPECT_EQ(render_sdes_crypto(b->line).substr(0, 26), "2 AEAD_AES_128_GCM inline:");
  auto c = make_sdes_answer(std::vector<std::string_view>{kPeer80, kPeer32},
                            flags_of({"only-AES_CM_128_HMAC_SHA1_32"}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->line.tag, 3u);
}

TEST(SdesAnswer, EchoesSessionParametersAndLifetime) {
  std::string line = std::string(kPeer80) + " UNENCRYPTED_SRTCP WSH=256";
  auto a = make_sdes_answer(std::vector<std::string_view>{line}, flags_of({"lifetime"}));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->line.key.flags.unencrypted_srtcp);
  EXPECT_TRUE(a->session.inbound.flags.unencrypted_srtcp);
  std::string r = render_sdes_crypto(a->line);
  EXPECT_TRUE(r.ends_with("|2^31 UNENCRYPTED_SRTCP")) << r;  // WSH is the party's own hint
}

TEST(SdesAnswer, Errors) {
  auto err = [](std::vector<std::string_view> offer, SdesFlags f = {}) {
    auto r = make_sdes_answer(offer, f);
    EXPECT_FALSE(r.ok());
    return r.ok() ? SdesError::kSyntax : r.error();
  };
  EXPECT_EQ(err({}), SdesError::kNoAcceptableCrypto);
  EXPECT_EQ(err({"1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm"}),
            SdesError::kNoAcceptableCrypto);  // unknown suites are skipped, not errors
  EXPECT_EQ(err({"1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi!DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"}),
            SdesError::kBadBase64);
  EXPECT_EQ(err({"1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw"}),
            SdesError::kBadKeyLength);
  EXPECT_EQ(err({"x AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm"}),
            SdesError::kBadTag);
  EXPECT_EQ(err({std::string(kPeer80) + " KDR=3"}), SdesError::kNoAcceptableCrypto);
  EXPECT_EQ(err({kPeer80}, flags_of({"off"})), SdesError::kNoAcceptableCrypto);
  EXPECT_EQ(err({kPeer80}, flags_of({"only-AEAD_AES_256_GCM"})), SdesError::kNoAcceptableCrypto);
  // A broken line followed by a good one: the good one is taken.
  auto ok = make_sdes_answer(
      std::vector<std::string_view>{"1 AES_CM_128_HMAC_SHA1_80 inline:!!", kPeerGcm}, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->line.tag, 2u);
}

TEST(SdesAnswer, ReofferKeepsTheRelayKeyOnlyWhileThePartyKeepsItsOwn) {
  auto first = make_sdes_answer(std::vector<std::string_view>{kPeer80, kPeerGcm}, {});
  ASSERT_TRUE(first.ok());
  // The same line again (an unchanged re-INVITE): the answer is unchanged.
  auto same = make_sdes_answer(std::vector<std::string_view>{kPeer80, kPeerGcm}, {}, &*first);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->session.outbound, first->session.outbound);
  EXPECT_EQ(same->session.inbound, first->session.inbound);
  EXPECT_EQ(render_sdes_crypto(same->line), render_sdes_crypto(first->line));
  // The party re-offers the same suite and tag with a new key: its flows get
  // new contexts, so the relay's key is new too (never a fresh outbound
  // context under a key that already protected packets).
  const std::string rekeyed =
      "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
  auto second = make_sdes_answer(std::vector<std::string_view>{rekeyed}, {}, &*first);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->session.inbound, first->session.inbound);
  EXPECT_EQ(second->line.tag, first->line.tag);
  EXPECT_EQ(second->line.key.suite, first->line.key.suite);
  EXPECT_NE(key_bytes(second->session.outbound), key_bytes(first->session.outbound));
  // It switches suite: the relay's key is new too.
  auto third = make_sdes_answer(std::vector<std::string_view>{kPeerGcm}, {}, &*second);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->line.key.suite, SrtpSuite::kAeadAes128Gcm);
  EXPECT_NE(key_bytes(third->session.outbound), key_bytes(second->session.outbound));
}

TEST(SdesAnswer, StaticKeepsTheAcceptedLine) {
  auto first = make_sdes_answer(std::vector<std::string_view>{kPeer80, kPeerGcm}, {});
  ASSERT_TRUE(first.ok());
  // The party now lists GCM first but still offers the accepted line.
  std::vector<std::string_view> reordered = {kPeerGcm, kPeer80};
  auto plain = make_sdes_answer(reordered, {}, &*first);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->line.key.suite, SrtpSuite::kAeadAes128Gcm);  // full negotiation again
  auto stat = make_sdes_answer(reordered, flags_of({"static"}), &*first);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->line.tag, 1u);
  EXPECT_EQ(stat->session.inbound, first->session.inbound);
  EXPECT_EQ(stat->session.outbound, first->session.outbound);
  // Once the accepted line is gone, "static" negotiates afresh.
  auto gone =
      make_sdes_answer(std::vector<std::string_view>{kPeerGcm}, flags_of({"static"}), &*first);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->line.tag, 2u);
}

// --- keys ---------------------------------------------------------------------------------

TEST(SdesKeys, GeneratedKeysAreFreshAndSized) {
  std::set<std::vector<uint8_t>> seen;
  for (const auto& info : kSrtpSuites) {
    for (int i = 0; i < 20; ++i) {
      auto k = generate_srtp_key(info.suite);
      ASSERT_TRUE(k.ok());
      EXPECT_EQ(k->key_salt_length, info.key_length + info.salt_length);
      EXPECT_TRUE(k->valid());
      EXPECT_TRUE(seen.insert(key_bytes(*k)).second);
      // Bytes past the key stay zero (nothing else leaks into the struct).
      for (size_t j = k->key_salt_length; j < k->key_salt.size(); ++j) EXPECT_EQ(k->key_salt[j], 0);
    }
  }
  uint8_t a[32] = {}, b[32] = {};
  ASSERT_TRUE(random_bytes(a));
  ASSERT_TRUE(random_bytes(b));
  EXPECT_NE(std::vector<uint8_t>(a, a + 32), std::vector<uint8_t>(b, b + 32));
  EXPECT_TRUE(random_bytes({}));
}

TEST(SdesKeys, WipeClearsKeyMaterial) {
  auto k = generate_srtp_key(SrtpSuite::kAeadAes256Gcm);
  ASSERT_TRUE(k.ok());
  k->wipe();
  for (uint8_t b : k->key_salt) EXPECT_EQ(b, 0);
  EXPECT_FALSE(k->valid());
}

// --- one SRTP call setup, end to end ---------------------------------------------------------

// Party A offers SRTP to the relay; the relay offers SRTP to party B (another
// instance of the same logic answers for B). Every key pairing is proven by
// protecting with one side's stream and unprotecting with the other's.
TEST(SdesCallSetup, KeysPairUpAcrossBothSides) {
  using dataplane::SrtpDirection;
  using dataplane::SrtpStream;
  // A -> relay.
  auto a_offer = make_sdes_offer(flags_of({"only-AES_CM_128_HMAC_SHA1_80"}));
  ASSERT_TRUE(a_offer.ok());
  std::vector<std::string> a_lines = rendered(*a_offer);
  std::vector<std::string_view> a_views(a_lines.begin(), a_lines.end());
  auto relay_to_a = make_sdes_answer(a_views, {});
  ASSERT_TRUE(relay_to_a.ok());
  std::string relay_answer = render_sdes_crypto(relay_to_a->line);
  auto a_session = accept_sdes_answer(*a_offer, std::vector<std::string_view>{relay_answer});
  ASSERT_TRUE(a_session.ok());
  // relay -> B.
  auto relay_offer = make_sdes_offer({});
  ASSERT_TRUE(relay_offer.ok());
  std::vector<std::string> b_lines = rendered(*relay_offer);
  std::vector<std::string_view> b_views(b_lines.begin(), b_lines.end());
  auto b_answer = make_sdes_answer(b_views, {});
  ASSERT_TRUE(b_answer.ok());
  EXPECT_EQ(b_answer->line.key.suite, SrtpSuite::kAeadAes256Gcm);  // B takes our first
  std::string b_line = render_sdes_crypto(b_answer->line);
  auto relay_b = accept_sdes_answer(*relay_offer, std::vector<std::string_view>{b_line});
  ASSERT_TRUE(relay_b.ok());

  // The four relay contexts of the call, and the parties' own.
  auto mk = [](const SrtpKey& k, SrtpDirection d) {
    auto s = SrtpStream::create(k, d);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  };
  SrtpStream relay_in_a = mk(relay_to_a->session.inbound, SrtpDirection::kInbound);
  SrtpStream relay_out_a = mk(relay_to_a->session.outbound, SrtpDirection::kOutbound);
  SrtpStream relay_in_b = mk(relay_b->inbound, SrtpDirection::kInbound);
  SrtpStream relay_out_b = mk(relay_b->outbound, SrtpDirection::kOutbound);
  SrtpStream a_out = mk(a_session->outbound, SrtpDirection::kOutbound);
  SrtpStream a_in = mk(a_session->inbound, SrtpDirection::kInbound);
  SrtpStream b_out = mk(b_answer->session.outbound, SrtpDirection::kOutbound);
  SrtpStream b_in = mk(b_answer->session.inbound, SrtpDirection::kInbound);

  std::vector<uint8_t> rtp = hex("80001f4c0007d0a03c5a8e11");
  rtp.resize(172, 0xd5);
  auto hop = [&](SrtpStream& out, SrtpStream& in, std::vector<uint8_t> pkt) {
    size_t n = pkt.size();
    pkt.resize(n + dataplane::kSrtpMaxRtpTrailer);
    auto p = out.protect_rtp(pkt.data(), n, pkt.size());
    EXPECT_TRUE(p.ok());
    auto u = in.unprotect_rtp(pkt.data(), p.ok() ? *p : 0);
    EXPECT_TRUE(u.ok());
    pkt.resize(u.ok() ? *u : 0);
    return pkt;
  };
  // A -> relay -> B (re-encrypted with other keys), and back.
  EXPECT_EQ(hop(relay_out_b, b_in, hop(a_out, relay_in_a, rtp)), rtp);
  EXPECT_EQ(hop(relay_out_a, a_in, hop(b_out, relay_in_b, rtp)), rtp);
}

}  // namespace
}  // namespace vox::control
