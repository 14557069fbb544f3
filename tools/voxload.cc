// voxload: the load harness. Sets up N calls on an NG relay (voxrelay or
// rtpengine), sends paced 20 ms G.711 RTP both ways through it, and reports
// offered/delivered pps, loss, misrouting and one-way latency percentiles.
// One thread; io_uring (epoll as a fallback) so the generator's cost is the
// kernel's UDP path, not syscalls. --transcode: PCMU from A, Opus from B, the
// relay asked to transcode (voxload_transcode.h explains what is measured).
// --ng-flood: garbage at the NG socket instead (voxload_ng_flood.h).
// Output: text, or with --json exactly one JSON line on stdout; progress and
// "voxload: window start|end" on stderr.
//
// This file wires the pieces together: voxload_options (flags), voxload_calls
// (NG setup and teardown), voxload_run (pacing and accounting), voxload_io
// (the io_uring and epoll drivers), voxload_report (the output) and the
// other modes: voxload_webrtc, voxload_ng_flood.
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "control/ng_client.h"
#include "base/endpoint.h"
#include "voxload_calls.h"
#include "voxload_io.h"
#include "voxload_ng_flood.h"
#include "voxload_options.h"
#include "voxload_report.h"
#include "voxload_run.h"
#include "voxload_sockets.h"
#include "voxload_transcode.h"
#include "voxload_usage.h"
#include "voxload_webrtc.h"

namespace {

using namespace voxload;
using vox::Endpoint;
using vox::control::NgClient;

void on_signal(int) { g_stop = 1; }

// What main sets up before the load and the phases after it share.
struct Harness {
  const Options& opt;
  CallSides sides;
  uint32_t run_tag = 0;
  std::string run_id{};
  std::vector<int> fds{};  // socket 2c is side A of call c, 2c + 1 side B
  std::vector<uint16_t> ports{};
  std::vector<Call> calls{};
  std::vector<Stream> streams{};
  // Socket i belongs to side A when even, side B when odd.
  const vox::IpAddr& side_ip(size_t i) const { return i % 2 ? sides.local_b : sides.local_a; }
};

// The media sides from --local/--local-b/--direction; nullopt after saying why not.
std::optional<CallSides> call_sides(const Options& opt, const std::optional<Endpoint>& ng_addr) {
  const auto local = vox::IpAddr::parse(opt.local);
  const auto local_b = opt.local_b.empty() ? local : vox::IpAddr::parse(opt.local_b);
  if (!ng_addr || !local || !local_b) {
    std::fprintf(stderr, "voxload: %s\n",
                 !local ? "bad --local address" : !local_b ? "bad --local-b address" : "--ng IP:PORT is required");
    return std::nullopt;
  }
  if (local->is_v4() != local_b->is_v4()) {
    std::fprintf(stderr, "voxload: --local and --local-b must be of the same address family\n");
    return std::nullopt;
  }
  return CallSides{*local, *local_b, opt.direction};
}

bool open_media_sockets(Harness& h, size_t nsock) {
  h.fds.assign(nsock, -1);
  h.ports.resize(nsock);
  for (size_t i = 0; i < nsock; ++i) {
    h.fds[i] = open_media_socket(h.side_ip(i), &h.ports[i]);
    if (h.fds[i] < 0) {
      std::fprintf(stderr, "voxload: cannot open media socket %zu on %s: %s\n", i, h.side_ip(i).to_string().c_str(),
                   std::strerror(errno));
      return false;
    }
  }
  return true;
}

// Sets up every call (or, with --direct, pretends to) and points each up
// call's two streams at the relay ports its offer and answer returned.
SetupReport set_up_calls(Harness& h, NgClient& ng, TranscodeLoad* tc, std::random_device& rd) {
  const Options& opt = h.opt;
  SetupReport setup;
  const int64_t setup_start = mono_ns();
  int consecutive_failures = 0;
  for (size_t c = 0; c < h.calls.size() && !g_stop; ++c) {
    Call& call = h.calls[c];
    call.call_id = "voxload-" + h.run_id + "-" + std::to_string(c);
    call.from_tag = "a" + std::to_string(c);
    call.to_tag = "b" + std::to_string(c);
    Endpoint relay_for_a{h.sides.local_b, h.ports[2 * c + 1]}, relay_for_b{h.sides.local_a, h.ports[2 * c]};
    std::optional<std::string> err;
    if (opt.direct)
      call.up = true;
    else
      err = setup_call(ng, call, h.sides, h.ports[2 * c], h.ports[2 * c + 1], uint64_t(h.run_tag) * 100000 + c * 2,
                       opt.ng_timeout_ms, &relay_for_a, &relay_for_b, tc, uint32_t(c));
    if (err) {
      if (setup.first_error.empty()) setup.first_error = *err;
      ++setup.errors;
      // A dead or refusing relay: stop instead of timing out on every call.
      if (++consecutive_failures >= 10) break;
      continue;
    }
    consecutive_failures = 0;
    ++setup.up;
    for (int dir = 0; dir < 2; ++dir) {
      Stream& st = h.streams[2 * c + size_t(dir)];
      st.dest_len = (dir == 0 ? relay_for_a : relay_for_b).to_sockaddr(&st.dest);
      st.ssrc = rd();
      st.seq = uint16_t(rd());
      st.rtp_ts = rd();
    }
  }
  setup.seconds = double(mono_ns() - setup_start) / 1e9;
  return setup;
}

// Round-robin order: every A->B stream, then every B->A stream, so a
// call's two directions are half a packet interval apart.
std::vector<uint32_t> send_order(const std::vector<Call>& calls) {
  std::vector<uint32_t> order;
  for (int dir = 0; dir < 2; ++dir)
    for (size_t c = 0; c < calls.size(); ++c)
      if (calls[c].up) order.push_back(uint32_t(2 * c + size_t(dir)));
  return order;
}

// The sockets whose kernel drops the run counts: the relay's media ports
// the up calls send to, and all of voxload's own.
void count_socket_drops(const Harness& h, LoadRun& run) {
  std::unordered_set<std::string> relay_sockets, own_sockets;
  for (size_t i = 0; i < h.fds.size(); ++i) {
    sockaddr_storage ss{};
    Endpoint{h.side_ip(i), h.ports[i]}.to_sockaddr(&ss);
    own_sockets.insert(proc_net_udp_key(ss));
    if (h.calls[i / 2].up && !h.opt.direct)  // --direct: the destinations are our own sockets
      relay_sockets.insert(proc_net_udp_key(run.stream(uint32_t(i)).dest));
  }
  run.set_drop_sockets(std::move(relay_sockets), std::move(own_sockets));
}

// Runs the load with --io's driver (epoll when io_uring is unavailable);
// false if neither could be set up. *io: the driver that ran.
bool drive(LoadRun& run, std::string* io) {
  if (*io == "uring") {
    const auto err = drive_with_uring(run);
    if (!err) return true;
    std::fprintf(stderr, "voxload: io_uring unavailable (%s), using epoll\n", err->c_str());
    *io = "epoll";
  }
  if (const auto err = drive_with_epoll(run)) {
    std::fprintf(stderr, "voxload: %s\n", err->c_str());
    return false;
  }
  return true;
}

// The load over the calls that are up, the deletes and the report; the exit status.
int run_load(Harness& h, NgClient& ng, TranscodeLoad& tc, const SetupReport& setup, long relay_rss_before_kb) {
  const Options& opt = h.opt;
  std::vector<uint32_t> order = send_order(h.calls);
  if (order.empty() || g_stop) {
    std::fprintf(stderr, "voxload: no call could be set up\n");
    return 1;
  }
  LoadRun run(opt, h.fds, std::move(h.streams), std::move(order), h.run_tag);
  if (opt.transcode) run.set_transcode(&tc);
  if (opt.socket_drops || opt.transcode) count_socket_drops(h, run);
  std::string io = opt.io;
  if (!drive(run, &io)) {
    if (!opt.keep_calls && !opt.direct) delete_calls(ng, h.calls, opt.ng_timeout_ms);
    return 1;
  }
  const int delete_errors = opt.keep_calls || opt.direct ? 0 : delete_calls(ng, h.calls, opt.ng_timeout_ms);
  report(opt, run, setup, delete_errors, io, relay_rss_before_kb);
  return run.window_done() ? 0 : 1;  // 1: interrupted before the window ended
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const auto exit_status = parse_options(argc, argv, &opt)) return *exit_status;

  const auto ng_addr = opt.direct && opt.ng.empty() ? Endpoint{} : Endpoint::parse(opt.ng);
  const auto sides = call_sides(opt, ng_addr);
  if (!sides) return 2;
  Harness h{.opt = opt, .sides = *sides};
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  prctl(PR_SET_TIMERSLACK, 1000UL);  // ticks are a few hundred µs: default 50 µs slack is too coarse
  if (opt.wr.calls > 0) return run_webrtc(opt, *ng_addr, sides->local_a);
  if (opt.flood.rate > 0) return run_ng_flood(opt, *ng_addr, sides->local_a);

  const size_t nsock = size_t(opt.calls) * 2;
  if (!raise_fd_limit(rlim_t(nsock + 64))) {
    std::fprintf(stderr, "voxload: RLIMIT_NOFILE too low for %zu sockets\n", nsock);
    return 1;
  }

  std::random_device rd;
  h.run_tag = rd();
  char run_id[16];
  std::snprintf(run_id, sizeof run_id, "%08x", h.run_tag);
  h.run_id = run_id;
  if (!open_media_sockets(h, nsock)) return 1;

  // --transcode: the audio tables (libopus encodes B's packets once, here).
  TranscodeLoad tc;
  if (opt.transcode) {
    if (auto e = tc.init(opt.tc, nsock)) {
      std::fprintf(stderr, "voxload: %s\n", e->c_str());
      return 1;
    }
  }
  const long relay_rss_before_kb = opt.relay_pid ? process_rss_kb(opt.relay_pid) : -1;

  std::fprintf(stderr, "voxload: run %s, setting up %d %scalls via %s\n", run_id, opt.calls,
               opt.transcode ? "transcoded " : "", opt.direct ? "nothing (--direct)" : opt.ng.c_str());
  NgClient ng(*ng_addr);  // unused with --direct
  h.calls.resize(size_t(opt.calls));
  h.streams.resize(nsock);
  const SetupReport setup = set_up_calls(h, ng, opt.transcode ? &tc : nullptr, rd);
  std::fprintf(stderr, "voxload: %d calls up in %.2f s, %d errors%s%s\n", setup.up, setup.seconds, setup.errors,
               setup.first_error.empty() ? "" : "; first: ", setup.first_error.c_str());

  const int status = run_load(h, ng, tc, setup, relay_rss_before_kb);
  for (int fd : h.fds) ::close(fd);
  return status;
}
