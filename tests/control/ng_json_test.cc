// Tests for control/ng_json.cc: the JSON <-> NgValue mapping documented in
// ng_json.h, key order, DecodeLimits, error classification, and encoding of
// byte strings that are not UTF-8.
#include "control/ng_json.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace vox::control {
namespace {

using namespace std::string_literals;

// A JSON offer as rtpengine's own test clients and some WebRTC gateways send it.
const std::string kJsonOffer =
    R"({"command":"offer","call-id":"c1@host","from-tag":"ft1",)"
    R"("sdp":"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n)"
    R"(m=audio 30000 RTP/AVP 0\r\n",)"
    R"("flags":["trust-address","SIP source address"],"replace":["origin"],)"
    R"("transport-protocol":"RTP/AVP","received from":["IP4","203.0.113.9"],)"
    R"("codec":{"transcode":["opus"],"strip":["all"]},"ptime":20,"record call":false})";

DecodeError error_of(std::string_view in, DecodeLimits limits = {}) {
  auto r = decode_json(in, limits);
  EXPECT_FALSE(r.ok()) << "unexpectedly decoded: " << std::string(in.substr(0, 80));
  return r.ok() ? DecodeError::kNotDict : r.error();
}

TEST(NgJson, DecodesOfferKeepingKeyOrder) {
  auto r = decode_json(kJsonOffer);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const NgValue& m = *r;
  ASSERT_TRUE(m.is_dict());
  const auto& d = m.as_dict();
  ASSERT_EQ(d.size(), 11u);
  EXPECT_EQ(d[0].first, "command");
  EXPECT_EQ(d[1].first, "call-id");
  EXPECT_EQ(d[10].first, "record call");
  EXPECT_EQ(m.find_string("command"), "offer");
  EXPECT_EQ(m.find_string("sdp")->substr(0, 5), "v=0\r\n");
  EXPECT_EQ(m.find_string("transport protocol"), "RTP/AVP");
  EXPECT_EQ(m.find_strings("received-from"), (std::vector<std::string_view>{"IP4", "203.0.113.9"}));
  EXPECT_EQ(m.find("ptime")->as_integer(), 20);
  EXPECT_EQ(m.find_scalar("ptime"), "20");
  EXPECT_EQ(m.find("record-call")->as_integer(), 0);
  const NgValue* codec = m.find("codec");
  ASSERT_NE(codec, nullptr);
  EXPECT_EQ(codec->find_strings("transcode"), (std::vector<std::string_view>{"opus"}));
  EXPECT_EQ(codec->as_dict()[1].first, "strip");
}

TEST(NgJson, ScalarMapping) {
  auto r = decode_json(
      R"([true,false,null,-3,1.5,1e3,9223372036854775807,18446744073709551615,-9223372036854775809,"\u00e9\n"])");
  ASSERT_TRUE(r.ok());
  const auto& l = r->as_list();
  ASSERT_EQ(l.size(), 10u);
  EXPECT_EQ(l[0], NgValue::integer(1));
  EXPECT_EQ(l[1], NgValue::integer(0));
  EXPECT_EQ(l[2], NgValue::str(""));
  EXPECT_EQ(l[3], NgValue::integer(-3));
  // Non-integral numbers, and integers beyond int64, keep their text.
  EXPECT_EQ(l[4], NgValue::str("1.5"));
  EXPECT_EQ(l[5], NgValue::str("1e3"));
  EXPECT_EQ(l[6], NgValue::integer(INT64_MAX));
  EXPECT_EQ(l[7], NgValue::str("18446744073709551615"));
  EXPECT_EQ(l[8], NgValue::str("-9223372036854775809"));
  EXPECT_EQ(l[9], NgValue::str("\xc3\xa9\n"));
}

TEST(NgJson, EncodesCompactInInsertionOrder) {
  NgValue reply = NgValue::dict();
  reply.set("result", "ok");
  reply.set("sdp", "v=0\r\n\"q\"");
  reply.set("created", int64_t{1717236000});
  reply.set("tags", NgValue::list()).push(NgValue::str("a"));
  reply.set("stats", NgValue::dict());
  EXPECT_EQ(encode_json(reply),
            R"({"result":"ok","sdp":"v=0\r\n\"q\"","created":1717236000,"tags":["a"],"stats":{}})");
}

TEST(NgJson, EncodingNonUtf8DoesNotThrow) {
  NgValue v = NgValue::dict();
  v.set("bin", "a\xff\xfe" "b\x80"s);
  std::string out;
  ASSERT_NO_THROW(out = encode_json(v));
  // Invalid bytes become U+FFFD, the rest is kept.
  EXPECT_NE(out.find("a\xEF\xBF\xBD"), std::string::npos) << out;
  EXPECT_NE(out.find("b\xEF\xBF\xBD"), std::string::npos) << out;
  EXPECT_TRUE(decode_json(out).ok());
}

TEST(NgJson, DuplicateKeysEncodeFirstValue) {
  auto r = decode_json(R"({"a":1,"b":2,"a":3})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_dict().size(), 3u);
  EXPECT_EQ(r->find("a")->as_integer(), 1);
  EXPECT_EQ(encode_json(*r), R"({"a":1,"b":2})");
}

TEST(NgJson, RoundTrip) {
  NgValue v = NgValue::dict();
  v.set("command", "query");
  v.set("n", int64_t{-42});
  v.set("control", "\x01\t\"\\/"s);
  v.set("nested", NgValue::dict()).set("list", NgValue::list()).push(NgValue::list());
  v.set("empty", "");
  auto again = decode_json(encode_json(v));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, v);
  auto offer = decode_json(kJsonOffer);
  ASSERT_TRUE(offer.ok());
  auto offer_again = decode_json(encode_json(*offer));
  ASSERT_TRUE(offer_again.ok());
  EXPECT_EQ(*offer_again, *offer);
}

TEST(NgJson, Errors) {
  EXPECT_EQ(error_of(""), DecodeError::kTruncated);
  EXPECT_EQ(error_of("{"), DecodeError::kTruncated);
  EXPECT_EQ(error_of(R"({"a":)"), DecodeError::kTruncated);
  EXPECT_EQ(error_of(R"({"a":"b)"), DecodeError::kTruncated);
  EXPECT_EQ(error_of(R"({x})"), DecodeError::kSyntax);
  EXPECT_EQ(error_of(R"({"a":1,})"), DecodeError::kSyntax);
  EXPECT_EQ(error_of(R"({"a":tru})"), DecodeError::kSyntax);
  EXPECT_EQ(error_of("{\"a\":\"\xff\"}"), DecodeError::kSyntax);  // invalid UTF-8 in the text
  EXPECT_EQ(error_of("{\"a\":\"\n\"}"), DecodeError::kSyntax);    // raw control byte in a string
  EXPECT_EQ(error_of(R"({} x)"), DecodeError::kTrailingData);
  EXPECT_EQ(error_of(R"({}{})"), DecodeError::kTrailingData);
  EXPECT_TRUE(decode_json("{}\n").ok());  // trailing whitespace is JSON
}

TEST(NgJson, DepthLimit) {
  auto nested = [](int n) { return std::string(size_t(n), '[') + std::string(size_t(n), ']'); };
  EXPECT_TRUE(decode_json(nested(32)).ok());
  EXPECT_EQ(error_of(nested(33)), DecodeError::kTooDeep);
  EXPECT_EQ(error_of(nested(10000)), DecodeError::kTooDeep);
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += R"({"a":)";
  EXPECT_EQ(error_of(objects), DecodeError::kTooDeep);
  EXPECT_EQ(error_of("[[]]", DecodeLimits{.max_depth = 1}), DecodeError::kTooDeep);
}

TEST(NgJson, ElementLimit) {
  const DecodeLimits three{.max_elements = 3};
  EXPECT_TRUE(decode_json(R"({"a":1,"b":[]})", three).ok());
  EXPECT_EQ(error_of(R"({"a":1,"b":[null]})", three), DecodeError::kTooLarge);
}

TEST(NgJson, EveryPrefixFails) {
  for (size_t n = 0; n < kJsonOffer.size(); ++n) {
    auto r = decode_json(std::string_view(kJsonOffer).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix " << n;
    EXPECT_EQ(r.error(), DecodeError::kTruncated) << "prefix " << n;
  }
}

TEST(NgJson, JunkFailsCleanly) {
  std::mt19937 rng(7);
  std::string junk(60 * 1024, '\0');
  for (auto& c : junk) c = char(rng());
  junk[0] = '{';
  EXPECT_FALSE(decode_json(junk).ok());
}

}  // namespace
}  // namespace vox::control
