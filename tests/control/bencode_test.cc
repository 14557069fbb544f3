// Tests for control/bencode.cc: golden NG messages, every DecodeError, the
// hostile-input limits (depth, element count, truncation, junk) and the
// encoder's insertion-order output.
#include "control/bencode.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>

namespace vox::control {
namespace {

using namespace std::string_literals;

// A Kamailio rtpengine_offer() body (flags "trust-address SIP-source-address
// symmetric replace-origin replace-session-connection ICE=remove RTP/AVP"),
// hand-checked: lengths counted, keys unsorted as Kamailio sends them.
const std::string kKamailioOffer =
    "d8:supportsl10:load limite3:sdp244:v=0\r\n"
    "o=- 3912345678 3912345678 IN IP4 192.168.1.20\r\n"
    "s=Linphone\r\n"
    "c=IN IP4 192.168.1.20\r\n"
    "t=0 0\r\n"
    "m=audio 7078 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "3:ICE6:remove5:flagsl13:trust-address18:SIP-source-address9:symmetrice"
    "7:replacel6:origin18:session-connectione18:transport protocol7:RTP/AVP"
    "7:call-id39:a84b4c76e66710@pc33.atlanta.example.com"
    "13:received froml3:IP411:203.0.113.7e8:from-tag10:1928301774"
    "7:command5:offere";

DecodeError error_of(std::string_view in, DecodeLimits limits = {}) {
  auto r = decode_bencode(in, limits);
  EXPECT_FALSE(r.ok()) << "unexpectedly decoded: " << std::string(in.substr(0, 80));
  return r.ok() ? DecodeError::kNotDict : r.error();
}

TEST(Bencode, DecodesScalars) {
  auto i = decode_bencode("i42e");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->as_integer(), 42);
  EXPECT_EQ(decode_bencode("i-7e")->as_integer(), -7);
  EXPECT_EQ(decode_bencode("i0e")->as_integer(), 0);
  EXPECT_EQ(decode_bencode("i9223372036854775807e")->as_integer(), INT64_MAX);
  EXPECT_EQ(decode_bencode("i-9223372036854775808e")->as_integer(), INT64_MIN);
  auto s = decode_bencode("4:spam");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->is_string());
  EXPECT_EQ(s->as_string(), "spam");
  EXPECT_EQ(decode_bencode("0:")->as_string(), "");
  EXPECT_TRUE(decode_bencode("le")->as_list().empty());
  EXPECT_TRUE(decode_bencode("de")->as_dict().empty());
}

TEST(Bencode, ByteStringsMayHoldAnyByte) {
  const std::string bytes = "\0\xff\r\ne:d"s;
  ASSERT_EQ(bytes.size(), 7u);
  auto r = decode_bencode("7:"s + bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_string(), bytes);
  EXPECT_EQ(encode_bencode(*r), "7:"s + bytes);
}

TEST(Bencode, DecodesKamailioOffer) {
  auto r = decode_bencode(kKamailioOffer);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const NgValue& m = *r;
  ASSERT_TRUE(m.is_dict());
  EXPECT_EQ(m.as_dict().size(), 10u);
  EXPECT_EQ(m.find_string("command"), "offer");
  EXPECT_EQ(m.find_string("call-id"), "a84b4c76e66710@pc33.atlanta.example.com");
  EXPECT_EQ(m.find_string("from-tag"), "1928301774");
  // Key spelling rules: sent with a space, looked up with a hyphen or in
  // another case.
  EXPECT_EQ(m.find_string("transport-protocol"), "RTP/AVP");
  EXPECT_EQ(m.find_string("Transport_Protocol"), "RTP/AVP");
  EXPECT_EQ(m.find_strings("received-from"), (std::vector<std::string_view>{"IP4", "203.0.113.7"}));
  EXPECT_EQ(m.find_strings("flags"),
            (std::vector<std::string_view>{"trust-address", "SIP-source-address", "symmetric"}));
  EXPECT_EQ(m.find_strings("replace"), (std::vector<std::string_view>{"origin", "session-connection"}));
  EXPECT_EQ(m.find_string("ice"), "remove");
  auto sdp = m.find_string("sdp");
  ASSERT_TRUE(sdp.has_value());
  EXPECT_EQ(sdp->size(), 244u);
  EXPECT_EQ(sdp->substr(0, 5), "v=0\r\n");
  EXPECT_TRUE(sdp->ends_with("a=sendrecv\r\n"));
  // Insertion order is kept, so re-encoding reproduces the wire bytes.
  EXPECT_EQ(m.as_dict().front().first, "supports");
  EXPECT_EQ(m.as_dict().back().first, "command");
  EXPECT_EQ(encode_bencode(m), kKamailioOffer);
}

TEST(Bencode, AcceptsUnsortedAndDuplicateKeys) {
  auto r = decode_bencode("d1:zi1e1:ai2e1:zi3ee");
  ASSERT_TRUE(r.ok());
  const auto& d = r->as_dict();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].first, "z");
  EXPECT_EQ(d[1].first, "a");
  EXPECT_EQ(r->find("z")->as_integer(), 1);  // first occurrence wins
  EXPECT_EQ(encode_bencode(*r), "d1:zi1e1:ai2e1:zi3ee");
}

TEST(Bencode, EncodesInInsertionOrder) {
  NgValue reply = NgValue::dict();
  reply.set("result", "ok");
  reply.set("sdp", "v=0\r\n");
  reply.set("warning", "odd");
  NgValue& totals = reply.set("totals", NgValue::dict());
  totals.set("packets", int64_t{-12});
  NgValue& tags = reply.set("tags", NgValue::list());
  tags.push(NgValue::str("a"));
  tags.push(NgValue::list());
  EXPECT_EQ(encode_bencode(reply),
            "d6:result2:ok3:sdp5:v=0\r\n7:warning3:odd6:totalsd7:packetsi-12ee4:tagsl1:aleee");
  std::string out = "cookie ";
  encode_bencode(NgValue::integer(INT64_MIN), out);
  EXPECT_EQ(out, "cookie i-9223372036854775808e");
}

TEST(Bencode, RoundTripsNestedValues) {
  NgValue v = NgValue::dict();
  v.set("a", NgValue::list()).push(NgValue::integer(0));
  v.set("b", NgValue::dict()).set("c", NgValue::dict()).set("d", "\0\x01"s);
  v.set("e", "");
  auto again = decode_bencode(encode_bencode(v));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, v);
}

TEST(Bencode, RejectsBadIntegers) {
  for (const char* in : {"ie", "i-e", "i-0e", "i03e", "i00e", "i-01e", "i+1e", "i1x2e", "i 1e", "i1.5e",
                         "i9223372036854775808e", "i-9223372036854775809e", "i99999999999999999999e"}) {
    EXPECT_EQ(error_of(in), DecodeError::kBadInteger) << in;
  }
}

TEST(Bencode, RejectsBadLengths) {
  EXPECT_EQ(error_of("5:abc"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("12"), DecodeError::kBadLength);  // cannot fit in 2 bytes of input
  EXPECT_EQ(error_of("03:abc"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("4x"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("4-:abcd"), DecodeError::kBadLength);
  // Huge prefixes are rejected before any allocation, including ones that
  // would overflow size_t.
  EXPECT_EQ(error_of("4294967296:x"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("18446744073709551615:x"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("99999999999999999999999999:x"), DecodeError::kBadLength);
  EXPECT_EQ(error_of("d3:key999:abce"), DecodeError::kBadLength);
}

TEST(Bencode, RejectsTruncatedInput) {
  for (const char* in : {"", "i", "i12", "i-", "i-1", "4", "l", "li1e", "d", "d3:key", "d3:keyi1e", "ll"}) {
    EXPECT_EQ(error_of(in), DecodeError::kTruncated) << in;
  }
}

TEST(Bencode, RejectsSyntaxErrors) {
  EXPECT_EQ(error_of("x"), DecodeError::kSyntax);
  EXPECT_EQ(error_of("e"), DecodeError::kSyntax);
  EXPECT_EQ(error_of("-1:a"), DecodeError::kSyntax);
  EXPECT_EQ(error_of("lxe"), DecodeError::kSyntax);
  EXPECT_EQ(error_of("di1ei2ee"), DecodeError::kSyntax);      // integer key
  EXPECT_EQ(error_of("dlei2ee"), DecodeError::kSyntax);       // list key
  EXPECT_EQ(error_of("d1:ae"), DecodeError::kSyntax);         // key without value
  EXPECT_EQ(error_of("d1:ai1e1:be"), DecodeError::kSyntax);
}

TEST(Bencode, RejectsTrailingData) {
  EXPECT_EQ(error_of("i1ei2e"), DecodeError::kTrailingData);
  EXPECT_EQ(error_of("de "), DecodeError::kTrailingData);
  EXPECT_EQ(error_of("dee"), DecodeError::kTrailingData);
  EXPECT_EQ(error_of("4:spam\n"), DecodeError::kTrailingData);
}

TEST(Bencode, DepthLimit) {
  const DecodeLimits limits;  // max_depth 32
  auto nested = [](int n) { return std::string(size_t(n), 'l') + std::string(size_t(n), 'e'); };
  EXPECT_TRUE(decode_bencode(nested(limits.max_depth)).ok());
  EXPECT_EQ(error_of(nested(limits.max_depth + 1)), DecodeError::kTooDeep);
  // 10000 levels must fail fast, without recursion (ASan would catch a
  // stack overflow here).
  EXPECT_EQ(error_of(nested(10000)), DecodeError::kTooDeep);
  EXPECT_EQ(error_of(std::string(10000, 'l')), DecodeError::kTooDeep);
  std::string dicts;
  for (int i = 0; i < 10000; ++i) dicts += "d1:a";
  EXPECT_EQ(error_of(dicts), DecodeError::kTooDeep);
  EXPECT_EQ(error_of("le", DecodeLimits{.max_depth = 0}), DecodeError::kTooDeep);
  EXPECT_TRUE(decode_bencode("i1e", DecodeLimits{.max_depth = 0}).ok());
  EXPECT_TRUE(decode_bencode("llee", DecodeLimits{.max_depth = 2}).ok());
  EXPECT_EQ(error_of("llleee", DecodeLimits{.max_depth = 2}), DecodeError::kTooDeep);
}

TEST(Bencode, ElementLimit) {
  const DecodeLimits three{.max_elements = 3};
  EXPECT_TRUE(decode_bencode("li1ei2ee", three).ok());  // list + 2 values
  EXPECT_EQ(error_of("li1ei2ei3ee", three), DecodeError::kTooLarge);
  EXPECT_TRUE(decode_bencode("d1:ai1e1:bi2ee", three).ok());  // keys are not values
  std::string big = "l";
  for (int i = 0; i < 100000; ++i) big += "0:";
  big += "e";
  EXPECT_EQ(error_of(big), DecodeError::kTooLarge);  // default max_elements
}

TEST(Bencode, EveryPrefixOfAValidMessageFails) {
  for (size_t n = 0; n < kKamailioOffer.size(); ++n) {
    auto r = decode_bencode(std::string_view(kKamailioOffer).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix " << n;
    // A cut in a string's length prefix or body reads as a bad length; any
    // other cut as truncation.
    EXPECT_TRUE(r.error() == DecodeError::kTruncated || r.error() == DecodeError::kBadLength)
        << "prefix " << n << ": " << to_string(r.error());
  }
}

TEST(Bencode, JunkDatagramFailsCleanly) {
  std::mt19937 rng(20240601);
  std::string junk(60 * 1024, '\0');
  for (int round = 0; round < 50; ++round) {
    for (auto& c : junk) c = char(rng());
    EXPECT_FALSE(decode_bencode(junk).ok());
  }
  // Junk that starts like a message: a list of many small strings ending in garbage.
  std::string almost = "l";
  while (almost.size() < 60 * 1024) almost += "3:abc";
  almost += "x";
  EXPECT_EQ(error_of(almost), DecodeError::kSyntax);
  // 60 KB of opening brackets.
  EXPECT_EQ(error_of(std::string(60 * 1024, 'd')), DecodeError::kSyntax);  // 'd' is not a string key
  EXPECT_EQ(error_of(std::string(60 * 1024, 'l')), DecodeError::kTooDeep);
}

TEST(Bencode, ErrorsHaveDistinctNames) {
  std::set<std::string> names;
  for (auto e : {DecodeError::kTruncated, DecodeError::kSyntax, DecodeError::kBadInteger, DecodeError::kBadLength,
                 DecodeError::kTooDeep, DecodeError::kTooLarge, DecodeError::kTrailingData, DecodeError::kNotDict}) {
    std::string s = to_string(e);
    EXPECT_FALSE(s.empty());
    names.insert(s);
  }
  EXPECT_EQ(names.size(), 8u);
}

}  // namespace
}  // namespace vox::control
