// voxload: the load harness. Sets up N calls on an NG relay (voxrelay or
// rtpengine), sends paced 20 ms G.711 RTP both ways through it, and reports
// offered/delivered pps, loss, misrouting and one-way latency percentiles.
// One thread; io_uring (epoll as a fallback) so the generator's cost is the
// kernel's UDP path, not syscalls. --transcode: PCMU from A, Opus from B, the
// relay asked to transcode (voxload_transcode.h explains what is measured).
// Output: text, or with --json exactly one JSON line on stdout; progress and
// "voxload: window start|end" on stderr.
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "control/ng_client.h"
#include "base/bytes.h"
#include "base/endpoint.h"
#include "voxload_transcode.h"

namespace {

using vox::Endpoint;
using vox::control::NgClient;
using vox::control::NgValue;

// ---------------------------------------------------------------- time

int64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
constexpr int64_t kNsPerSec = 1'000'000'000;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// ---------------------------------------------------------------- options

struct Options {
  std::string ng;
  int calls = 0;
  double pps_per_stream = 50;  // 20 ms packetization
  double rate = 0;             // total pps over all streams; 0 = pps_per_stream x streams
  double duration = 10;
  double warmup = 2;
  std::string local = "127.0.0.1";
  std::string local_b;  // B's (callee's) media sockets; empty = --local
  std::vector<std::string> direction;  // NG interface names: [facing A, facing B]; empty = relay's default
  int payload = 172;  // UDP payload bytes: 12 RTP header + 160 µ-law samples
  bool json = false;
  bool keep_calls = false;
  int tick_us = 200;
  std::string io = "uring";
  int relay_pid = 0;
  int ng_timeout_ms = 1000;
  int drain_ms = 200;  // after the window: packets arriving later count as lost
  bool direct = false;  // calibration: no relay, A and B send to each other
  bool transcode = false;  // A offers PCMU, B answers Opus: the relay transcodes both ways
  bool socket_drops = false;  // read /proc/net/udp drops at the window's edges (always with --transcode)
  voxload::TranscodeOptions tc;
};

// ---------------------------------------------------------------- latency histogram

// Log-linear buckets: 32 per power of two (≤ 3 % relative error) over the
// whole uint64 range, so percentiles need no stored samples.
class LatencyHistogram {
 public:
  void add(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  // Midpoint of the bucket holding the q-quantile (q in [0, 1]).
  double quantile_ns(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = uint64_t(q * double(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return midpoint(i);
    }
    return double(max_);
  }

 private:
  static constexpr int kSubBits = 5;
  static constexpr size_t kSub = size_t(1) << kSubBits;
  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    const int msb = std::bit_width(v) - 1;
    const uint64_t mantissa = v >> (msb - kSubBits);  // in [kSub, 2 kSub)
    return size_t(msb - kSubBits + 1) * kSub + size_t(mantissa - kSub);
  }
  static double midpoint(size_t i) {
    if (i < kSub) return double(i);
    const int shift = int(i / kSub) - 1;
    const double lower = double((kSub + i % kSub) << shift);
    return lower + double(uint64_t(1) << shift) / 2;
  }
  std::array<uint64_t, (64 - kSubBits + 1) * kSub> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

// ---------------------------------------------------------------- packet format

// Inside the RTP payload (the relay forwards it untouched):
//   magic(4) run_tag(4) call(4) direction(1) pad(3) counter(4) send_ns(8)
// counter is a per-stream 32-bit packet number (RTP's 16-bit sequence wraps
// within 22 minutes at 50 pps and may be rewritten by a relay).
constexpr size_t kRtpHeader = 12;
constexpr size_t kMarkerSize = 28;
constexpr size_t kMinPayload = kRtpHeader + kMarkerSize;
constexpr uint32_t kMagic = 0x564c4f44;  // "VLOD"

struct Marker {
  uint32_t call;
  uint8_t direction;
  uint32_t counter;
  int64_t send_ns;
};

std::optional<Marker> parse_marker(const uint8_t* p, size_t len, uint32_t run_tag) {
  // RFC 3550 §5.1: version 2 in the top two bits.
  if (len < kMinPayload || (p[0] >> 6) != 2) return std::nullopt;
  const uint8_t* m = p + kRtpHeader;
  if (vox::load_be32(m) != kMagic || vox::load_be32(m + 4) != run_tag) return std::nullopt;
  return Marker{vox::load_be32(m + 8), m[12], vox::load_be32(m + 16), int64_t(vox::load_be64(m + 20))};
}

// ---------------------------------------------------------------- SDP

std::string make_sdp(const vox::IpAddr& ip, uint16_t port, uint64_t session_id) {
  std::ostringstream s;
  s << voxload::sdp_session_lines(ip, session_id)
    << "m=audio " << port << " RTP/AVP 0 101\r\n"
    << "a=rtpmap:0 PCMU/8000\r\n"
    << "a=rtpmap:101 telephone-event/8000\r\n"
    << "a=fmtp:101 0-16\r\n"
    << "a=ptime:20\r\n"
    << "a=sendrecv\r\n";
  return s.str();
}

// The relay's media address for the first audio stream: the m= port, and the
// media-level c= address if present, else the session-level one.
std::optional<Endpoint> parse_sdp_media(std::string_view sdp) {
  std::optional<vox::IpAddr> session_addr, media_addr;
  int port = -1;
  bool in_audio = false, seen_media = false;
  while (!sdp.empty()) {
    size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == std::string_view::npos ? std::string_view() : sdp.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("m=")) {
      if (in_audio) break;  // only the first audio stream matters
      seen_media = true;
      if (line.starts_with("m=audio ")) {
        in_audio = true;
        port = std::atoi(std::string(line.substr(8)).c_str());
      }
    } else if (line.starts_with("c=IN IP4 ") || line.starts_with("c=IN IP6 ")) {
      std::string_view a = line.substr(9);
      a = a.substr(0, a.find('/'));  // multicast TTL suffix
      auto ip = vox::IpAddr::parse(a);
      if (!seen_media)
        session_addr = ip;
      else if (in_audio)
        media_addr = ip;
    }
  }
  const auto& addr = media_addr ? media_addr : session_addr;
  if (!addr || port <= 0 || port > 65535 || addr->is_unspecified()) return std::nullopt;
  return Endpoint{*addr, uint16_t(port)};
}

// ---------------------------------------------------------------- calls over NG

struct Call {
  std::string call_id, from_tag, to_tag;
  bool up = false;
};

struct SetupReport {
  int up = 0;
  int errors = 0;
  std::string first_error;
  double seconds = 0;
};

// Where each side's media sockets live and which relay interface faces it.
struct CallSides {
  vox::IpAddr local_a, local_b;
  std::vector<std::string> direction;  // empty, or [interface facing A, interface facing B]
};

// Offer from side A (its socket's port), answer from side B; returns where A
// and B must send (relay ports P_A and P_B). With tc (--transcode) the offer
// asks for Opus and B answers with the Opus payload type the relay offered.
std::optional<std::string> setup_call(NgClient& ng, Call& call, const CallSides& sides, uint16_t port_a,
                                      uint16_t port_b, uint64_t session_id, int timeout_ms, Endpoint* to_relay_from_a,
                                      Endpoint* to_relay_from_b, voxload::TranscodeLoad* tc = nullptr,
                                      uint32_t call_index = 0) {
  std::string offer_to_b;
  auto request = [&](const char* command, const std::string& sdp, bool answer) -> std::optional<std::string> {
    NgValue req = NgValue::dict();
    req.set("command", command);
    req.set("call-id", call.call_id);
    req.set("from-tag", call.from_tag);
    if (answer) req.set("to-tag", call.to_tag);
    req.set("sdp", sdp);
    NgValue replace = NgValue::list();
    replace.push(NgValue::str("origin"));
    replace.push(NgValue::str("session-connection"));
    req.set("replace", std::move(replace));
    if (tc && !answer) req.set("codec", voxload::TranscodeLoad::offer_codec_dict());
    // The relay picks a call's interfaces when the offer creates it (as
    // rtpengine does): the answer needs no direction of its own.
    if (!answer && !sides.direction.empty()) {
      NgValue direction = NgValue::list();
      for (const auto& name : sides.direction) direction.push(NgValue::str(name));
      req.set("direction", std::move(direction));
    }
    auto reply = ng.call(req, timeout_ms, 2);
    if (!reply.ok()) return std::string(command) + ": " + reply.error();
    if (reply->find_string("result") != "ok") {
      const auto reason = reply->find_string("error-reason").value_or(reply->find_string("result").value_or("?"));
      return std::string(command) + ": " + std::string(reason);
    }
    const auto sdp_out = reply->find_string("sdp");
    const auto media = sdp_out ? parse_sdp_media(*sdp_out) : std::nullopt;
    if (!media) return std::string(command) + ": no usable m=audio/c= in the returned SDP";
    *(answer ? to_relay_from_a : to_relay_from_b) = *media;
    if (!answer) offer_to_b = std::string(*sdp_out);
    return std::nullopt;
  };
  // The offer's SDP goes to B: its port is where B sends. The answer's goes to A.
  if (auto e = request("offer", make_sdp(sides.local_a, port_a, session_id), false)) return e;
  std::string answer_sdp = make_sdp(sides.local_b, port_b, session_id + 1);
  if (tc) {
    if (auto e = tc->answer_sdp(call_index, offer_to_b, sides.local_b, port_b, session_id + 1, &answer_sdp))
      return "offer: " + *e;
  }
  if (auto e = request("answer", answer_sdp, true)) return e;
  call.up = true;
  return std::nullopt;
}

int delete_calls(NgClient& ng, const std::vector<Call>& calls, int timeout_ms) {
  int errors = 0;
  for (const auto& call : calls) {
    if (!call.up) continue;
    NgValue req = NgValue::dict();
    req.set("command", "delete");
    req.set("call-id", call.call_id);
    req.set("from-tag", call.from_tag);
    auto reply = ng.call(req, timeout_ms, 2);
    if (!reply.ok() || reply->find_string("result") != "ok") ++errors;
  }
  return errors;
}

// ---------------------------------------------------------------- sockets

bool raise_fd_limit(rlim_t needed) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= needed) return true;
  if (rl.rlim_max < needed) rl.rlim_max = needed;  // works as root only
  rl.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return true;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur >= needed;
}

// A non-blocking UDP socket on an ephemeral port of local, with kernel
// receive timestamps (so latency excludes the generator's own batching).
int open_media_socket(const vox::IpAddr& local, uint16_t* port) {
  sockaddr_storage ss{};
  const socklen_t len = Endpoint{local, 0}.to_sockaddr(&ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  const int rcvbuf = 1 << 20;  // bursts of a tick's worth of packets per socket
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t got = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got);
  *port = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).port;
  return fd;
}

// ---------------------------------------------------------------- relay CPU

// utime + stime (fields 14 and 15 of /proc/PID/stat) in seconds; -1 if unreadable.
double process_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  const size_t paren = line.rfind(')');  // comm may contain spaces
  if (paren == std::string::npos) return -1;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// Busy time of the whole machine (every core), in seconds, from /proc/stat:
// compared with the relay's and our own CPU time it shows how much other
// work shared the cores during the window (it skews every figure).
double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return -1;
  return double(user + nice + system + irq + softirq + steal) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------- the load itself

// Stream s = 2 * call + direction; direction 0 is A -> B (sent from socket
// 2c, received at socket 2c + 1), 1 is B -> A. So a packet of stream s must
// arrive at socket s ^ 1.
struct Stream {
  sockaddr_storage dest{};  // the relay port this side sends to
  socklen_t dest_len = 0;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t rtp_ts = 0;
  uint32_t next_counter = 0;
  // Receiver: sliding 128-packet duplicate window over counters.
  bool rx_seen = false;
  uint32_t rx_top = 0;
  uint64_t rx_bits[2] = {0, 0};
};

struct Counters {
  uint64_t sent = 0, sent_window = 0, send_errors = 0, send_busy = 0, behind = 0;
  uint64_t received = 0, received_window = 0, duplicates = 0, misrouted = 0, invalid = 0, too_late = 0;
  uint64_t recv_errors = 0, rearms = 0;
  int first_send_errno = 0;
  // --transcode: what arrived that is not a mapped media packet (all but rtcp
  // also count as invalid), and arrivals that map to a later send.
  uint64_t rtcp = 0, wrong_pt = 0, wrong_size = 0, unmatched = 0, latency_negative = 0;
};

class LoadRun {
 public:
  LoadRun(const Options& opt, std::vector<int> fds, std::vector<Stream> streams, std::vector<uint32_t> order,
          uint32_t run_tag)
      : opt_(opt), fds_(std::move(fds)), streams_(std::move(streams)), order_(std::move(order)), run_tag_(run_tag) {
    rate_ = opt.rate > 0 ? opt.rate : opt.pps_per_stream * double(order_.size());
    // Catch-up after a stall is bounded: beyond 50 ms of backlog the
    // generator skips (counted as `behind`) rather than bursting.
    max_backlog_ = std::max<uint64_t>(64, uint64_t(rate_ * 0.05));
  }

  void start(int64_t now) {
    t0_ = now;
    window_start_ = now + int64_t(opt_.warmup * kNsPerSec);
    window_end_ = window_start_ + int64_t(opt_.duration * kNsPerSec);
    drain_end_ = window_end_ + int64_t(opt_.drain_ms) * 1'000'000;  // stragglers still in the relay
    tick_ns_ = int64_t(opt_.tick_us) * 1000;
    refresh_clock_offset();
  }

  // Window bookkeeping; false once the run is over.
  bool advance(int64_t now) {
    if (!in_window_ && !window_closed_ && now >= window_start_) {
      in_window_ = true;
      relay_cpu_start_ = opt_.relay_pid ? process_cpu_seconds(opt_.relay_pid) : -1;
      self_cpu_start_ = self_cpu_seconds();
      machine_busy_start_ = machine_busy_seconds();
      if (count_drops_) drops_start_ = voxload::socket_drops(relay_ports_, own_ports_);
      window_real_start_ = now;
      std::fprintf(stderr, "voxload: window start\n");
    }
    if (in_window_ && (now >= window_end_ || g_stop)) {
      in_window_ = false;
      window_done_ = !g_stop;
      window_closed_ = true;  // early on SIGINT/SIGTERM: the report covers what ran
      relay_cpu_end_ = opt_.relay_pid ? process_cpu_seconds(opt_.relay_pid) : -1;
      self_cpu_end_ = self_cpu_seconds();
      machine_busy_end_ = machine_busy_seconds();
      if (count_drops_) drops_end_ = voxload::socket_drops(relay_ports_, own_ports_);
      relay_rss_kb_ = opt_.relay_pid ? voxload::process_rss_kb(opt_.relay_pid) : -1;
      window_real_end_ = now;
      std::fprintf(stderr, "voxload: window end\n");
    }
    refresh_clock_offset();
    return now < drain_end_ && !g_stop;
  }
  bool sending(int64_t now) const { return now < window_end_ && !g_stop; }
  int64_t next_tick(int64_t now) const { return std::min(now + tick_ns_, drain_end_); }

  // Packets due by now (packet k is due at t0 + k / rate), bounded backlog.
  uint64_t due(int64_t now) {
    const uint64_t target = uint64_t(double(now - t0_) * rate_ / 1e9) + 1;
    if (target > issued_ + max_backlog_) {
      counters_.behind += target - max_backlog_ - issued_;
      issued_ = target - max_backlog_;
    }
    return target > issued_ ? target - issued_ : 0;
  }
  // The stream of the next packet: round robin over streams, so each stream
  // gets rate / streams pps with evenly staggered phases.
  uint32_t take_next_stream() { return order_[issued_++ % order_.size()]; }
  void skip_packet() { ++counters_.send_busy; }

  // Writes a full packet for stream s into p (payload_ bytes; the µ-law
  // filler after the marker was written once) and returns its length;
  // *in_window: whether it is in the window. --transcode: PCMU or Opus
  // audio from the tables, the whole packet written here.
  size_t build_packet(uint32_t s, uint8_t* p, int64_t stamp, bool* in_window) {
    Stream& st = streams_[s];
    *in_window = stamp >= window_start_ && stamp < window_end_;
    if (tc_) {
      const uint32_t counter = st.next_counter++;
      p[0] = 0x80;
      p[1] = tc_->send_pt(s);
      tc_->on_build(s, counter, stamp, st.seq);
      vox::store_be16(p + 2, st.seq++);
      vox::store_be32(p + 4, st.rtp_ts);
      st.rtp_ts += tc_->send_ts_step(s);
      vox::store_be32(p + 8, st.ssrc);
      return kRtpHeader + tc_->write_payload(s, counter, p + kRtpHeader);
    }
    p[0] = 0x80;  // V=2, no padding/extension/CSRC
    p[1] = 0;     // M=0, PT 0 (PCMU)
    vox::store_be16(p + 2, st.seq++);
    vox::store_be32(p + 4, st.rtp_ts);
    st.rtp_ts += 160;  // 20 ms at 8 kHz
    vox::store_be32(p + 8, st.ssrc);
    uint8_t* m = p + kRtpHeader;
    vox::store_be32(m, kMagic);
    vox::store_be32(m + 4, run_tag_);
    vox::store_be32(m + 8, s >> 1);
    m[12] = uint8_t(s & 1);
    m[13] = m[14] = m[15] = 0;
    vox::store_be32(m + 16, st.next_counter++);
    vox::store_be64(m + 20, uint64_t(stamp));
    return size_t(opt_.payload);
  }

  void on_sent(bool in_window) {
    ++counters_.sent;
    if (in_window) ++counters_.sent_window;
  }
  void on_send_error(int err) {
    ++counters_.send_errors;
    if (!counters_.first_send_errno) counters_.first_send_errno = err;
  }

  // rx_realtime: the kernel's receive timestamp, 0 if missing.
  void on_receive(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime) {
    ++counters_.received;
    if (tc_) return on_receive_transcoded(sock, p, len, rx_realtime);
    const auto m = parse_marker(p, len, run_tag_);
    if (!m || m->direction > 1 || m->call >= streams_.size() / 2) {
      ++counters_.invalid;
      return;
    }
    const uint32_t s = m->call * 2 + m->direction;
    if (s != (sock ^ 1)) {
      ++counters_.misrouted;
      return;
    }
    switch (track_duplicate(streams_[s], m->counter)) {
      case Seen::kDuplicate: ++counters_.duplicates; return;
      case Seen::kTooOld: ++counters_.too_late; break;  // beyond the window: counted once, unchecked
      case Seen::kNew: break;
    }
    if (m->send_ns < window_start_ || m->send_ns >= window_end_) return;
    ++counters_.received_window;
    const int64_t rx = rx_realtime ? rx_realtime - realtime_minus_mono_ : mono_ns();
    latency_.add(uint64_t(std::max<int64_t>(0, rx - m->send_ns)));
  }

  // --transcode: a packet at socket sock is output of stream sock ^ 1; its
  // input packet is found from its RTP timestamp (voxload_transcode.h).
  void on_receive_transcoded(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime) {
    using Rx = voxload::TranscodeLoad::Rx;
    const int64_t rx = rx_realtime ? rx_realtime - realtime_minus_mono_ : mono_ns();
    const uint32_t s = sock ^ 1;
    const auto r = tc_->classify(s, p, len, rx, !in_window_ && !window_closed_);
    switch (r.kind) {
      case Rx::kOk: break;
      case Rx::kRtcp: ++counters_.rtcp; return;  // the relay's own reports: not media, not invalid
      case Rx::kWrongPt: ++counters_.wrong_pt; ++counters_.invalid; return;
      case Rx::kWrongSize: ++counters_.wrong_size; ++counters_.invalid; return;
      case Rx::kUnmatched: ++counters_.unmatched; ++counters_.invalid; return;
      case Rx::kNotRtp: ++counters_.invalid; return;
    }
    if (r.anchor_moved) streams_[s].rx_seen = false;  // warm-up: what was seen mapped elsewhere
    switch (track_duplicate(streams_[s], r.counter)) {
      case Seen::kDuplicate: ++counters_.duplicates; return;
      case Seen::kTooOld: ++counters_.too_late; break;
      case Seen::kNew: break;
    }
    if (r.send_ns < window_start_ || r.send_ns >= window_end_) return;
    ++counters_.received_window;
    const int64_t d = rx - r.send_ns;
    if (d < 0) ++counters_.latency_negative;
    latency_.add(uint64_t(std::max<int64_t>(0, d)));
    latency_dir_[s & 1].add(uint64_t(std::max<int64_t>(0, d)));
    if (r.seq_lag >= 0) {
      ++seq_lag_counts_[r.seq_lag];
      latency_seq_.add(uint64_t(std::max<int64_t>(0, rx - r.seq_send_ns)));
    }
  }

  void set_transcode(voxload::TranscodeLoad* tc) { tc_ = tc; }
  const voxload::TranscodeLoad* transcode() const { return tc_; }
  // Buffer bytes a packet may need.
  size_t packet_capacity() const {
    return tc_ ? std::max(size_t(opt_.payload), tc_->max_packet_size()) : size_t(opt_.payload);
  }
  // --transcode, by stream direction: 0 = A -> B (PCMU in, Opus out), 1 = B -> A.
  const LatencyHistogram& latency_direction(int dir) const { return latency_dir_[dir]; }
  const LatencyHistogram& latency_by_seq() const { return latency_seq_; }
  std::vector<uint64_t> seq_lag_counts() const {
    return std::vector<uint64_t>(std::begin(seq_lag_counts_), std::end(seq_lag_counts_));
  }
  long relay_rss_kb() const { return relay_rss_kb_; }
  // Sockets (/proc/net/udp local_address) whose kernel drops are counted over the window.
  void set_drop_sockets(std::unordered_set<std::string> relay, std::unordered_set<std::string> own) {
    relay_ports_ = std::move(relay);
    own_ports_ = std::move(own);
    count_drops_ = true;
  }
  bool counts_drops() const { return count_drops_; }
  // Datagrams dropped over the window at the relay's media sockets / at ours (-1: unknown).
  long long relay_socket_drops() const {
    return drops_start_.relay >= 0 && drops_end_.relay >= 0 ? drops_end_.relay - drops_start_.relay : -1;
  }
  long long own_socket_drops() const {
    return drops_start_.own >= 0 && drops_end_.own >= 0 ? drops_end_.own - drops_start_.own : -1;
  }

  const Options& opt() const { return opt_; }
  const std::vector<int>& fds() const { return fds_; }
  size_t stream_count() const { return streams_.size(); }
  Stream& stream(uint32_t s) { return streams_[s]; }
  Counters& counters() { return counters_; }
  const LatencyHistogram& latency() const { return latency_; }
  double rate() const { return rate_; }
  double window_seconds() const {
    return window_closed_ ? double(window_real_end_ - window_real_start_) / 1e9 : 0;
  }
  double relay_cpu_seconds() const {
    return relay_cpu_start_ >= 0 && relay_cpu_end_ >= 0 ? relay_cpu_end_ - relay_cpu_start_ : -1;
  }
  double self_cpu_seconds_in_window() const { return self_cpu_end_ - self_cpu_start_; }
  // CPU seconds used by everything but voxload (and the relay, when known).
  double other_cpu_seconds_in_window() const {
    if (machine_busy_start_ < 0 || machine_busy_end_ < 0) return -1;
    const double relay = relay_cpu_seconds();
    return std::max(0.0, machine_busy_end_ - machine_busy_start_ - self_cpu_seconds_in_window() -
                             (relay > 0 ? relay : 0));
  }
  bool window_done() const { return window_done_; }

 private:
  enum class Seen { kNew, kDuplicate, kTooOld };
  static Seen track_duplicate(Stream& st, uint32_t c) {
    if (!st.rx_seen) {
      st.rx_seen = true;
      st.rx_top = c;
      st.rx_bits[0] = 1;
      st.rx_bits[1] = 0;
      return Seen::kNew;
    }
    if (c > st.rx_top) {
      const uint32_t d = c - st.rx_top;
      // Shift the 128-bit window left by d (bit i = counter rx_top - i).
      if (d >= 128) {
        st.rx_bits[0] = st.rx_bits[1] = 0;
      } else if (d >= 64) {
        st.rx_bits[1] = st.rx_bits[0] << (d - 64);
        st.rx_bits[0] = 0;
      } else {
        st.rx_bits[1] = (st.rx_bits[1] << d) | (st.rx_bits[0] >> (64 - d));
        st.rx_bits[0] <<= d;
      }
      st.rx_bits[0] |= 1;
      st.rx_top = c;
      return Seen::kNew;
    }
    const uint32_t d = st.rx_top - c;
    if (d >= 128) return Seen::kTooOld;
    uint64_t& word = st.rx_bits[d / 64];
    const uint64_t bit = uint64_t(1) << (d % 64);
    if (word & bit) return Seen::kDuplicate;
    word |= bit;
    return Seen::kNew;
  }
  // Kernel timestamps are CLOCK_REALTIME, send stamps CLOCK_MONOTONIC; the
  // offset is re-read every tick so NTP slewing cannot accumulate.
  void refresh_clock_offset() { realtime_minus_mono_ = clock_ns(CLOCK_REALTIME) - mono_ns(); }

  const Options& opt_;
  std::vector<int> fds_;
  std::vector<Stream> streams_;
  std::vector<uint32_t> order_;
  uint32_t run_tag_;
  double rate_ = 0;
  uint64_t issued_ = 0, max_backlog_ = 0;
  int64_t t0_ = 0, window_start_ = 0, window_end_ = 0, drain_end_ = 0, tick_ns_ = 0;
  int64_t realtime_minus_mono_ = 0;
  bool in_window_ = false, window_done_ = false, window_closed_ = false;
  int64_t window_real_start_ = 0, window_real_end_ = 0;
  double relay_cpu_start_ = -1, relay_cpu_end_ = -1, self_cpu_start_ = 0, self_cpu_end_ = 0;
  double machine_busy_start_ = -1, machine_busy_end_ = -1;
  Counters counters_;
  LatencyHistogram latency_;
  voxload::TranscodeLoad* tc_ = nullptr;
  LatencyHistogram latency_dir_[2];
  LatencyHistogram latency_seq_;  // by the input the output's sequence number names (seq-preserving relays)
  uint64_t seq_lag_counts_[voxload::TranscodeLoad::kMaxSeqLag + 1] = {};
  std::unordered_set<std::string> relay_ports_, own_ports_;
  bool count_drops_ = false;
  voxload::SocketDrops drops_start_, drops_end_;
  long relay_rss_kb_ = -1;
};

int64_t rx_realtime_from(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- io_uring driver

// Sends: one SEND (with destination) per packet, a tick's packets submitted
// in chunks across all sockets. Receives: one multishot RECVMSG per socket
// drawing from a shared provided-buffer ring, so arrivals cost no syscall
// and are reaped once per tick.
class UringDriver {
 public:
  static constexpr int kSlotsPerStream = 4;  // sends in flight per stream
  static constexpr int kSendChunk = 16;
  static constexpr unsigned kBufCount = 4096;
  static constexpr unsigned kBufSize = 2048;
  static constexpr uint64_t kTagSend = 1ull << 56, kTagRecv = 2ull << 56;

  explicit UringDriver(LoadRun& run) : run_(run) {}
  ~UringDriver() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (buf_ring_) munmap(buf_ring_, kBufCount * sizeof(io_uring_buf));
  }

  std::optional<std::string> init() {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = 65536;
    int rc = io_uring_queue_init_params(4096, &ring_, &p);
    if (rc == -EINVAL) {  // kernels before 6.1 lack DEFER_TASKRUN
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = 65536;
      rc = io_uring_queue_init_params(4096, &ring_, &p);
    }
    if (rc < 0) return std::string("io_uring_queue_init: ") + std::strerror(-rc);
    ring_ok_ = true;
    // SEND with a destination address (kernel 6.0+, so wherever
    // DEFER_TASKRUN (6.1) exists) skips copying a msghdr per packet.
    send_with_addr_ = (p.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    cq_entries_ = p.cq_entries;

    const auto& fds = run_.fds();
    // Fixed files spare the per-operation fd lookup; optional.
    fixed_files_ = io_uring_register_files(&ring_, fds.data(), unsigned(fds.size())) == 0;

    void* mem = mmap(nullptr, kBufCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
                     -1, 0);
    if (mem == MAP_FAILED) return std::string("mmap: ") + std::strerror(errno);
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kBufCount;
    reg.bgid = 0;
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (rc < 0) return std::string("io_uring_register_buf_ring: ") + std::strerror(-rc);
    buffers_.resize(size_t(kBufCount) * kBufSize);
    for (unsigned i = 0; i < kBufCount; ++i)
      io_uring_buf_ring_add(buf_ring_, &buffers_[size_t(i) * kBufSize], kBufSize, uint16_t(i),
                            io_uring_buf_ring_mask(kBufCount), int(i));
    io_uring_buf_ring_advance(buf_ring_, kBufCount);

    // Only the control length matters to multishot recvmsg: no source
    // address (the marker says where a packet belongs), one timestamp cmsg.
    recv_msg_ = msghdr{};
    recv_msg_.msg_controllen = CMSG_SPACE(sizeof(timespec));

    // Send slots: fixed buffers with the µ-law filler written once.
    const size_t payload = size_t(run_.opt().payload);
    const size_t capacity = run_.packet_capacity();  // more than payload with --transcode (Opus)
    slots_.resize(run_.stream_count() * kSlotsPerStream);
    slot_bufs_.assign(slots_.size() * capacity, 0xff);  // 0xff: µ-law silence
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& sl = slots_[i];
      Stream& st = run_.stream(uint32_t(i / kSlotsPerStream));
      sl.iov = iovec{&slot_bufs_[i * capacity], payload};
      sl.msg = msghdr{};
      sl.msg.msg_name = &st.dest;
      sl.msg.msg_namelen = st.dest_len;
      sl.msg.msg_iov = &sl.iov;
      sl.msg.msg_iovlen = 1;
    }
    for (uint32_t s = 0; s < fds.size(); ++s) arm_receive(s);
    return std::nullopt;
  }

  void run() {
    for (int64_t now = mono_ns(); run_.advance(now); now = mono_ns()) {
      if (run_.sending(now)) queue_sends(now);
      const int64_t wait = run_.next_tick(now) - mono_ns();
      __kernel_timespec ts{0, wait > 0 ? wait : 0};
      io_uring_cqe* cqe = nullptr;
      // A large wait_nr: sleep the whole tick and reap everything at once
      // (with DEFER_TASKRUN the receives complete in this call, batched).
      io_uring_submit_and_wait_timeout(&ring_, &cqe, cq_entries_ / 2, &ts, nullptr);
      reap();
    }
  }

 private:
  struct Slot {
    iovec iov;
    msghdr msg;
    bool busy = false;
    bool in_window = false;
  };

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);  // SQ full: flush what is queued
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void set_fd(io_uring_sqe* sqe, uint32_t sock) {
    if (fixed_files_) {
      sqe->fd = int(sock);
      sqe->flags |= IOSQE_FIXED_FILE;
    } else {
      sqe->fd = run_.fds()[sock];
    }
  }

  void arm_receive(uint32_t sock) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return;
    io_uring_prep_recvmsg_multishot(sqe, 0, &recv_msg_, 0);
    set_fd(sqe, sock);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, kTagRecv | sock);
  }

  // Sends go out in chunks of kSendChunk SQEs, each submitted at once: the
  // kernel runs a chunk's sends one after the other inside io_uring_enter,
  // so a packet is stamped with its predicted send moment (chunk start +
  // position x measured cost per send). Without that, a stamp taken at
  // preparation would add the chunk's own sending time to the latency.
  void queue_sends(int64_t now) {
    uint64_t n = run_.due(now);
    while (n > 0) {
      const int64_t chunk_start = mono_ns();
      int queued = 0;
      for (; n > 0 && queued < kSendChunk; --n) {
        const uint32_t s = run_.take_next_stream();
        Slot* slot = nullptr;
        size_t idx = 0;
        for (int k = 0; k < kSlotsPerStream; ++k) {
          idx = size_t(s) * kSlotsPerStream + size_t(k);
          if (!slots_[idx].busy) {
            slot = &slots_[idx];
            break;
          }
        }
        io_uring_sqe* sqe = slot ? get_sqe() : nullptr;
        if (!sqe) {
          run_.skip_packet();  // every slot of this stream still in flight
          continue;
        }
        const int64_t stamp = chunk_start + int64_t((queued + 0.5) * send_cost_ns_);
        slot->iov.iov_len = run_.build_packet(s, static_cast<uint8_t*>(slot->iov.iov_base), stamp, &slot->in_window);
        slot->busy = true;
        if (send_with_addr_) {
          io_uring_prep_send(sqe, 0, slot->iov.iov_base, slot->iov.iov_len, 0);
          sqe->addr2 = reinterpret_cast<uintptr_t>(slot->msg.msg_name);  // liburing 2.4's prep_send_set_addr
          sqe->addr_len = uint16_t(slot->msg.msg_namelen);
        } else {
          io_uring_prep_sendmsg(sqe, 0, &slot->msg, 0);
        }
        set_fd(sqe, s);  // stream s is sent from socket s
        io_uring_sqe_set_data64(sqe, kTagSend | idx);
        ++queued;
      }
      if (queued == 0) continue;
      const int64_t submit_start = mono_ns();
      io_uring_submit(&ring_);
      const double per_send = double(mono_ns() - submit_start) / queued;
      send_cost_ns_ += (per_send - send_cost_ns_) / 16;  // smoothed: one slow chunk barely moves it
    }
  }

  void reap() {
    io_uring_cqe* cqe;
    unsigned head, seen = 0, recycled = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const uint64_t index = tag & ((1ull << 56) - 1);
      if ((tag & ~((1ull << 56) - 1)) == kTagSend) {
        Slot& slot = slots_[index];
        slot.busy = false;
        if (cqe->res >= 0)
          run_.on_sent(slot.in_window);
        else
          run_.on_send_error(-cqe->res);
        continue;
      }
      const uint32_t sock = uint32_t(index);
      if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        const uint16_t bid = uint16_t(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        uint8_t* buf = &buffers_[size_t(bid) * kBufSize];
        if (auto* out = io_uring_recvmsg_validate(buf, cqe->res, &recv_msg_)) {
          int64_t rx_real = 0;
          for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(out, &recv_msg_); c;
               c = io_uring_recvmsg_cmsg_nexthdr(out, &recv_msg_, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
              timespec ts;
              std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
              rx_real = int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
            }
          }
          const auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
          run_.on_receive(sock, payload, io_uring_recvmsg_payload_length(out, cqe->res, &recv_msg_), rx_real);
        }
        io_uring_buf_ring_add(buf_ring_, buf, kBufSize, bid, io_uring_buf_ring_mask(kBufCount), int(recycled++));
      } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
        ++run_.counters().recv_errors;
      }
      // Multishot ends on error or when the buffer ring ran dry: re-arm.
      if (!(cqe->flags & IORING_CQE_F_MORE) && cqe->res != -ECANCELED) {
        ++run_.counters().rearms;
        pending_rearm_.push_back(sock);
      }
    }
    if (recycled) io_uring_buf_ring_advance(buf_ring_, int(recycled));
    io_uring_cq_advance(&ring_, seen);
    // Re-arm after the CQ is advanced: get_sqe may submit.
    for (uint32_t sock : pending_rearm_) arm_receive(sock);
    pending_rearm_.clear();
  }

  LoadRun& run_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool fixed_files_ = false;
  bool send_with_addr_ = false;
  double send_cost_ns_ = 3000;  // kernel time per UDP send, learnt while running
  unsigned cq_entries_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::vector<uint8_t> buffers_;
  msghdr recv_msg_{};
  std::vector<Slot> slots_;
  std::vector<uint8_t> slot_bufs_;
  std::vector<uint32_t> pending_rearm_;
};

// ---------------------------------------------------------------- epoll driver

// Fallback without io_uring: per tick, sendto for each due packet, then one
// epoll_wait(0) and recvmmsg on each readable socket.
class EpollDriver {
 public:
  static constexpr int kBatch = 32;

  explicit EpollDriver(LoadRun& run) : run_(run) {}
  ~EpollDriver() {
    if (epfd_ >= 0) ::close(epfd_);
  }

  std::optional<std::string> init() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    const auto& fds = run_.fds();
    for (uint32_t i = 0; i < fds.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = i;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fds[i], &ev) != 0) return std::string("epoll_ctl: ") + std::strerror(errno);
    }
    events_.resize(std::min<size_t>(fds.size(), 4096));
    packet_.assign(run_.packet_capacity(), 0xff);
    rx_bufs_.resize(size_t(kBatch) * 2048);
    for (int i = 0; i < kBatch; ++i) {
      iov_[i] = iovec{&rx_bufs_[size_t(i) * 2048], 2048};
      hdrs_[i] = mmsghdr{};
      hdrs_[i].msg_hdr.msg_iov = &iov_[i];
      hdrs_[i].msg_hdr.msg_iovlen = 1;
    }
    return std::nullopt;
  }

  void run() {
    for (int64_t now = mono_ns(); run_.advance(now); now = mono_ns()) {
      if (run_.sending(now)) send_due(now);
      const int64_t next = run_.next_tick(now);
      timespec ts{time_t(next / kNsPerSec), long(next % kNsPerSec)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      receive_ready();
    }
  }

 private:
  void send_due(int64_t now) {
    for (uint64_t n = run_.due(now); n > 0; --n) {
      const uint32_t s = run_.take_next_stream();
      Stream& st = run_.stream(s);
      bool in_window = false;
      const size_t len = run_.build_packet(s, packet_.data(), mono_ns(), &in_window);
      if (::sendto(run_.fds()[s], packet_.data(), len, MSG_DONTWAIT,
                   reinterpret_cast<const sockaddr*>(&st.dest), st.dest_len) >= 0)
        run_.on_sent(in_window);
      else
        run_.on_send_error(errno);
    }
  }

  void receive_ready() {
    const int n = epoll_wait(epfd_, events_.data(), int(events_.size()), 0);
    for (int i = 0; i < n; ++i) {
      const uint32_t sock = events_[size_t(i)].data.u32;
      for (;;) {
        for (int k = 0; k < kBatch; ++k) {
          hdrs_[k].msg_hdr.msg_control = control_[k];
          hdrs_[k].msg_hdr.msg_controllen = sizeof control_[k];
        }
        const int got = recvmmsg(run_.fds()[sock], hdrs_, kBatch, MSG_DONTWAIT, nullptr);
        if (got <= 0) {
          if (got < 0 && errno != EAGAIN) ++run_.counters().recv_errors;
          break;
        }
        for (int k = 0; k < got; ++k)
          run_.on_receive(sock, static_cast<const uint8_t*>(iov_[k].iov_base), hdrs_[k].msg_len,
                          rx_realtime_from(&hdrs_[k].msg_hdr));
        if (got < kBatch) break;
      }
    }
  }

  LoadRun& run_;
  int epfd_ = -1;
  std::vector<epoll_event> events_;
  std::vector<uint8_t> packet_;
  std::vector<uint8_t> rx_bufs_;
  iovec iov_[kBatch];
  mmsghdr hdrs_[kBatch];
  alignas(cmsghdr) uint8_t control_[kBatch][CMSG_SPACE(sizeof(timespec))];
};

// ---------------------------------------------------------------- report

void report(const Options& opt, LoadRun& run, const SetupReport& setup, int delete_errors, const std::string& io,
            long relay_rss_before_kb) {
  const Counters& c = run.counters();
  const double window = run.window_seconds();  // 0 if interrupted before the window
  auto per_s = [window](double n) { return window > 0 ? n / window : 0.0; };
  const uint64_t lost = c.sent_window > c.received_window ? c.sent_window - c.received_window : 0;
  const double loss_pct = c.sent_window ? 100.0 * double(lost) / double(c.sent_window) : 0;
  const auto& lat = run.latency();
  const double p50 = lat.quantile_ns(0.50) / 1e3, p99 = lat.quantile_ns(0.99) / 1e3,
               p999 = lat.quantile_ns(0.999) / 1e3, max_us = double(lat.max()) / 1e3;
  const double relay_cpu = run.relay_cpu_seconds();
  const double us_per_pkt = relay_cpu >= 0 && c.received_window ? relay_cpu * 1e6 / double(c.received_window) : -1;
  const double self_pct = window > 0 ? 100.0 * run.self_cpu_seconds_in_window() / window : 0;
  const double other_pct = per_s(100.0 * run.other_cpu_seconds_in_window());
  const double setup_rate = setup.seconds > 0 ? setup.up / setup.seconds : 0;

  if (opt.json) {
    nlohmann::ordered_json j;
    j["calls"] = setup.up;
    j["calls_requested"] = opt.calls;
    j["setup_errors"] = setup.errors;
    if (!setup.first_error.empty()) j["setup_first_error"] = setup.first_error;
    j["setup_s"] = setup.seconds;
    j["setup_calls_per_s"] = setup_rate;
    j["io"] = io;
    j["window_s"] = window;
    j["target_pps"] = run.rate();
    j["offered_pps"] = per_s(double(c.sent_window));
    j["delivered_pps"] = per_s(double(c.received_window));
    j["sent"] = c.sent_window;
    j["delivered"] = c.received_window;
    j["lost"] = lost;
    j["loss_pct"] = loss_pct;
    j["duplicates"] = c.duplicates;
    j["misrouted"] = c.misrouted;
    j["invalid"] = c.invalid;
    j["send_errors"] = c.send_errors;
    j["recv_errors"] = c.recv_errors;
    j["send_skipped"] = c.send_busy + c.behind;
    j["skipped_behind"] = c.behind;  // generator stalled > 50 ms: it is (or was) saturated
    j["skipped_busy"] = c.send_busy;
    j["latency_p50_us"] = p50;
    j["latency_p99_us"] = p99;
    j["latency_p999_us"] = p999;
    j["latency_max_us"] = max_us;
    if (opt.relay_pid) {
      j["relay_pid"] = opt.relay_pid;
      j["relay_cpu_s"] = relay_cpu;
      j["relay_cpu_pct"] = relay_cpu >= 0 ? per_s(100.0 * relay_cpu) : -1;
      j["relay_cpu_us_per_pkt"] = us_per_pkt;
      j["relay_rss_before_kb"] = relay_rss_before_kb;  // before the calls were set up
      j["relay_rss_kb"] = run.relay_rss_kb();            // at the window's end, calls up and media flowing
    }
    if (opt.transcode) {
      const auto& a = run.latency_direction(0);
      const auto& b = run.latency_direction(1);
      j["transcode"] = nlohmann::ordered_json{
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
    if (run.counts_drops()) {
      j["relay_socket_drops"] = run.relay_socket_drops();  // kernel drops at the relay's media sockets, window
      j["own_socket_drops"] = run.own_socket_drops();
    }
    j["self_cpu_pct"] = self_pct;
    j["other_cpu_pct"] = other_pct;
    j["delete_errors"] = delete_errors;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("calls        %d of %d set up in %.2f s (%.0f calls/s), %d errors%s%s\n", setup.up, opt.calls,
                setup.seconds, setup_rate, setup.errors, setup.first_error.empty() ? "" : "; first: ",
                setup.first_error.c_str());
    std::printf("offered      %.0f pps (target %.0f; %llu packets in %.2f s window; io %s)\n",
                per_s(double(c.sent_window)), run.rate(), static_cast<unsigned long long>(c.sent_window), window,
                io.c_str());
    std::printf("delivered    %.0f pps\n", per_s(double(c.received_window)));
    std::printf("lost         %llu (%.4f %%)\n", static_cast<unsigned long long>(lost), loss_pct);
    std::printf("misrouted    %llu   duplicates %llu   invalid %llu   send errors %llu   skipped %llu (behind %llu)\n",
                static_cast<unsigned long long>(c.misrouted), static_cast<unsigned long long>(c.duplicates),
                static_cast<unsigned long long>(c.invalid), static_cast<unsigned long long>(c.send_errors),
                static_cast<unsigned long long>(c.send_busy + c.behind), static_cast<unsigned long long>(c.behind));
    std::printf("latency      p50 %.1f us   p99 %.1f us   p99.9 %.1f us   max %.1f us\n", p50, p99, p999, max_us);
    if (opt.relay_pid)
      std::printf("relay cpu    %.2f s (%.1f %% of a core) = %.2f us per relayed packet (pid %d)\n", relay_cpu,
                  per_s(100.0 * relay_cpu), us_per_pkt, opt.relay_pid);
    std::printf("voxload cpu  %.1f %% of a core; everything else %.1f %% of a core%s\n", self_pct, other_pct,
                opt.relay_pid ? "" : " (relay included: no --relay-pid)");
    if (opt.relay_pid)
      std::printf("relay rss    %ld KiB before setup, %ld KiB at the window's end\n", relay_rss_before_kb,
                  run.relay_rss_kb());
    if (run.counts_drops())
      std::printf("socket drops %lld at the relay's media sockets, %lld at voxload's (kernel, window)\n",
                  run.relay_socket_drops(), run.own_socket_drops());
    if (opt.transcode) {
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
    if (delete_errors) std::printf("delete       %d errors\n", delete_errors);
  }
  if (c.first_send_errno)
    std::fprintf(stderr, "voxload: first send error: %s\n", std::strerror(c.first_send_errno));
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"voxload: NG call setup + paced RTP load through a relay; loss and latency"};
  app.add_option("--ng", opt.ng, "Relay NG address IP:PORT (required unless --direct)");
  app.add_option("--calls", opt.calls, "Concurrent calls (2 streams each)")->required()->check(CLI::Range(1, 100000));
  auto* pps = app.add_option("--pps-per-stream", opt.pps_per_stream, "Packets/s per stream (50 = 20 ms ptime)")
                  ->capture_default_str()
                  ->check(CLI::Range(0.1, 100000.0));
  app.add_option("--rate", opt.rate, "Total packets/s over all streams (instead of --pps-per-stream)")
      ->check(CLI::Range(1.0, 10000000.0))
      ->excludes(pps);
  app.add_option("--duration", opt.duration, "Measured seconds")->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  app.add_option("--warmup", opt.warmup, "Unmeasured seconds before the window")->capture_default_str()->check(
      CLI::Range(0.0, 3600.0));
  app.add_option("--local", opt.local, "Local IP for the media sockets (side A's, and B's without --local-b)")
      ->capture_default_str();
  app.add_option("--local-b", opt.local_b, "Local IP for side B's (the callee's) media sockets (default: --local)");
  app.add_option("--direction", opt.direction,
                 "A,B: NG interface names sent as the offer's direction (A's side first, then B's), "
                 "e.g. trunk,clients")
      ->delimiter(',')
      ->expected(2);
  auto* payload_opt = app.add_option("--payload", opt.payload, "UDP payload bytes per packet (RTP header included)")
      ->capture_default_str()
      ->check(CLI::Range(int(kMinPayload), 1472));
  app.add_flag("--json", opt.json, "Print the report as one JSON line");
  app.add_flag("--keep-calls", opt.keep_calls, "Do not delete the calls at the end");
  app.add_option("--tick-us", opt.tick_us, "Pacing tick: packets due are sent in one batch per tick")
      ->capture_default_str()
      ->check(CLI::Range(20, 100000));
  app.add_option("--io", opt.io, "uring or epoll")->capture_default_str()->check(CLI::IsMember({"uring", "epoll"}));
  app.add_option("--relay-pid", opt.relay_pid, "Sample this process's CPU time at the window's start and end");
  app.add_option("--ng-timeout-ms", opt.ng_timeout_ms, "NG reply timeout per attempt")->capture_default_str();
  app.add_option("--drain-ms", opt.drain_ms, "Wait after sending stops; later arrivals count as lost")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  app.add_flag("--socket-drops", opt.socket_drops,
               "Report the kernel's receive-buffer drops at the relay's media sockets and at ours "
               "(/proc/net/udp, read at the window's start and end; on by default with --transcode)");
  auto* tc_flag = app.add_flag("--transcode", opt.transcode,
                               "A offers PCMU + telephone-event with codec {transcode: [opus]}, B answers "
                               "opus/48000/2: the relay transcodes both ways (PCMU packets are 172 bytes; "
                               "latency from the RTP timeline, see voxload_transcode.h)");
  app.add_option("--opus-rate", opt.tc.opus_rate, "--transcode: B's Opus encoder input rate (48000 full band, 8000 narrowband)")
      ->capture_default_str()
      ->check(CLI::IsMember({8000, 48000}))
      ->needs(tc_flag);
  app.add_option("--opus-bitrate", opt.tc.opus_bitrate, "--transcode: B's Opus bitrate, bit/s")
      ->capture_default_str()
      ->check(CLI::Range(6000, 510000))
      ->needs(tc_flag);
  app.add_flag("--answer-no-fec{false}", opt.tc.answer_fec,
               "--transcode: B answers useinbandfec=0, so the relay sends no in-band FEC")
      ->needs(tc_flag);
  app.add_flag("--direct", opt.direct,
               "Calibration without a relay: each side sends straight to the other's socket, "
               "measuring the generator's own cost and latency floor")
      ->excludes(tc_flag);
  tc_flag->excludes(payload_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  const auto ng_addr = opt.direct && opt.ng.empty() ? Endpoint{} : Endpoint::parse(opt.ng);
  const auto local = vox::IpAddr::parse(opt.local);
  const auto local_b = opt.local_b.empty() ? local : vox::IpAddr::parse(opt.local_b);
  if (!ng_addr || !local || !local_b) {
    std::fprintf(stderr, "voxload: %s\n",
                 !local ? "bad --local address" : !local_b ? "bad --local-b address" : "--ng IP:PORT is required");
    return 2;
  }
  if (local->is_v4() != local_b->is_v4()) {
    std::fprintf(stderr, "voxload: --local and --local-b must be of the same address family\n");
    return 2;
  }
  const CallSides sides{*local, *local_b, opt.direction};
  // Socket i belongs to side A when even, side B when odd (see below).
  auto side_ip = [&](size_t i) -> const vox::IpAddr& { return i % 2 ? *local_b : *local; };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  prctl(PR_SET_TIMERSLACK, 1000UL);  // ticks are a few hundred µs: default 50 µs slack is too coarse

  const size_t nsock = size_t(opt.calls) * 2;
  if (!raise_fd_limit(rlim_t(nsock + 64))) {
    std::fprintf(stderr, "voxload: RLIMIT_NOFILE too low for %zu sockets\n", nsock);
    return 1;
  }

  std::random_device rd;
  const uint32_t run_tag = rd();
  char run_id[16];
  std::snprintf(run_id, sizeof run_id, "%08x", run_tag);

  // Sockets: 2c is side A of call c, 2c + 1 side B.
  std::vector<int> fds(nsock, -1);
  std::vector<uint16_t> ports(nsock);
  for (size_t i = 0; i < nsock; ++i) {
    fds[i] = open_media_socket(side_ip(i), &ports[i]);
    if (fds[i] < 0) {
      std::fprintf(stderr, "voxload: cannot open media socket %zu on %s: %s\n", i, side_ip(i).to_string().c_str(),
                   std::strerror(errno));
      return 1;
    }
  }

  // --transcode: the audio tables (libopus encodes B's packets once, here).
  voxload::TranscodeLoad tc;
  if (opt.transcode) {
    if (auto e = tc.init(opt.tc, nsock)) {
      std::fprintf(stderr, "voxload: %s\n", e->c_str());
      return 1;
    }
  }
  const long relay_rss_before_kb = opt.relay_pid ? voxload::process_rss_kb(opt.relay_pid) : -1;

  std::fprintf(stderr, "voxload: run %s, setting up %d %scalls via %s\n", run_id, opt.calls,
               opt.transcode ? "transcoded " : "", opt.direct ? "nothing (--direct)" : opt.ng.c_str());
  NgClient ng(*ng_addr);  // unused with --direct
  std::vector<Call> calls(size_t(opt.calls));
  std::vector<Stream> streams(nsock);
  SetupReport setup;
  const int64_t setup_start = mono_ns();
  int consecutive_failures = 0;
  for (size_t c = 0; c < calls.size() && !g_stop; ++c) {
    Call& call = calls[c];
    call.call_id = std::string("voxload-") + run_id + "-" + std::to_string(c);
    call.from_tag = "a" + std::to_string(c);
    call.to_tag = "b" + std::to_string(c);
    Endpoint relay_for_a{*local_b, ports[2 * c + 1]}, relay_for_b{*local, ports[2 * c]};
    std::optional<std::string> err;
    if (opt.direct)
      call.up = true;
    else
      err = setup_call(ng, call, sides, ports[2 * c], ports[2 * c + 1], uint64_t(run_tag) * 100000 + c * 2,
                       opt.ng_timeout_ms, &relay_for_a, &relay_for_b, opt.transcode ? &tc : nullptr,
                       uint32_t(c));
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
      Stream& st = streams[2 * c + size_t(dir)];
      st.dest_len = (dir == 0 ? relay_for_a : relay_for_b).to_sockaddr(&st.dest);
      st.ssrc = rd();
      st.seq = uint16_t(rd());
      st.rtp_ts = rd();
    }
  }
  setup.seconds = double(mono_ns() - setup_start) / 1e9;
  std::fprintf(stderr, "voxload: %d calls up in %.2f s, %d errors%s%s\n", setup.up, setup.seconds, setup.errors,
               setup.first_error.empty() ? "" : "; first: ", setup.first_error.c_str());

  // Round-robin order: every A->B stream, then every B->A stream, so a
  // call's two directions are half a packet interval apart.
  std::vector<uint32_t> order;
  for (int dir = 0; dir < 2; ++dir)
    for (size_t c = 0; c < calls.size(); ++c)
      if (calls[c].up) order.push_back(uint32_t(2 * c + size_t(dir)));

  int status = 0;
  std::string io = opt.io;
  const bool any_up = !order.empty();
  if (!any_up || g_stop) {
    std::fprintf(stderr, "voxload: no call could be set up\n");
    status = 1;
  } else {
    LoadRun run(opt, fds, std::move(streams), std::move(order), run_tag);
    if (opt.transcode) run.set_transcode(&tc);
    std::unordered_set<std::string> relay_sockets, own_sockets;
    for (size_t i = 0; i < nsock; ++i) {
      sockaddr_storage ss{};
      Endpoint{side_ip(i), ports[i]}.to_sockaddr(&ss);
      own_sockets.insert(voxload::proc_net_udp_key(ss));
      if (calls[i / 2].up && !opt.direct)  // --direct: the destinations are our own sockets
        relay_sockets.insert(voxload::proc_net_udp_key(run.stream(uint32_t(i)).dest));
    }
    if (opt.socket_drops || opt.transcode) run.set_drop_sockets(std::move(relay_sockets), std::move(own_sockets));
    std::optional<std::string> err;
    bool done = false;
    if (io == "uring") {
      UringDriver driver(run);
      err = driver.init();
      if (!err) {
        run.start(mono_ns());
        driver.run();
        done = true;
      } else {
        std::fprintf(stderr, "voxload: io_uring unavailable (%s), using epoll\n", err->c_str());
        io = "epoll";
      }
    }
    if (!done) {
      EpollDriver driver(run);
      err = driver.init();
      if (err) {
        std::fprintf(stderr, "voxload: %s\n", err->c_str());
        status = 1;
      } else {
        run.start(mono_ns());
        driver.run();
        done = true;
      }
    }
    if (done) {
      const int delete_errors = opt.keep_calls || opt.direct ? 0 : delete_calls(ng, calls, opt.ng_timeout_ms);
      report(opt, run, setup, delete_errors, io, relay_rss_before_kb);
      if (!run.window_done()) status = 1;  // interrupted before the window ended
    } else if (!opt.keep_calls && !opt.direct) {
      delete_calls(ng, calls, opt.ng_timeout_ms);
    }
  }
  for (int fd : fds) ::close(fd);
  return status;
}
