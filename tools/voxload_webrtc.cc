// voxload --webrtc-calls: runs WebRTC load calls (voxload_webrtc_call.h) on
// --concurrency threads, either whole calls one after another per thread
// (mode calls) or phase by phase over all calls (mode phases), and reports
// per-call latency percentiles and the relay's CPU and RSS per phase.
#include "voxload_webrtc.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "voxload_histogram.h"
#include "voxload_options.h"
#include "voxload_run.h"
#include "voxload_sockets.h"
#include "voxload_usage.h"
#include "voxload_webrtc_call.h"

namespace voxload {

namespace {

using vox::control::NgClient;
namespace webrtc = vox::control::webrtc;

struct PhaseResult {
  std::string name;
  int ok = 0, errors = 0;
  std::string first_error{};
  double wall_s = 0, relay_cpu_s = -1;
  long rss_kb = -1;  // the relay's, after the phase
  double packets = 0;  // media phase: sent
  double delivered = 0;
};

class Runner {
 public:
  Runner(const Options& opt, const vox::Endpoint& ng, WebrtcShared shared)
      : opt_(opt), w_(opt.wr), ng_addr_(ng), s_(std::move(shared)), calls_(size_t(opt.wr.calls)) {
    for (size_t i = 0; i < calls_.size(); ++i) calls_[i].index = uint32_t(i);
  }

  int run() {
    rss_before_ = opt_.relay_pid ? process_rss_kb(opt_.relay_pid) : -1;
    if (w_.mode == "calls") {
      phase("call", [&](NgClient& ng, WebrtcCall& c) -> std::optional<std::string> {
        auto e = step_open(c);
        if (!e) e = webrtc_negotiate(ng, s_, c);
        if (!e) e = webrtc_ice_check(s_, c);
        if (!e) e = webrtc_handshake(s_, c);
        if (!e) e = webrtc_first_packet(s_, c);
        if (auto d = webrtc_delete(ng, s_, c); d && !e) e = d;
        close_call(c);
        return e;
      });
    } else {
      phase("negotiate", [&](NgClient& ng, WebrtcCall& c) {
        auto e = step_open(c);
        return e ? e : webrtc_negotiate(ng, s_, c);
      });
      phase("ice", [&](NgClient&, WebrtcCall& c) { return alive(c) ? webrtc_ice_check(s_, c) : skipped(); });
      if (w_.split_handshake)
        phase("handshake_half",
              [&](NgClient&, WebrtcCall& c) { return alive(c) ? webrtc_handshake_first(s_, c) : skipped(); });
      phase("handshake", [&](NgClient&, WebrtcCall& c) { return alive(c) ? webrtc_handshake(s_, c) : skipped(); });
      phase("first_packet", [&](NgClient&, WebrtcCall& c) { return alive(c) ? webrtc_first_packet(s_, c) : skipped(); });
      if (w_.media_s > 0) media_phase();
      if (w_.hold_s > 0) hold_phase();
      phase("delete", [&](NgClient& ng, WebrtcCall& c) {
        auto e = webrtc_delete(ng, s_, c);
        close_call(c);
        return e;
      });
    }
    report();
    return failed_ ? 1 : 0;
  }

 private:
  static std::optional<std::string> skipped() { return std::string("skipped: an earlier step failed"); }
  bool alive(const WebrtcCall& c) const { return c.up && !c_failed_[c.index]; }

  std::optional<std::string> step_open(WebrtcCall& c) {
    c.fd_browser = open_media_socket(s_.local, &c.port_browser);
    c.fd_plain = open_media_socket(s_.local, &c.port_plain);
    if (c.fd_browser < 0 || c.fd_plain < 0) return std::string("cannot open sockets");
    return std::nullopt;
  }
  static void close_call(WebrtcCall& c) {
    if (c.fd_browser >= 0) ::close(c.fd_browser);
    if (c.fd_plain >= 0) ::close(c.fd_plain);
    c.fd_browser = c.fd_plain = -1;
    c.dtls.reset();
    c.srtp.reset();
  }

  double relay_cpu() const { return opt_.relay_pid ? process_cpu_seconds(opt_.relay_pid) : -1; }

  // fn over every call, w_.concurrency at a time (one thread each, each its
  // own NG socket), the relay's CPU sampled at the edges.
  void phase(const std::string& name, const std::function<std::optional<std::string>(NgClient&, WebrtcCall&)>& fn) {
    PhaseResult r{.name = name};
    std::atomic<size_t> next{0};
    std::mutex mu;
    const double cpu0 = relay_cpu();
    const int64_t t0 = mono_ns();
    auto worker = [&] {
      NgClient ng(ng_addr_);
      for (size_t i; (i = next.fetch_add(1)) < calls_.size() && !g_stop;) {
        auto e = fn(ng, calls_[i]);
        std::lock_guard lock(mu);
        if (e) {
          c_failed_[i] = true;
          if (!e->starts_with("skipped")) {
            ++r.errors;
            if (r.first_error.empty()) r.first_error = "call " + std::to_string(i) + ": " + *e;
          }
        } else {
          ++r.ok;
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < w_.concurrency; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    r.wall_s = double(mono_ns() - t0) / 1e9;
    const double cpu1 = relay_cpu();
    if (cpu0 >= 0 && cpu1 >= 0) r.relay_cpu_s = cpu1 - cpu0;
    r.rss_kb = opt_.relay_pid ? process_rss_kb(opt_.relay_pid) : -1;
    if (r.errors) failed_ = true;
    std::fprintf(stderr, "voxload: webrtc %s: %d ok, %d errors in %.2f s, relay CPU %.3f s, RSS %ld kB%s%s\n",
                 name.c_str(), r.ok, r.errors, r.wall_s, r.relay_cpu_s, r.rss_kb, r.first_error.empty() ? "" : "; first: ",
                 r.first_error.c_str());
    phases_.push_back(std::move(r));
  }

  // Paced SRTP (or RTP) from every connected browser to the relay, round
  // robin, w_.media_pps in total; the plain peers' sockets drained by epoll.
  void media_phase() {
    PhaseResult r{.name = "media"};
    std::vector<WebrtcCall*> live;
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (auto& c : calls_) {
      if (!alive(c)) continue;
      live.push_back(&c);
      epoll_event ev{.events = EPOLLIN, .data = {.fd = c.fd_plain}};
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd_plain, &ev);
    }
    if (live.empty()) {
      ::close(ep);
      return;
    }
    uint8_t buf[2048];
    epoll_event evs[64];
    auto drain = [&](int timeout_ms) {
      const int n = epoll_wait(ep, evs, 64, timeout_ms);
      for (int i = 0; i < n; ++i)
        while (::recv(evs[i].data.fd, buf, sizeof buf, 0) > 0) r.delivered += 1;
    };
    const double cpu0 = relay_cpu();
    const int64_t t0 = mono_ns(), end = t0 + int64_t(w_.media_s * 1e9);
    uint64_t sent = 0;
    for (int64_t now = t0; now < end && !g_stop; now = mono_ns()) {
      const uint64_t due = uint64_t(double(now - t0) * w_.media_pps / 1e9);
      for (; sent < due; ++sent) {
        WebrtcCall& c = *live[sent % live.size()];
        sockaddr_storage ss{};
        const socklen_t sl = c.relay_for_browser.to_sockaddr(&ss);
        if (const size_t n = webrtc_media_packet(c, buf, sizeof buf))
          (void)::sendto(c.fd_browser, buf, n, 0, reinterpret_cast<sockaddr*>(&ss), sl);
      }
      drain(1);
    }
    const int64_t stop = mono_ns();
    for (int64_t t = stop; mono_ns() < t + 200'000'000;) drain(10);  // late arrivals still count
    const double cpu1 = relay_cpu();
    ::close(ep);
    r.wall_s = double(stop - t0) / 1e9;
    if (cpu0 >= 0 && cpu1 >= 0) r.relay_cpu_s = cpu1 - cpu0;
    r.packets = double(sent);
    r.ok = int(live.size());
    r.rss_kb = opt_.relay_pid ? process_rss_kb(opt_.relay_pid) : -1;
    std::fprintf(stderr, "voxload: webrtc media: %zu calls, %.0f sent, %.0f delivered in %.2f s, relay %.2f us/packet\n",
                 live.size(), r.packets, r.delivered, r.wall_s, r.relay_cpu_s * 1e6 / std::max(1.0, r.packets));
    phases_.push_back(std::move(r));
  }

  // Waits with every call up, answering the relay's STUN (consent, RFC 7675)
  // so a full-ICE relay keeps the calls; then one more RSS sample.
  void hold_phase() {
    PhaseResult r{.name = "hold"};
    const int64_t t0 = mono_ns(), end = t0 + int64_t(w_.hold_s * 1e9);
    const double cpu0 = relay_cpu();
    while (mono_ns() < end && !g_stop) {
      for (auto& c : calls_)
        if (alive(c)) webrtc_serve_stun(c);
      usleep(50'000);
    }
    const double cpu1 = relay_cpu();
    r.wall_s = double(mono_ns() - t0) / 1e9;
    if (cpu0 >= 0 && cpu1 >= 0) r.relay_cpu_s = cpu1 - cpu0;
    r.rss_kb = opt_.relay_pid ? process_rss_kb(opt_.relay_pid) : -1;
    for (auto& c : calls_) r.ok += alive(c);
    std::fprintf(stderr, "voxload: webrtc hold %.1f s: RSS %ld kB\n", r.wall_s, r.rss_kb);
    phases_.push_back(std::move(r));
  }

  void report() const {
    LatencyHistogram offer, answer, ice, hs, first, del;
    int client_role = 0, server_role = 0;
    std::string cipher, profile;
    for (const auto& c : calls_) {
      if (c.offer_ns) offer.add(uint64_t(c.offer_ns));
      if (c.answer_ns) answer.add(uint64_t(c.answer_ns));
      if (c.ice_ns) ice.add(uint64_t(c.ice_ns));
      if (c.handshake_ns) {
        hs.add(uint64_t(c.handshake_ns));
        (c.dtls_client ? client_role : server_role) += 1;
        if (cipher.empty()) cipher = c.cipher, profile = c.profile;
      }
      if (c.first_packet_ns) first.add(uint64_t(c.first_packet_ns));
      if (c.delete_ns) del.add(uint64_t(c.delete_ns));
    }
    std::ostringstream j;
    j.setf(std::ios::fixed);
    j.precision(3);
    j << "{\"mode\":\"" << w_.mode << "\",\"leg\":\"" << w_.leg << "\",\"calls\":" << w_.calls
      << ",\"concurrency\":" << w_.concurrency << ",\"relay_rss_before_kb\":" << rss_before_
      << ",\"dtls_client\":" << client_role << ",\"dtls_server\":" << server_role << ",\"cipher\":\"" << cipher
      << "\",\"srtp_profile\":\"" << profile << "\"";
    auto hist = [&](const char* name, const LatencyHistogram& h) {
      j << ",\"" << name << "_n\":" << h.total() << ",\"" << name << "_p50_us\":" << h.quantile_ns(0.5) / 1e3 << ",\""
        << name << "_p99_us\":" << h.quantile_ns(0.99) / 1e3 << ",\"" << name << "_max_us\":" << double(h.max()) / 1e3;
    };
    hist("offer", offer);
    hist("answer", answer);
    hist("ice", ice);
    hist("handshake", hs);
    hist("first_packet", first);
    hist("delete", del);
    j << ",\"phases\":[";
    for (size_t i = 0; i < phases_.size(); ++i) {
      const auto& p = phases_[i];
      j << (i ? "," : "") << "{\"name\":\"" << p.name << "\",\"ok\":" << p.ok << ",\"errors\":" << p.errors
        << ",\"wall_s\":" << p.wall_s << ",\"relay_cpu_s\":" << p.relay_cpu_s << ",\"rss_kb\":" << p.rss_kb
        << ",\"packets\":" << p.packets << ",\"delivered\":" << p.delivered;
      if (p.relay_cpu_s >= 0 && p.ok > 0)
        j << ",\"relay_cpu_us_per_call\":" << p.relay_cpu_s * 1e6 / p.ok;
      if (p.packets > 0 && p.relay_cpu_s >= 0) j << ",\"relay_cpu_us_per_packet\":" << p.relay_cpu_s * 1e6 / p.packets;
      std::string err = p.first_error;
      for (auto& ch : err)
        if (ch == '"' || ch == '\\') ch = '\'';
      j << ",\"first_error\":\"" << err << "\"}";
    }
    j << "]}";
    std::fprintf(stderr,
                 "voxload: webrtc: offer p50 %.0f us, answer p50 %.0f us, ICE p50 %.0f us, handshake p50 %.0f / p99 "
                 "%.0f us (%d as client, %d as server, %s %s), first packet p50 %.0f / p99 %.0f us\n",
                 offer.quantile_ns(0.5) / 1e3, answer.quantile_ns(0.5) / 1e3, ice.quantile_ns(0.5) / 1e3,
                 hs.quantile_ns(0.5) / 1e3, hs.quantile_ns(0.99) / 1e3, client_role, server_role, cipher.c_str(),
                 profile.c_str(), first.quantile_ns(0.5) / 1e3, first.quantile_ns(0.99) / 1e3);
    if (opt_.json) std::printf("%s\n", j.str().c_str());
  }

  const Options& opt_;
  const WebrtcOptions& w_;
  vox::Endpoint ng_addr_;
  WebrtcShared s_;
  std::vector<WebrtcCall> calls_;
  std::vector<char> c_failed_ = std::vector<char>(calls_.size(), 0);
  std::vector<PhaseResult> phases_;
  long rss_before_ = -1;
  bool failed_ = false;
};

}  // namespace

int run_webrtc(const Options& opt, const vox::Endpoint& ng, const vox::IpAddr& local) {
  const auto& w = opt.wr;
  if (!raise_fd_limit(rlim_t(2 * (w.mode == "calls" ? w.concurrency : w.calls) + 64))) {
    std::fprintf(stderr, "voxload: RLIMIT_NOFILE too low for %d calls\n", w.calls);
    return 1;
  }
  WebrtcShared s;
  auto ctx = webrtc::DtlsContext::create({});  // a fresh ECDSA P-256 certificate, as a browser has
  if (!ctx.ok()) {
    std::fprintf(stderr, "voxload: DTLS context: %s\n", ctx.error().c_str());
    return 1;
  }
  s.dtls = ctx.value().get();
  s.leg = w.leg == "sdes" ? WebrtcLeg::kSdes : w.leg == "plain" ? WebrtcLeg::kPlain : WebrtcLeg::kDtls;
  const auto suite = vox::dataplane::srtp_suite_from_name(w.sdes_suite);
  if (!suite) {
    std::fprintf(stderr, "voxload: unknown --sdes-suite %s\n", w.sdes_suite.c_str());
    return 2;
  }
  s.sdes_suite = *suite;
  s.local = local;
  char run_id[16];
  std::snprintf(run_id, sizeof run_id, "%08x", std::random_device{}());
  s.run_id = run_id;
  s.ng_timeout_ms = opt.ng_timeout_ms;
  s.step_timeout_ms = w.step_timeout_ms;
  std::fprintf(stderr, "voxload: run %s, %d WebRTC calls (%s leg, mode %s, %d in flight) via %s\n", run_id, w.calls,
               w.leg.c_str(), w.mode.c_str(), w.concurrency, ng.to_string().c_str());
  Runner r(opt, ng, std::move(s));
  return r.run();
}

}  // namespace voxload
