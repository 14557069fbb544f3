// The NG command table and the replies it gives on a fake dataplane: every
// command found under each spelling rtpengine accepts, unknown ones
// refused, the error-reason of each request error as rtpengine words it,
// and "load limit" only for the session limit and only to clients that
// say they support it.
#include "control/ng_commands.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "call_fixture.h"

namespace vox::control {
namespace {

constexpr const char* kSdp =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\n";

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string capitalized(std::string s) {
  s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

struct NgCommandsTest : testing::CallFixture<1> {
  NgValue handle(const NgValue& request) {
    NgContext ctx{*cm, now, *Endpoint::parse("127.0.0.1:5060")};
    return handle_ng_request(request, ctx);
  }
  NgValue command(const std::string& name) {
    NgValue d = NgValue::dict();
    d.set("command", name);
    return d;
  }
  NgValue offer(const std::string& call_id) {
    NgValue d = command("offer");
    d.set("call-id", call_id);
    d.set("from-tag", "A");
    d.set("sdp", kSdp);
    return d;
  }
  static NgValue strings(std::vector<std::string> items) {
    NgValue l = NgValue::list();
    for (auto& s : items) l.push(NgValue::str(std::move(s)));
    return l;
  }
  static std::string reason(const NgValue& reply) {
    EXPECT_EQ(reply.find_string("result"), "error");
    return std::string(reply.find_string("error-reason").value_or(""));
  }
};

TEST_F(NgCommandsTest, TableHoldsEveryCommandOnce) {
  std::vector<std::string> names;
  for (const NgCommand& c : ng_commands()) {
    names.emplace_back(c.name);
    EXPECT_NE(c.handler, nullptr) << c.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ping", "offer", "answer", "delete", "query", "list",
                                             "statistics", "drain", "takeover", "start recording",
                                             "stop recording", "pause recording"}));
}

// `takeover` asks the state store (ha/state_store.h) to bring up the calls
// it follows; without one (no --redis) it is an error.
TEST_F(NgCommandsTest, TakeoverGoesToTheStateStore) {
  EXPECT_EQ(reason(handle(command("takeover"))), "No call state in Redis (--redis) to take over");
  struct Store : CallManager::StateSink {
    int asked = 0;
    void changed(const Call&) override {}
    void gone(const std::string&) override {}
    size_t take_over(CallManager::Clock) override { return size_t(++asked) * 7; }
  } store;
  cm->set_state_sink(&store);
  NgValue reply = handle(command("takeover"));
  EXPECT_EQ(reply.find_string("result"), "ok");
  EXPECT_EQ(reply.find_scalar("taken over"), "7");
  EXPECT_EQ(store.asked, 1);
  cm->set_state_sink(nullptr);
}

// voxrelay does not record: asking it to is not an error, and the reply
// says the call is not recorded.
TEST_F(NgCommandsTest, RecordingRequestsGetAWarning) {
  NgValue plain = handle(offer("rec-0"));
  EXPECT_EQ(plain.find_string("result"), "ok");
  EXPECT_FALSE(plain.find_scalar("warning"));
  NgValue keyed = offer("rec-1");
  keyed.set("record call", "yes");
  NgValue flagged = offer("rec-2");
  flagged.set("flags", strings({"record-call"}));
  for (const NgValue* req : {&keyed, &flagged}) {
    NgValue reply = handle(*req);
    EXPECT_EQ(reply.find_string("result"), "ok");
    EXPECT_NE(reply.find_scalar("warning").value_or("").find("not recorded"), std::string::npos);
  }
  NgValue off = offer("rec-3");
  off.set("record call", "no");
  EXPECT_FALSE(handle(off).find_scalar("warning"));
  for (const char* name : {"start recording", "stop recording", "pause recording"}) {
    NgValue start = command(name);
    start.set("call-id", "rec-1");
    NgValue reply = handle(start);
    EXPECT_EQ(reply.find_string("result"), "ok") << name;
    EXPECT_NE(reply.find_scalar("warning").value_or("").find("not recorded"), std::string::npos);
    start.set("call-id", "no-such-call");
    EXPECT_EQ(reason(handle(start)), "Unknown call-id") << name;
  }
}

TEST_F(NgCommandsTest, FindsEachCommandInEverySpellingNgNameEqualAccepts) {
  for (const NgCommand& c : ng_commands()) {
    for (const std::string& spelling : {std::string(c.name), upper(c.name), capitalized(c.name)}) {
      EXPECT_EQ(find_ng_command(spelling), &c) << spelling;
      // Dispatched: whatever the reply, it is not the unknown-command one.
      NgValue reply = handle(command(spelling));
      EXPECT_NE(reply.find_string("error-reason"), "Unrecognized command") << spelling;
    }
  }
  EXPECT_EQ(handle(command("Ping")).find_string("result"), "pong");
  EXPECT_EQ(handle(command("LIST")).find_string("result"), "ok");
  EXPECT_EQ(handle(command("Statistics")).find_string("result"), "ok");
  EXPECT_EQ(reason(handle(command("DELETE"))), "No call-id in message");
}

// A delete whose delay is 0 (the request's, or --delete-delay=0) frees the
// call at once, not at the next once-a-second sweep; a delay keeps it.
TEST_F(NgCommandsTest, DeleteWithoutDelayFreesTheCallAtOnce) {
  const size_t free_pairs = cm->free_port_pairs();
  ASSERT_EQ(handle(offer("d0")).find_string("result"), "ok");
  ASSERT_EQ(handle(offer("d1")).find_string("result"), "ok");
  ASSERT_LT(cm->free_port_pairs(), free_pairs);
  NgValue del = command("delete");
  del.set("call-id", "d0");  // config: delete delay 0
  EXPECT_EQ(handle(del).find_string("result"), "ok");
  EXPECT_EQ(cm->find("d0"), nullptr);
  del.set("call-id", "d1");
  del.set("delete delay", "5");
  EXPECT_EQ(handle(del).find_string("result"), "ok");
  EXPECT_NE(cm->find("d1"), nullptr);  // kept for its delay
  del = command("delete");
  del.set("call-id", "d1");
  del.set("delete delay", "0");
  handle(del);  // deleting it again, now with no delay
  EXPECT_EQ(cm->find("d1"), nullptr);
  EXPECT_EQ(cm->free_port_pairs(), free_pairs);
}

TEST_F(NgCommandsTest, RefusesUnknownCommands) {
  for (const char* name :
       {"pong", "", "offe", "offers", "delete ", "start recordings", "block-dtmf"}) {
    EXPECT_EQ(find_ng_command(name), nullptr) << name;
    EXPECT_EQ(reason(handle(command(name))), "Unrecognized command") << name;
  }
  EXPECT_EQ(reason(handle(NgValue::dict())), "Dictionary contains no key \"command\"");
}

TEST_F(NgCommandsTest, RequestErrorsUseRtpengineWording) {
  NgValue l = command("list");
  l.set("limit", "ten");
  EXPECT_EQ(reason(handle(l)), "Invalid limit");

  NgValue o = offer("c1");
  o.set("address family", "IP6");  // the only interface is IPv4
  EXPECT_EQ(reason(handle(o)), "No interface for the requested address family");
  o = offer("c1");
  o.set("sdp", "not sdp");
  EXPECT_EQ(reason(handle(o)), "Failed to parse SDP");
  EXPECT_EQ(cm->size(), 0u);  // none of them made a call
  EXPECT_EQ(cm->stats().errors, 2u);
}

// NG-PROTOCOL.md: an unknown or malformed value is logged and ignored, as
// rtpengine does; the offer goes on as if it had not been given.
TEST_F(NgCommandsTest, UnknownValuesAreIgnored) {
  const auto set = [&](const char* key, NgValue v) {
    NgValue o = offer(std::string("ignored-") + key);
    o.set(key, std::move(v));
    return o;
  };
  const NgValue requests[] = {
      set("media address", NgValue::str("not-an-address")),
      set("address family", NgValue::str("IP5")),
      set("rtcp-mux", strings({"sometimes"})),
      set("ICE", NgValue::str("sometimes")),
      set("ICE-lite", NgValue::str("sometimes")),
      set("DTLS", NgValue::str("sometimes")),
      set("DTLS-fingerprint", NgValue::str("md5")),
      set("transport protocol", NgValue::str("RTP/FOO")),
      set("codec", strings({"PCMA"})),
      set("SDES", strings({"sometimes", "no-"})),
      set("flags", strings({"SDES-bogus", "rtcp-mux-never", "ICE=sometimes"})),
  };
  for (const NgValue& o : requests) {
    NgValue reply = handle(o);
    EXPECT_EQ(reply.find_string("result"), "ok") << reply.find_string("error-reason").value_or("");
    EXPECT_FALSE(reply.find_scalar("warning"));  // logged, not in the reply (rtpengine)
    EXPECT_NE(reply.find_string("sdp").value_or("").find("m=audio"), std::string::npos);
  }
  EXPECT_EQ(cm->size(), std::size(requests));
  EXPECT_EQ(cm->stats().errors, 0u);
}

// rtpengine (ng_control_protocol.md, delete): a delete that finds no call
// or no such tag is "ok" with a warning, unless "fatal" is among the flags.
TEST_F(NgCommandsTest, DeleteOfUnknownCallOrTagWarnsUnlessFatal) {
  ASSERT_EQ(handle(offer("known")).find_string("result"), "ok");
  NgValue unknown_call = command("delete");
  unknown_call.set("call-id", "never-seen");
  NgValue unknown_tag = command("delete");
  unknown_tag.set("call-id", "known");
  unknown_tag.set("from-tag", "Z");
  for (NgValue d : {unknown_call, unknown_tag}) {
    NgValue reply = handle(d);
    EXPECT_EQ(reply.find_string("result"), "ok");
    EXPECT_EQ(reply.find_string("warning"), "Call-ID not found or tags didn't match");
    EXPECT_FALSE(reply.find("totals"));
    d.set("flags", strings({"fatal"}));
    EXPECT_EQ(reason(handle(d)), "Call-ID not found or tags didn't match");
  }
  EXPECT_EQ(cm->size(), 1u);
  EXPECT_FALSE(cm->find("known")->deleted);
}

// 'delete delay' that is not 0..86400 is logged and the call deleted with
// the configured delay, as rtpengine does.
TEST_F(NgCommandsTest, BadDeleteDelayUsesTheDefault) {
  for (const char* delay : {"-1", "86401", "soon"}) {
    const std::string id = std::string("delay") + delay;
    ASSERT_EQ(handle(offer(id)).find_string("result"), "ok");
    NgValue d = command("delete");
    d.set("call-id", id);
    d.set("delete delay", delay);
    NgValue reply = handle(d);
    EXPECT_EQ(reply.find_string("result"), "ok") << delay;
    EXPECT_TRUE(reply.find("totals")) << delay;
    EXPECT_EQ(cm->find(id), nullptr) << delay;  // the default here: no delay, gone at once
  }
}

// Before the answer the callee has no tag: rtpengine 10.5 keys it
// "<untagged 1>" in query, with empty endpoints.
TEST_F(NgCommandsTest, QueryKeysTheUntaggedPartyAsRtpengine) {
  ASSERT_EQ(handle(offer("q")).find_string("result"), "ok");
  NgValue q = command("query");
  q.set("call-id", "q");
  const NgValue reply = handle(q);
  const NgValue* tags = reply.find("tags");
  ASSERT_TRUE(tags);
  ASSERT_TRUE(tags->find("A"));
  const NgValue* untagged = tags->find("<untagged 1>");
  ASSERT_TRUE(untagged);
  const NgValue& stream = untagged->find("medias")->as_list()[0].find("streams")->as_list()[0];
  EXPECT_TRUE(stream.find("endpoint")->as_dict().empty());
}

TEST_F(NgCommandsTest, LoadLimitOnlyForTheSessionLimitAndOnlyWhenSupported) {
  config.max_sessions = 1;
  cm = std::make_unique<CallManager>(config, plane);
  ASSERT_EQ(handle(offer("first")).find_string("result"), "ok");

  // Without "supports": the error rtpengine gives.
  EXPECT_EQ(reason(handle(offer("second"))), "Parallel session limit reached");
  NgValue other = offer("second");
  other.set("supports", strings({"something else"}));
  EXPECT_EQ(reason(handle(other)), "Parallel session limit reached");

  // With it (in any NG spelling): "load limit", the reason in "message".
  for (const char* spelling : {"load limit", "load-limit", "Load_Limit"}) {
    NgValue o = offer("second");
    o.set("supports", strings({"other", spelling}));
    NgValue reply = handle(o);
    EXPECT_EQ(reply.find_string("result"), "load limit") << spelling;
    EXPECT_EQ(reply.find_string("message"), "Parallel session limit reached") << spelling;
    EXPECT_FALSE(reply.find("error-reason")) << spelling;
  }

  // Any other error stays an error, even for a client that supports it.
  NgValue o = offer("first");  // a re-offer: not limited
  o.set("supports", strings({"load limit"}));
  o.set("sdp", "not sdp");
  EXPECT_EQ(reason(handle(o)), "Failed to parse SDP");
  EXPECT_EQ(cm->size(), 1u);
}

// Drain (voxrelay's own command): new calls get "load limit" (the error
// without "supports"), the call up takes re-offers and ends normally;
// "drain": "off" takes new calls again; a bad value is an error.
TEST_F(NgCommandsTest, DrainRefusesNewCallsOnly) {
  ASSERT_EQ(handle(offer("up")).find_string("result"), "ok");
  NgValue drain = command("drain");
  NgValue reply = handle(drain);
  EXPECT_EQ(reply.find_string("result"), "ok");
  EXPECT_EQ(reply.find_string("draining"), "yes");
  EXPECT_EQ(reply.find_scalar("calls"), "1");
  EXPECT_EQ(reason(handle(offer("new"))), "Draining: no new calls");
  NgValue supported = offer("new");
  supported.set("supports", strings({"load limit"}));
  reply = handle(supported);
  EXPECT_EQ(reply.find_string("result"), "load limit");
  EXPECT_EQ(reply.find_string("message"), "Draining: no new calls");
  EXPECT_EQ(handle(offer("up")).find_string("result"), "ok");  // a re-offer of the call up
  EXPECT_EQ(cm->size(), 1u);

  drain.set("drain", "sometimes");
  EXPECT_EQ(reason(handle(drain)), "Unrecognized command: drain: 'on' or 'off', not 'sometimes'");
  EXPECT_TRUE(cm->draining());
  drain.set("drain", "off");
  EXPECT_EQ(handle(drain).find_string("draining"), "no");
  EXPECT_EQ(handle(offer("new")).find_string("result"), "ok");
}

}  // namespace
}  // namespace vox::control
