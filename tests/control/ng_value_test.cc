// Tests for control/ng_value.cc: rtpengine's key/flag spelling rules and the
// dictionary and list helpers the command handlers rely on.
#include "control/ng_value.h"

#include <gtest/gtest.h>

namespace vox::control {
namespace {

TEST(NgValue, NameEqualityFollowsNgSpellingRules) {
  EXPECT_TRUE(ng_name_equal("transport protocol", "transport-protocol"));
  EXPECT_TRUE(ng_name_equal("transport protocol", "transport_protocol"));
  EXPECT_TRUE(ng_name_equal("Transport-Protocol", "TRANSPORT PROTOCOL"));
  EXPECT_TRUE(ng_name_equal("received from", "received-from"));
  EXPECT_TRUE(ng_name_equal("SIP source address", "sip-source-address"));
  EXPECT_TRUE(ng_name_equal("", ""));
  EXPECT_FALSE(ng_name_equal("from-tag", "to-tag"));
  EXPECT_FALSE(ng_name_equal("call-id", "call-i"));
  EXPECT_FALSE(ng_name_equal("callid", "call-id"));
  EXPECT_FALSE(ng_name_equal("a.b", "a-b"));  // only ' ', '-', '_' fold together
  // Only ASCII letters fold: a UTF-8 byte sequence is compared as is.
  EXPECT_FALSE(ng_name_equal("\xc3\xa9", "\xc3\x89"));
}

TEST(NgValue, DefaultAndFactories) {
  NgValue v;
  EXPECT_TRUE(v.is_string());
  EXPECT_EQ(v.as_string(), "");
  EXPECT_EQ(NgValue::integer(5).type(), NgValue::Type::Integer);
  EXPECT_EQ(NgValue::list().type(), NgValue::Type::List);
  EXPECT_EQ(NgValue::dict().type(), NgValue::Type::Dict);
  EXPECT_NE(NgValue::str("1"), NgValue::integer(1));
  EXPECT_NE(NgValue::list(), NgValue::dict());
}

TEST(NgValue, FindUsesSpellingRules) {
  NgValue m = NgValue::dict();
  m.set("transport protocol", "RTP/SAVP");
  m.set("delete delay", int64_t{30});
  m.set("flags", NgValue::list());
  EXPECT_EQ(m.find_string("transport-protocol"), "RTP/SAVP");
  EXPECT_EQ(m.find_string("TRANSPORT_PROTOCOL"), "RTP/SAVP");
  EXPECT_EQ(m.find("delete-delay")->as_integer(), 30);
  EXPECT_EQ(m.find("missing"), nullptr);
  EXPECT_EQ(m.find_string("delete delay"), std::nullopt);  // an integer, not a string
  EXPECT_EQ(NgValue::str("x").find("x"), nullptr);         // not a dict
  EXPECT_EQ(NgValue::list().find_string("x"), std::nullopt);
}

TEST(NgValue, FindScalarAcceptsStringOrInteger) {
  NgValue m = NgValue::dict();
  m.set("ptime", int64_t{-20});
  m.set("delete delay", "5");
  m.set("codec", NgValue::dict());
  EXPECT_EQ(m.find_scalar("ptime"), "-20");
  EXPECT_EQ(m.find_scalar("delete-delay"), "5");
  EXPECT_EQ(m.find_scalar("codec"), std::nullopt);
  EXPECT_EQ(m.find_scalar("absent"), std::nullopt);
}

TEST(NgValue, FindStrings) {
  NgValue m = NgValue::dict();
  NgValue& flags = m.set("flags", NgValue::list());
  flags.push(NgValue::str("trust-address"));
  flags.push(NgValue::integer(7));  // ignored: not a string
  flags.push(NgValue::str("symmetric"));
  m.set("direction", "internal");
  EXPECT_EQ(m.find_strings("FLAGS"), (std::vector<std::string_view>{"trust-address", "symmetric"}));
  EXPECT_EQ(m.find_strings("direction"), (std::vector<std::string_view>{"internal"}));
  EXPECT_TRUE(m.find_strings("replace").empty());
  m.set("n", int64_t{1});
  EXPECT_TRUE(m.find_strings("n").empty());
}

TEST(NgValue, SetReplacesSameNormalizedKeyInPlace) {
  NgValue m = NgValue::dict();
  m.set("a", "1");
  m.set("received from", "x");
  m.set("b", "2");
  m.set("Received-From", "y");
  const auto& d = m.as_dict();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[1].first, "received from");  // original spelling and position kept
  EXPECT_EQ(d[1].second.as_string(), "y");
  NgValue& returned = m.set("c", int64_t{3});
  EXPECT_EQ(returned.as_integer(), 3);
  EXPECT_EQ(m.as_dict().back().first, "c");
}

TEST(NgValue, SetAndPushConvertTheValue) {
  NgValue v = NgValue::str("not a dict");
  v.set("k", "v");
  ASSERT_TRUE(v.is_dict());
  EXPECT_EQ(v.find_string("k"), "v");
  NgValue l = NgValue::integer(1);
  l.push(NgValue::str("x"));
  ASSERT_TRUE(l.is_list());
  EXPECT_EQ(l.as_list().size(), 1u);
}

TEST(NgValue, EqualityIsDeepAndOrderSensitive) {
  NgValue a = NgValue::dict();
  a.set("x", int64_t{1});
  a.set("y", NgValue::list()).push(NgValue::str("z"));
  NgValue b = NgValue::dict();
  b.set("x", int64_t{1});
  b.set("y", NgValue::list()).push(NgValue::str("z"));
  EXPECT_EQ(a, b);
  b.as_dict()[1].second.as_list()[0] = NgValue::str("w");
  EXPECT_NE(a, b);
  NgValue c = NgValue::dict();
  c.set("y", NgValue::list()).push(NgValue::str("z"));
  c.set("x", int64_t{1});
  EXPECT_NE(a, c);  // dicts are ordered: order is part of the message
}

TEST(NgValue, EndpointAsRtpengineWritesIt) {
  NgValue v = endpoint_value(*Endpoint::parse("192.0.2.10:4000"));
  EXPECT_EQ(v.find_string("family"), "IPv4");
  EXPECT_EQ(v.find_string("address"), "192.0.2.10");
  EXPECT_EQ(v.find_scalar("port"), "4000");
  // Not known yet: rtpengine's empty dict, not "::" port 0.
  EXPECT_TRUE(endpoint_value(Endpoint{}).as_dict().empty());
}

}  // namespace
}  // namespace vox::control
