// The figures of voxload's report (rates over the measured window, loss,
// latency percentiles, CPU shares) and their two renderings: text and JSON.
#include "voxload_report.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

namespace voxload {

namespace {

// What both renderings print, derived from the counters once.
struct Figures {
  double window = 0;  // 0 if interrupted before the window
  uint64_t lost = 0;
  double loss_pct = 0;
  double p50 = 0, p99 = 0, p999 = 0, max_us = 0;
  double relay_cpu = -1, us_per_pkt = -1;
  double self_pct = 0, other_pct = 0, setup_rate = 0;
  double per_s(double n) const { return window > 0 ? n / window : 0.0; }
};

Figures figures_of(LoadRun& run, const SetupReport& setup) {
  const Counters& c = run.counters();
  Figures f;
  f.window = run.window_seconds();
  f.lost = c.sent_window > c.received_window ? c.sent_window - c.received_window : 0;
  f.loss_pct = c.sent_window ? 100.0 * double(f.lost) / double(c.sent_window) : 0;
  const auto& lat = run.latency();
  f.p50 = lat.quantile_ns(0.50) / 1e3;
  f.p99 = lat.quantile_ns(0.99) / 1e3;
  f.p999 = lat.quantile_ns(0.999) / 1e3;
  f.max_us = double(lat.max()) / 1e3;
  f.relay_cpu = run.relay_cpu_seconds();
  f.us_per_pkt = f.relay_cpu >= 0 && c.received_window ? f.relay_cpu * 1e6 / double(c.received_window) : -1;
  f.self_pct = f.window > 0 ? 100.0 * run.self_cpu_seconds_in_window() / f.window : 0;
  f.other_pct = f.per_s(100.0 * run.other_cpu_seconds_in_window());
  f.setup_rate = setup.seconds > 0 ? setup.up / setup.seconds : 0;
  return f;
}

nlohmann::ordered_json transcode_json(const Options& opt, LoadRun& run) {
  const Counters& c = run.counters();
  const auto& a = run.latency_direction(0);
  const auto& b = run.latency_direction(1);
  return nlohmann::ordered_json{
      {"opus_rate", opt.tc.opus_rate},
      {"opus_bitrate", opt.tc.opus_bitrate},
      {"answer_fec", opt.tc.answer_fec},
      {"a_to_b_p50_us", a.quantile_ns(0.5) / 1e3},
      {"a_to_b_p99_us", a.quantile_ns(0.99) / 1e3},
      {"b_to_a_p50_us", b.quantile_ns(0.5) / 1e3},
      {"b_to_a_p99_us", b.quantile_ns(0.99) / 1e3},
      {"rtcp", c.rtcp},
      {"wrong_pt", c.wrong_pt},
      {"wrong_size", c.wrong_size},
      {"unmatched", c.unmatched},
      {"latency_negative", c.latency_negative},
      {"streams_receiving", run.transcode()->anchored_streams()},
      {"anchor_shift_sum", run.transcode()->anchor_shift_sum()},
      // Outputs whose RTP sequence number is that of the input they map to
      // (index 0) or of one sent i packets earlier (index i): a relay that
      // keeps sequence numbers and holds frames back shows up in i > 0;
      // seq_latency is measured from the input so named. A relay that
      // numbers its own packets matches by chance on ~8 in 65536 streams.
      {"seq_lag_counts", run.seq_lag_counts()},
      {"seq_latency_p50_us", run.latency_by_seq().quantile_ns(0.5) / 1e3},
      {"seq_latency_p99_us", run.latency_by_seq().quantile_ns(0.99) / 1e3},
  };
}

void print_json(const Options& opt, LoadRun& run, const SetupReport& setup, int delete_errors, const std::string& io,
                long relay_rss_before_kb, const Figures& f) {
  const Counters& c = run.counters();
  nlohmann::ordered_json j;
  j["calls"] = setup.up;
  j["calls_requested"] = opt.calls;
  j["setup_errors"] = setup.errors;
  if (!setup.first_error.empty()) j["setup_first_error"] = setup.first_error;
  j["setup_s"] = setup.seconds;
  j["setup_calls_per_s"] = f.setup_rate;
  j["io"] = io;
  j["window_s"] = f.window;
  j["target_pps"] = run.rate();
  j["offered_pps"] = f.per_s(double(c.sent_window));
  j["delivered_pps"] = f.per_s(double(c.received_window));
  j["sent"] = c.sent_window;
  j["delivered"] = c.received_window;
  j["lost"] = f.lost;
  j["loss_pct"] = f.loss_pct;
  j["duplicates"] = c.duplicates;
  j["misrouted"] = c.misrouted;
  j["invalid"] = c.invalid;
  j["send_errors"] = c.send_errors;
  j["recv_errors"] = c.recv_errors;
  j["send_skipped"] = c.send_busy + c.behind;
  j["skipped_behind"] = c.behind;  // generator stalled > 50 ms: it is (or was) saturated
  j["skipped_busy"] = c.send_busy;
  j["latency_p50_us"] = f.p50;
  j["latency_p99_us"] = f.p99;
  j["latency_p999_us"] = f.p999;
  j["latency_max_us"] = f.max_us;
  if (opt.relay_pid) {
    j["relay_pid"] = opt.relay_pid;
    j["relay_cpu_s"] = f.relay_cpu;
    j["relay_cpu_pct"] = f.relay_cpu >= 0 ? f.per_s(100.0 * f.relay_cpu) : -1;
    j["relay_cpu_us_per_pkt"] = f.us_per_pkt;
    j["relay_rss_before_kb"] = relay_rss_before_kb;  // before the calls were set up
    j["relay_rss_kb"] = run.relay_rss_kb();            // at the window's end, calls up and media flowing
  }
  if (opt.transcode) j["transcode"] = transcode_json(opt, run);
  if (run.counts_drops()) {
    j["relay_socket_drops"] = run.relay_socket_drops();  // kernel drops at the relay's media sockets, window
    j["own_socket_drops"] = run.own_socket_drops();
  }
  j["self_cpu_pct"] = f.self_pct;
  j["other_cpu_pct"] = f.other_pct;
  j["delete_errors"] = delete_errors;
  std::printf("%s\n", j.dump().c_str());
}

void print_transcode_text(LoadRun& run) {
  const Counters& c = run.counters();
  const auto& a = run.latency_direction(0);
  const auto& b = run.latency_direction(1);
  std::printf("transcode    A->B (PCMU->Opus) p50 %.1f us p99 %.1f us; B->A (Opus->PCMU) p50 %.1f us p99 %.1f us\n",
              a.quantile_ns(0.5) / 1e3, a.quantile_ns(0.99) / 1e3, b.quantile_ns(0.5) / 1e3,
              b.quantile_ns(0.99) / 1e3);
  std::printf("             rtcp %llu  wrong pt %llu  wrong size %llu  unmatched %llu  negative latency %llu;"
              " %zu streams receiving, anchors moved back %llu packets in the warm-up\n",
              static_cast<unsigned long long>(c.rtcp), static_cast<unsigned long long>(c.wrong_pt),
              static_cast<unsigned long long>(c.wrong_size), static_cast<unsigned long long>(c.unmatched),
              static_cast<unsigned long long>(c.latency_negative), run.transcode()->anchored_streams(),
              static_cast<unsigned long long>(run.transcode()->anchor_shift_sum()));
  const auto lags = run.seq_lag_counts();
  uint64_t seq_named = 0;
  for (auto n : lags) seq_named += n;
  if (seq_named && seq_named * 10 >= c.received_window * 9) {  // not a chance match on a few streams
    std::printf("             %llu outputs carry an input's sequence number; packets back from the mapped input:",
                static_cast<unsigned long long>(seq_named));
    for (size_t i = 0; i < lags.size(); ++i)
      if (lags[i]) std::printf(" %zu: %llu", i, static_cast<unsigned long long>(lags[i]));
    std::printf("; latency from that input p50 %.1f us p99 %.1f us\n", run.latency_by_seq().quantile_ns(0.5) / 1e3,
                run.latency_by_seq().quantile_ns(0.99) / 1e3);
  }
}

void print_text(const Options& opt, LoadRun& run, const SetupReport& setup, int delete_errors, const std::string& io,
                long relay_rss_before_kb, const Figures& f) {
  const Counters& c = run.counters();
  std::printf("calls        %d of %d set up in %.2f s (%.0f calls/s), %d errors%s%s\n", setup.up, opt.calls,
              setup.seconds, f.setup_rate, setup.errors, setup.first_error.empty() ? "" : "; first: ",
              setup.first_error.c_str());
  std::printf("offered      %.0f pps (target %.0f; %llu packets in %.2f s window; io %s)\n",
              f.per_s(double(c.sent_window)), run.rate(), static_cast<unsigned long long>(c.sent_window), f.window,
              io.c_str());
  std::printf("delivered    %.0f pps\n", f.per_s(double(c.received_window)));
  std::printf("lost         %llu (%.4f %%)\n", static_cast<unsigned long long>(f.lost), f.loss_pct);
  std::printf("misrouted    %llu   duplicates %llu   invalid %llu   send errors %llu   skipped %llu (behind %llu)\n",
              static_cast<unsigned long long>(c.misrouted), static_cast<unsigned long long>(c.duplicates),
              static_cast<unsigned long long>(c.invalid), static_cast<unsigned long long>(c.send_errors),
              static_cast<unsigned long long>(c.send_busy + c.behind), static_cast<unsigned long long>(c.behind));
  std::printf("latency      p50 %.1f us   p99 %.1f us   p99.9 %.1f us   max %.1f us\n", f.p50, f.p99, f.p999,
              f.max_us);
  if (opt.relay_pid)
    std::printf("relay cpu    %.2f s (%.1f %% of a core) = %.2f us per relayed packet (pid %d)\n", f.relay_cpu,
                f.per_s(100.0 * f.relay_cpu), f.us_per_pkt, opt.relay_pid);
  std::printf("voxload cpu  %.1f %% of a core; everything else %.1f %% of a core%s\n", f.self_pct, f.other_pct,
              opt.relay_pid ? "" : " (relay included: no --relay-pid)");
  if (opt.relay_pid)
    std::printf("relay rss    %ld KiB before setup, %ld KiB at the window's end\n", relay_rss_before_kb,
                run.relay_rss_kb());
  if (run.counts_drops())
    std::printf("socket drops %lld at the relay's media sockets, %lld at voxload's (kernel, window)\n",
                run.relay_socket_drops(), run.own_socket_drops());
  if (opt.transcode) print_transcode_text(run);
  if (delete_errors) std::printf("delete       %d errors\n", delete_errors);
}

}  // namespace

void report(const Options& opt, LoadRun& run, const SetupReport& setup, int delete_errors, const std::string& io,
            long relay_rss_before_kb) {
  const Figures f = figures_of(run, setup);
  if (opt.json)
    print_json(opt, run, setup, delete_errors, io, relay_rss_before_kb, f);
  else
    print_text(opt, run, setup, delete_errors, io, relay_rss_before_kb, f);
  const int first_send_errno = run.counters().first_send_errno;
  if (first_send_errno) std::fprintf(stderr, "voxload: first send error: %s\n", std::strerror(first_send_errno));
}

}  // namespace voxload
