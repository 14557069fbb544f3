// render_metrics: the Prometheus text format (every sample's family has
// HELP and TYPE, names are valid, counters end in _total) and the values
// it reports, from the call table, the workers and the NG server.
#include "control/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "call_fixture.h"

namespace vox::control {
namespace {

struct MetricsTest : testing::CallFixture<2> {
  // sample line ("name{labels}") -> value
  std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::set<std::string> typed;
    const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# TYPE ", 0) == 0) {
        std::istringstream t(line.substr(7));
        std::string name, type;
        t >> name >> type;
        EXPECT_TRUE(std::regex_match(name, name_re)) << name;
        EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
        EXPECT_EQ(type == "counter", name.size() > 6 && name.substr(name.size() - 6) == "_total") << line;
        EXPECT_TRUE(typed.insert(name).second) << "family twice: " << name;
        if (type == "histogram")
          for (const char* suffix : {"_bucket", "_sum", "_count"}) typed.insert(name + suffix);
        continue;
      }
      if (line.rfind("# HELP ", 0) == 0) continue;
      const size_t space = line.rfind(' ');
      EXPECT_NE(space, std::string::npos) << line;
      const std::string key = line.substr(0, space);
      const std::string name = key.substr(0, key.find('{'));
      EXPECT_TRUE(typed.count(name)) << "no TYPE before " << line;
      out[key] = std::stod(line.substr(space + 1));
    }
    return out;
  }
  SignalRequest offer(const char* call_id) {
    SignalRequest r;
    r.call_id = call_id;
    r.from_tag = "A";
    r.sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 0\r\n";
    return r;
  }
};

TEST_F(MetricsTest, CallsPortsWorkersAndNgCounters) {
  const size_t free_before = cm->free_port_pairs();
  ASSERT_TRUE(cm->offer(offer("c1"), now).ok());
  ASSERT_TRUE(cm->offer(offer("c2"), now).ok());
  ASSERT_TRUE(cm->remove("c2", "A", "", "", 30, now).ok());  // waits out its delete delay
  dataplane::bump(plane.state(1).counters().rx_packets, 7);
  dataplane::bump(plane.state(1).counters().drops[size_t(dataplane::DropReason::kMalformed)], 2);
  NgServerStats ng;
  ng.requests = 11;
  ng.cache_bytes = 512;
  ng.latency[size_t(NgCommandKind::kOffer)].add(80'000);     // 80 us
  ng.latency[size_t(NgCommandKind::kOffer)].add(3'000'000);  // 3 ms
  ng.latency[size_t(NgCommandKind::kOffer)].add(900'000'000);

  auto m = samples(render_metrics(*cm, &ng));
  EXPECT_EQ(m["voxrelay_calls{state=\"active\"}"], 1u);
  EXPECT_EQ(m["voxrelay_calls{state=\"deleted\"}"], 1u);
  EXPECT_EQ(m["voxrelay_calls_created_total"], 2u);
  EXPECT_EQ(m["voxrelay_ng_commands_total{command=\"offer\"}"], 2u);
  EXPECT_EQ(m["voxrelay_ng_commands_total{command=\"delete\"}"], 1u);
  EXPECT_EQ(m["voxrelay_port_pairs_free{interface=\"default\",address=\"203.0.113.1\"}"], free_before - 4);
  EXPECT_EQ(m["voxrelay_worker_rx_packets_total{worker=\"1\"}"], 7u);
  EXPECT_EQ(m["voxrelay_worker_rx_packets_total{worker=\"0\"}"], 0u);
  EXPECT_EQ(m["voxrelay_worker_drops_total{worker=\"1\",reason=\"malformed\"}"], 2u);
  EXPECT_EQ(m["voxrelay_ng_requests_total"], 11u);
  EXPECT_EQ(m["voxrelay_ng_cache_bytes"], 512u);
  EXPECT_EQ(m.count("voxrelay_transcode_streams"), 1u);
  // The histogram: cumulative buckets, +Inf = count, the sum in seconds.
  const std::string h = "voxrelay_ng_request_duration_seconds";
  EXPECT_EQ(m[h + "_bucket{command=\"offer\",le=\"5e-05\"}"], 0);
  EXPECT_EQ(m[h + "_bucket{command=\"offer\",le=\"0.0001\"}"], 1);
  EXPECT_EQ(m[h + "_bucket{command=\"offer\",le=\"0.005\"}"], 2);
  EXPECT_EQ(m[h + "_bucket{command=\"offer\",le=\"0.1\"}"], 2);
  EXPECT_EQ(m[h + "_bucket{command=\"offer\",le=\"+Inf\"}"], 3);
  EXPECT_EQ(m[h + "_count{command=\"offer\"}"], 3);
  EXPECT_DOUBLE_EQ(m[h + "_sum{command=\"offer\"}"], 0.90308);
  EXPECT_EQ(m[h + "_count{command=\"answer\"}"], 0);
  EXPECT_EQ(m.count("voxrelay_stun_checks_answered_total"), 0u);  // no handshake thread attached
}

TEST(MetricName, FromTableNames) {
  EXPECT_EQ(metric_name("rx packets"), "rx_packets");
  EXPECT_EQ(metric_name("DTMF events passed"), "dtmf_events_passed");
  EXPECT_EQ(metric_name("slow-path-full"), "slow_path_full");
}

}  // namespace
}  // namespace vox::control
