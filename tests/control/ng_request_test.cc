// parse_signal (control/ng_request.cc): the keys and flags rtpengine 10.5
// takes beside the core ones, read into SignalRequest; unknown values are
// ignored, never an error.
#include "control/ng_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vox::control {
namespace {

NgValue strings(std::vector<std::string> items) {
  NgValue l = NgValue::list();
  for (auto& s : items) l.push(NgValue::str(std::move(s)));
  return l;
}

NgValue offer() {
  NgValue d = NgValue::dict();
  d.set("command", "offer");
  d.set("call-id", "c");
  d.set("from-tag", "A");
  d.set("sdp", "v=0\r\n");
  return d;
}

SignalRequest parsed(const NgValue& d) {
  auto r = parse_signal(d, false);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : SignalRequest{};
}

TEST(NgRequest, ReplaceZeroAddressInBothSpellings) {
  NgValue d = offer();
  EXPECT_FALSE(parsed(d).replace_zero_address);
  d.set("replace", strings({"origin", "zero-address"}));
  EXPECT_TRUE(parsed(d).replace_zero_address);
  d = offer();
  d.set("flags", strings({"replace-zero-address"}));
  EXPECT_TRUE(parsed(d).replace_zero_address);
}

TEST(NgRequest, PadCryptoIsSdesPad) {
  NgValue d = offer();
  d.set("flags", strings({"pad-crypto"}));
  EXPECT_TRUE(parsed(d).sdes.pad);
}

TEST(NgRequest, SdesFlagsOfBothFormsAndUnknownOnesIgnored) {
  NgValue d = offer();
  d.set("SDES", strings({"nonew", "sometimes", "order:AES_CM_128_HMAC_SHA1_32"}));
  d.set("flags", strings({"SDES-prefer", "SDES-bogus"}));
  const SignalRequest r = parsed(d);
  EXPECT_TRUE(r.sdes.nonew);
  EXPECT_TRUE(r.sdes.prefer);
  EXPECT_EQ(r.sdes.order, std::vector<dataplane::SrtpSuite>{dataplane::SrtpSuite::kAesCm128HmacSha1_32});
}

// "TOS" as rtpengine reads it: 0..255 the call's, negative unchanged,
// absent or 256 and over the default; not a number, ignored.
TEST(NgRequest, TosValues) {
  NgValue d = offer();
  EXPECT_EQ(parsed(d).tos, SignalRequest::kTosDefault);
  d.set("TOS", int64_t(184));
  EXPECT_EQ(parsed(d).tos, 184);
  d.set("TOS", int64_t(0));
  EXPECT_EQ(parsed(d).tos, 0);
  d.set("TOS", int64_t(-1));
  EXPECT_EQ(parsed(d).tos, SignalRequest::kTosKeep);
  d.set("TOS", int64_t(256));
  EXPECT_EQ(parsed(d).tos, SignalRequest::kTosDefault);
  d.set("TOS", "46");
  EXPECT_EQ(parsed(d).tos, 46);
  d.set("TOS", "EF");
  EXPECT_EQ(parsed(d).tos, SignalRequest::kTosDefault);
}

TEST(NgRequest, MediaAddressAndFamilyIgnoredWhenMalformed) {
  NgValue d = offer();
  d.set("media address", "203.0.113.9");
  d.set("address family", "IP6");
  SignalRequest r = parsed(d);
  EXPECT_EQ(r.media_address, IpAddr::parse("203.0.113.9"));
  EXPECT_EQ(r.address_family, AF_INET6);
  d.set("media-address", "nowhere");
  d.set("address-family", "IP5");
  r = parsed(d);
  EXPECT_FALSE(r.media_address);
  EXPECT_FALSE(r.address_family);
}

}  // namespace
}  // namespace vox::control
