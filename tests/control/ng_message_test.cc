// Tests for control/ng_message.cc: datagram framing (cookie rules, encoding
// detection), body decoding with the dictionary requirement, and reply
// framing in the request's encoding.
#include "control/ng_message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace vox::control {
namespace {

using namespace std::string_literals;

// Kamailio's cookie is "<pid>_<counter>"; the body is a hand-checked offer.
const std::string kOfferDatagram =
    "2731_3 d7:call-id26:9f3b2c1a@192.168.1.20:50608:from-tag8:as7c1d2e"
    "3:sdp132:v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n"
    "m=audio 7078 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    "5:flagsl13:trust-addresse7:replacel6:origine7:command5:offere";

TEST(NgMessage, SplitsBencodePing) {
  auto req = split_ng_datagram("5281_1 d7:command4:pinge");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->cookie, "5281_1");
  EXPECT_EQ(req->body, "d7:command4:pinge");
  EXPECT_EQ(req->encoding, NgEncoding::kBencode);
  auto body = decode_ng_body(*req);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->find_string("command"), "ping");
}

TEST(NgMessage, SplitsJson) {
  auto req = split_ng_datagram(R"(abc {"command":"ping"})");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->cookie, "abc");
  EXPECT_EQ(req->encoding, NgEncoding::kJson);
  auto body = decode_ng_body(*req);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->find_string("command"), "ping");
}

TEST(NgMessage, DecodesKamailioOffer) {
  auto req = split_ng_datagram(kOfferDatagram);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->cookie, "2731_3");
  auto body = decode_ng_body(*req);
  ASSERT_TRUE(body.ok()) << to_string(body.error());
  EXPECT_EQ(body->find_string("command"), "offer");
  EXPECT_EQ(body->find_string("call-id"), "9f3b2c1a@192.168.1.20:5060");
  EXPECT_EQ(body->find_string("from-tag"), "as7c1d2e");
  EXPECT_EQ(body->find_strings("flags"), (std::vector<std::string_view>{"trust-address"}));
  EXPECT_TRUE(body->find_string("sdp")->ends_with("telephone-event/8000\r\n"));
}

TEST(NgMessage, CookieRules) {
  EXPECT_FALSE(split_ng_datagram("").has_value());
  EXPECT_FALSE(split_ng_datagram("d7:command4:pinge").has_value());  // no cookie at all
  EXPECT_FALSE(split_ng_datagram(" d7:command4:pinge").has_value());  // empty cookie
  EXPECT_FALSE(split_ng_datagram("ab\ncd d7:command4:pinge").has_value());
  EXPECT_FALSE(split_ng_datagram("ab\tcd de").has_value());
  EXPECT_FALSE(split_ng_datagram("ab\0cd de"s).has_value());
  EXPECT_FALSE(split_ng_datagram("ab\x7f" "cd de").has_value());
  EXPECT_TRUE(split_ng_datagram(std::string(256, 'c') + " de").has_value());
  EXPECT_FALSE(split_ng_datagram(std::string(257, 'c') + " de").has_value());
  // Cookies are opaque: any printable or non-ASCII byte is fine.
  auto req = split_ng_datagram("\xc3\xa9-!{ de");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->cookie, "\xc3\xa9-!{");
  // Only the first space separates; the body may hold more spaces.
  req = split_ng_datagram("c  de");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, " de");
  EXPECT_EQ(decode_ng_body(*req).error(), DecodeError::kSyntax);
}

TEST(NgMessage, EmptyBodyKeepsCookieButFailsToDecode) {
  auto req = split_ng_datagram("cookie ");
  ASSERT_TRUE(req.has_value());  // an error reply can still be sent
  EXPECT_EQ(req->cookie, "cookie");
  EXPECT_TRUE(req->body.empty());
  EXPECT_EQ(req->encoding, NgEncoding::kEmpty);
  auto body = decode_ng_body(*req);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error(), DecodeError::kTruncated);
}

TEST(NgMessage, BodyMustBeADictionary) {
  for (const char* dgram : {"c le", "c i1e", "c 4:ping", "c l7:command4:pinge"}) {
    auto req = split_ng_datagram(dgram);
    ASSERT_TRUE(req.has_value());
    auto body = decode_ng_body(*req);
    ASSERT_FALSE(body.ok()) << dgram;
    EXPECT_EQ(body.error(), DecodeError::kNotDict) << dgram;
  }
  // A JSON array starts with neither 'd' nor '{': no known encoding.
  auto req = split_ng_datagram(R"(c ["ping"])");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->encoding, NgEncoding::kUnknown);
  EXPECT_EQ(decode_ng_body(*req).error(), DecodeError::kSyntax);
}

TEST(NgMessage, DecodeErrorsPropagate) {
  auto bad_json = split_ng_datagram(R"(c {"command":)");
  ASSERT_TRUE(bad_json.has_value());
  EXPECT_EQ(decode_ng_body(*bad_json).error(), DecodeError::kTruncated);
  auto trailing = split_ng_datagram("c d7:command4:pingee");
  ASSERT_TRUE(trailing.has_value());
  EXPECT_EQ(decode_ng_body(*trailing).error(), DecodeError::kTrailingData);
}

TEST(NgMessage, ErrorReasonsUseRtpengineWording) {
  EXPECT_STREQ(to_string(ng_decode_error(NgEncoding::kBencode)), "Could not decode bencode dictionary");
  EXPECT_STREQ(to_string(ng_decode_error(NgEncoding::kJson)), "Failed to parse JSON document");
  EXPECT_STREQ(to_string(ng_decode_error(NgEncoding::kEmpty)), "Invalid data (no payload)");
  EXPECT_STREQ(to_string(ng_decode_error(NgEncoding::kUnknown)), "Invalid NG data format");
  for (const char* dgram : {"c le", "c l7:command4:pinge", "c i1e", "c 4:ping"})
    EXPECT_EQ(split_ng_datagram(dgram)->encoding, NgEncoding::kUnknown) << dgram;
  EXPECT_EQ(split_ng_datagram("c d7:command4:pinge")->encoding, NgEncoding::kBencode);
}

TEST(NgMessage, FramesReplies) {
  NgValue pong = NgValue::dict();
  pong.set("result", "pong");
  EXPECT_EQ(frame_ng_reply("5281_1", pong, NgEncoding::kBencode), "5281_1 d6:result4:ponge");
  EXPECT_EQ(frame_ng_reply("abc", pong, NgEncoding::kJson), R"(abc {"result":"pong"})");
  NgValue err = NgValue::dict();
  err.set("result", "error");
  err.set("error-reason", to_string(ng_decode_error(NgEncoding::kBencode)));
  EXPECT_EQ(frame_ng_reply("k", err, NgEncoding::kBencode),
            "k d6:result5:error12:error-reason35:Could not decode bencode dictionarye");
}

TEST(NgMessage, ReplyRoundTripsThroughSplit) {
  NgValue reply = NgValue::dict();
  reply.set("result", "ok");
  reply.set("sdp", "v=0\r\nm=audio 40000 RTP/AVP 0\r\n");
  for (auto enc : {NgEncoding::kBencode, NgEncoding::kJson}) {
    const std::string dgram = frame_ng_reply("7_9", reply, enc);
    auto req = split_ng_datagram(dgram);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->cookie, "7_9");
    EXPECT_EQ(req->encoding, enc);
    auto back = decode_ng_body(*req);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, reply);
  }
}

TEST(NgMessage, EveryPrefixFailsCleanly) {
  for (size_t n = 0; n < kOfferDatagram.size(); ++n) {
    auto req = split_ng_datagram(std::string_view(kOfferDatagram).substr(0, n));
    if (n <= 6) {  // "2731_3" and no space yet
      EXPECT_FALSE(req.has_value()) << n;
      continue;
    }
    ASSERT_TRUE(req.has_value()) << n;
    EXPECT_FALSE(decode_ng_body(*req).ok()) << n;
  }
}

TEST(NgMessage, JunkDatagram60k) {
  std::mt19937 rng(1234);
  std::string junk(60 * 1024, '\0');
  for (int round = 0; round < 20; ++round) {
    for (auto& c : junk) c = char(rng());
    auto req = split_ng_datagram(junk);
    if (req) {
      EXPECT_FALSE(decode_ng_body(*req).ok());
    }
    // Same junk behind a valid cookie, as bencode and as JSON.
    const std::string with_cookie = "c1 " + junk;
    req = split_ng_datagram(with_cookie);
    ASSERT_TRUE(req.has_value());
    EXPECT_FALSE(decode_ng_body(*req).ok());
    const std::string as_json = "c1 {" + junk;
    req = split_ng_datagram(as_json);
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->encoding, NgEncoding::kJson);
    EXPECT_FALSE(decode_ng_body(*req).ok());
  }
}

}  // namespace
}  // namespace vox::control
