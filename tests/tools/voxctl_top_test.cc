// voxctl top's model (tools/voxctl_top.h): replies written as rtpengine's
// statistics and query replies (JSON here for reading), a fake NG exchange
// for the poll, and the frame's text.
#include "tools/voxctl_top.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "control/ng_json.h"

namespace voxctl {
namespace {

NgValue json(const std::string& text) {
  auto v = vox::control::decode_json(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : NgValue::dict();
}

const char* kStatistics = R"({"result": "ok", "statistics": {
  "currentstatistics": {"sessionsown": 3, "sessionstotal": 4, "free port pairs": 497, "draining": "no"},
  "totalstatistics": {"offers": 9, "packets relayed": 1000, "packets received": 1100,
                      "drops": {"no flow": 5, "rtp invalid": 0, "source mismatch": 7}},
  "workers": [{"worker": 0, "rx packets": 600}, {"worker": 1, "rx packets": 500}]}})";

// A query reply: one stream per party with the given quality dicts ("" none).
std::string query_json(int64_t created, int64_t packets, const std::string& quality_a,
                       const std::string& quality_b) {
  auto stream = [](const std::string& q) {
    std::string s = R"({"local port": 41000, "stats": {"packets": 1})";
    if (!q.empty()) s += R"(, "quality": )" + q;
    return s + "}";
  };
  auto party = [&](const char* tag, const std::string& q) {
    return std::string("\"") + tag + R"(": {"tag": ")" + tag +
           R"(", "medias": [{"index": 1, "streams": [)" + stream(q) +
           R"(, {"local port": 41001}]}]})";
  };
  return R"({"result": "ok", "created": )" + std::to_string(created) + R"(, "tags": {)" +
         party("A", quality_a) + ", " + party("B", quality_b) +
         R"(}, "totals": {"RTP": {"packets": )" + std::to_string(packets) +
         R"(, "bytes": 1}, "RTCP": {"packets": 0}}})";
}

CallRow row(const std::string& id, std::optional<int64_t> mos10,
            std::optional<double> loss = std::nullopt) {
  CallRow r;
  r.call_id = id;
  r.mos10 = mos10;
  r.loss_percent = loss;
  return r;
}

TEST(VoxctlTopStatistics, ReadsCurrentTotalsDropsAndWorkers) {
  const auto c = parse_statistics(json(kStatistics));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sessions_own, 3);
  EXPECT_EQ(c->sessions_total, 4);
  EXPECT_EQ(c->free_port_pairs, 497);
  EXPECT_FALSE(c->draining);
  EXPECT_EQ(c->packets_received, 1100u);
  EXPECT_EQ(c->packets_relayed, 1000u);
  ASSERT_EQ(c->drops.size(), 3u);
  EXPECT_EQ(c->drops[2], (std::pair<std::string, uint64_t>{"source mismatch", 7}));
  EXPECT_EQ(c->worker_rx, (std::vector<uint64_t>{600, 500}));
}

TEST(VoxctlTopStatistics, ErrorReplyOrMissingDictIsNothing) {
  EXPECT_FALSE(parse_statistics(json(R"({"result": "error", "error-reason": "x"})")));
  EXPECT_FALSE(parse_statistics(json(R"({"result": "ok"})")));
  const auto draining = parse_statistics(json(R"({"result": "ok", "statistics":
      {"currentstatistics": {"draining": "yes"}}})"));
  ASSERT_TRUE(draining);
  EXPECT_TRUE(draining->draining);
  EXPECT_FALSE(draining->packets_received);
  EXPECT_FALSE(draining->free_port_pairs);
}

TEST(VoxctlTopStatistics, RtpengineRelayedPackets) {
  const auto c = parse_statistics(json(R"({"result": "ok", "statistics": {
      "currentstatistics": {"sessionsown": 2, "sessionsforeign": 0, "sessionstotal": 2},
      "totalstatistics": {"relayedpackets": 640, "relayedpacketerrors": 0}}})"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sessions_own, 2);
  EXPECT_EQ(c->packets_relayed, 640u);
  EXPECT_FALSE(c->packets_received);
  EXPECT_TRUE(c->worker_rx.empty());
}

TEST(VoxctlTopCall, WorstStreamGivesMosLossAndJitter) {
  // A: MOS 4.3, 1 % loss; B: MOS 3.1, 10 lost of 100: B is the worst.
  const auto r = parse_call(
      "c1",
      json(query_json(
          1700000000, 4321, R"({"MOS": 43, "lost": 1, "received": 99, "jitter us": 2000})",
          R"({"MOS": 31, "lost": 10, "received": 90, "jitter us": 12500, "rtt us": 40000})")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->call_id, "c1");
  EXPECT_EQ(r->created, 1700000000);
  EXPECT_EQ(r->packets, 4321);
  EXPECT_EQ(r->mos10, 31);
  ASSERT_TRUE(r->loss_percent);
  EXPECT_DOUBLE_EQ(*r->loss_percent, 10.0);
  ASSERT_TRUE(r->jitter_ms);
  EXPECT_DOUBLE_EQ(*r->jitter_ms, 12.5);
}

TEST(VoxctlTopCall, QualityWithoutMosRanksAfterOneWithMos) {
  // B has received nothing yet (no MOS): A's figures are shown.
  const auto r =
      parse_call("c2", json(query_json(1, 10, R"({"MOS": 40, "lost": 0, "received": 50})",
                                       R"({"lost": 0, "received": 0, "jitter us": 0})")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mos10, 40);
  EXPECT_DOUBLE_EQ(r->loss_percent.value_or(-1), 0.0);
}

TEST(VoxctlTopCall, NoQualityFieldIsDashes) {
  const auto r = parse_call("c3", json(query_json(1, 10, "", "")));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->mos10);
  EXPECT_FALSE(r->loss_percent);
  EXPECT_FALSE(r->jitter_ms);
  EXPECT_EQ(r->packets, 10);
  EXPECT_FALSE(
      parse_call("gone", json(R"({"result": "error", "error-reason": "Unknown call-id"})")));
}

TEST(VoxctlTopSort, LowestMosFirstAndCallsWithoutMosLast) {
  std::vector<CallRow> calls = {row("none-b", std::nullopt), row("good", 44),
                                row("none-a", std::nullopt), row("bad", 21),
                                row("mid-lossy", 35, 5.0),   row("mid", 35, 1.0)};
  sort_worst_first(calls);
  std::vector<std::string> order;
  for (const auto& c : calls) order.push_back(c.call_id);
  EXPECT_EQ(order,
            (std::vector<std::string>{"bad", "mid-lossy", "mid", "good", "none-a", "none-b"}));
}

TEST(VoxctlTopRates, DifferencesOverElapsedTime) {
  RelayCounters before, now;
  before.packets_received = 1000;
  now.packets_received = 1500;
  before.packets_relayed = 900;
  now.packets_relayed = 1300;
  before.drops = {{"no flow", 10}, {"rtp invalid", 3}};
  now.drops = {{"no flow", 10}, {"rtp invalid", 8}};
  before.worker_rx = {100, 200};
  now.worker_rx = {350, 200, 7};  // a worker more: no rate for it yet
  const auto r = compute_rates(before, now, 2.0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->received, 250.0);
  EXPECT_EQ(r->relayed, 200.0);
  ASSERT_EQ(r->drops.size(), 1u);  // "no flow" did not move
  EXPECT_EQ(r->drops[0].first, "rtp invalid");
  EXPECT_DOUBLE_EQ(r->drops[0].second, 2.5);
  EXPECT_EQ(r->worker_rx, (std::vector<double>{125.0, 0.0, 0.0}));
}

TEST(VoxctlTopRates, RestartedRelayCountsZeroAndNoElapsedTimeNoRates) {
  RelayCounters before, now;
  before.packets_received = 5000;
  now.packets_received = 20;
  const auto r = compute_rates(before, now, 1.0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->received, 0.0);
  EXPECT_FALSE(r->relayed);  // not in the replies: "-"
  EXPECT_FALSE(compute_rates(before, now, 0.0));
  EXPECT_FALSE(compute_rates(before, now, -1.0));
}

TEST(VoxctlTopFormat, Cells) {
  EXPECT_EQ(format_mos(43), "4.3");
  EXPECT_EQ(format_mos(10), "1.0");
  EXPECT_EQ(format_mos(std::nullopt), "-");
  EXPECT_EQ(format_age(-3), "0s");
  EXPECT_EQ(format_age(42), "42s");
  EXPECT_EQ(format_age(187), "3m07s");
  EXPECT_EQ(format_age(2 * 3600 + 5 * 60 + 9), "2h05m");
  EXPECT_EQ(format_age(4 * 86400 + 3 * 3600), "4d03h");
  EXPECT_EQ(format_rate(0), "0");
  EXPECT_EQ(format_rate(12.54), "12.5");
  EXPECT_EQ(format_rate(1234.4), "1234");
  EXPECT_EQ(format_rate(12345), "12.3k");
  EXPECT_EQ(format_rate(4.5e6), "4.50M");
}

class VoxctlTopFrame : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
    view.relay = "127.0.0.1:22222";
    view.now_unix = 1700000000;  // 22:13:20 UTC
    view.poll.counters = parse_statistics(json(kStatistics));
    view.poll.listed = 3;
    view.poll.calls = {row("worst-call", 21, 12.5), row("fine-call", 44, 0.0),
                       row("quiet-call", std::nullopt)};
    view.poll.calls[0].created = view.now_unix - 187;
    view.poll.calls[0].jitter_ms = 7.25;
    view.poll.calls[0].packets = 9000;
    Rates r;
    r.received = 100;
    r.relayed = 98.5;
    r.drops = {{"source mismatch", 1.5}};
    r.worker_rx = {60, 40};
    view.rates = r;
  }
  TopView view;
};

TEST_F(VoxctlTopFrame, HeaderAndRowsInOrder) {
  const Frame f = render_frame(view, 0, 0);
  ASSERT_EQ(f.lines.size(), 10u);  // 5 header, title, 3 rows, footer
  EXPECT_EQ(f.lines[0], "voxctl top   127.0.0.1:22222   22:13:20   every 1 s");
  EXPECT_EQ(f.lines[1], "calls: 3 own, 4 total   free port pairs: 497   draining: no");
  EXPECT_EQ(f.lines[2], "packets/s: received 100, relayed 98.5   drops/s: source mismatch 1.5");
  EXPECT_EQ(f.lines[3], "rx packets/s per worker: #0 60.0 #1 40.0");
  EXPECT_EQ(f.lines[4], "");
  EXPECT_EQ(f.table_title, 5u);
  EXPECT_EQ(f.lines[5], "CALL-ID          AGE   MOS  LOSS% JITTER ms    PACKETS");
  EXPECT_EQ(f.lines[6], "worst-call     3m07s   2.1   12.5       7.2       9000");
  EXPECT_EQ(f.lines[7].substr(0, 10), "fine-call ");
  EXPECT_NE(f.lines[8].find("quiet-call"), std::string::npos);
  EXPECT_EQ(f.lines[9], "3 calls listed");
}

TEST_F(VoxctlTopFrame, ControlBytesOfACallIdAreNotWritten) {
  view.poll.calls[0].call_id = "evil\x1b[2J\r\n";
  const Frame f = render_frame(view, 0, 0);
  EXPECT_EQ(f.lines[6].substr(0, 13), "evil?[2J??   ");
}

TEST_F(VoxctlTopFrame, FirstRefreshHasNoRatesAndErrorsAreShown) {
  view.rates.reset();
  view.poll.error = "query: no reply from 127.0.0.1:22222";
  const Frame f = render_frame(view, 0, 0);
  EXPECT_EQ(f.lines[2], "packets/s: received -, relayed -   drops/s: -");
  EXPECT_EQ(f.lines[3], "rx packets/s per worker: -");
  EXPECT_EQ(f.lines[4], "error: query: no reply from 127.0.0.1:22222");
}

TEST_F(VoxctlTopFrame, RowsThatFitTheTerminalAndCutLines) {
  view.poll.calls[0].call_id = std::string(60, 'x');
  view.poll.more_calls = true;
  const Frame f = render_frame(view, 60, 9);  // 6 header lines + 2 rows + footer
  ASSERT_EQ(f.lines.size(), 9u);
  for (const auto& line : f.lines) EXPECT_LE(line.size(), 60u);
  EXPECT_EQ(f.lines[6].substr(0, 17), std::string(16, 'x') + "~");  // call-id column: 60 - 43
  EXPECT_NE(f.lines[7].find("fine-call"), std::string::npos);
  const std::string footer =
      "3 calls listed, more on the relay: the first 200 queried, 1 not shown   q quits";
  EXPECT_EQ(f.lines[8], footer.substr(0, 60));
}

TEST_F(VoxctlTopFrame, NoCallsAndATinyTerminal) {
  view.poll.calls.clear();
  view.poll.listed = 0;
  const Frame f = render_frame(view, 30, 3);
  ASSERT_EQ(f.lines.size(), 7u);  // the header is never cut by height; no rows
  EXPECT_EQ(f.lines.back(), "0 calls listed   q quits");
}

// A scripted NG speaker: replies by command, recording the requests.
struct FakeRelay {
  std::vector<NgValue> requests;
  int calls = 3;
  std::string vanished = "c1";  // deleted between list and query
  bool query_timeout = false;

  vox::Result<NgValue, std::string> operator()(const NgValue& r) {
    requests.push_back(r);
    const std::string cmd(r.find_string("command").value_or(""));
    if (cmd == "statistics") return json(kStatistics);
    if (cmd == "list") {
      NgValue reply = json(R"({"result": "ok", "calls": []})");
      NgValue ids = NgValue::list();
      const int64_t limit = r.find("limit") ? r.find("limit")->as_integer() : 32;
      for (int i = 0; i < calls && i < limit; ++i) ids.push(NgValue::str("c" + std::to_string(i)));
      reply.set("calls", ids);
      return reply;
    }
    const std::string id(r.find_string("call-id").value_or(""));
    if (query_timeout && id == "c2") return vox::Err{std::string("no reply")};
    if (id == vanished) return json(R"({"result": "error", "error-reason": "Unknown call-id"})");
    return json(query_json(1, 5, R"({"MOS": 40, "lost": 0, "received": 5})", ""));
  }
};

TEST(VoxctlTopPoll, StatisticsListThenQueryEachCall) {
  FakeRelay relay;
  const Poll p = poll_relay(std::ref(relay));
  EXPECT_EQ(p.error, "");
  ASSERT_TRUE(p.counters);
  EXPECT_EQ(p.listed, 3u);
  EXPECT_FALSE(p.more_calls);
  ASSERT_EQ(p.calls.size(), 2u);  // c1 vanished
  EXPECT_EQ(p.calls[0].call_id, "c0");
  EXPECT_EQ(p.calls[1].call_id, "c2");
  ASSERT_EQ(relay.requests.size(), 5u);
  EXPECT_EQ(relay.requests[1].find_string("command"), "list");
  EXPECT_EQ(relay.requests[1].find("limit")->as_integer(), int64_t(kMaxTopCalls));
  EXPECT_EQ(relay.requests[3].find_string("call-id"), "c1");
}

TEST(VoxctlTopPoll, NoReplyToAQueryEndsTheRound) {
  FakeRelay relay;
  relay.calls = 5;
  relay.query_timeout = true;
  const Poll p = poll_relay(std::ref(relay));
  EXPECT_EQ(p.error, "query: no reply");
  EXPECT_EQ(p.calls.size(), 1u);         // c0; c1 vanished; c2 timed out
  EXPECT_EQ(relay.requests.size(), 5u);  // c3, c4 not asked
}

TEST(VoxctlTopPoll, AtMostTheCapIsQueriedAndTheScreenSaysMore) {
  FakeRelay relay;
  relay.calls = 250;  // statistics says 3 own, 4 total: make it more
  auto more = [&](const NgValue& r) -> vox::Result<NgValue, std::string> {
    if (r.find_string("command") != "statistics") return relay(r);
    NgValue s = json(kStatistics);
    NgValue st = *s.find("statistics");
    NgValue cur = *st.find("currentstatistics");
    cur.set("sessionsown", int64_t(250));
    st.set("currentstatistics", cur);
    s.set("statistics", st);
    return s;
  };
  const Poll p = poll_relay(more);
  EXPECT_EQ(p.listed, kMaxTopCalls);
  EXPECT_TRUE(p.more_calls);
  EXPECT_EQ(p.calls.size(), kMaxTopCalls - 1);  // c1 vanished
}

TEST(VoxctlTopPoll, NoReplyToStatisticsIsAnErrorFrame) {
  const Poll p = poll_relay([](const NgValue&) -> vox::Result<NgValue, std::string> {
    return vox::Err{std::string("no reply from 127.0.0.1:9")};
  });
  EXPECT_FALSE(p.counters);
  EXPECT_EQ(p.error, "statistics: no reply from 127.0.0.1:9");
}

}  // namespace
}  // namespace voxctl
