// One load run of voxload: the pacing (which stream sends when), the
// measurement window, and the receive accounting (loss, duplicates,
// misrouting, latency). The I/O drivers (voxload_io.h) move its packets.
#pragma once

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <unordered_set>
#include <vector>

#include "voxload_histogram.h"
#include "voxload_options.h"
#include "voxload_transcode.h"
#include "voxload_usage.h"

namespace voxload {

inline int64_t clock_ns(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
constexpr int64_t kNsPerSec = 1'000'000'000;

// Set on SIGINT/SIGTERM: the run stops sending and reports what ran.
extern volatile std::sig_atomic_t g_stop;

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

  void start(int64_t now);
  // Window bookkeeping; false once the run is over.
  bool advance(int64_t now);
  bool sending(int64_t now) const { return now < window_end_ && !g_stop; }
  int64_t next_tick(int64_t now) const { return std::min(now + tick_ns_, drain_end_); }

  // Packets due by now (packet k is due at t0 + k / rate), bounded backlog.
  uint64_t due(int64_t now);
  // The stream of the next packet: round robin over streams, so each stream
  // gets rate / streams pps with evenly staggered phases.
  uint32_t take_next_stream() { return order_[issued_++ % order_.size()]; }
  void skip_packet() { ++counters_.send_busy; }

  // Writes a full packet for stream s into p (payload_ bytes; the µ-law
  // filler after the marker was written once) and returns its length;
  // *in_window: whether it is in the window. --transcode: PCMU or Opus
  // audio from the tables, the whole packet written here.
  size_t build_packet(uint32_t s, uint8_t* p, int64_t stamp, bool* in_window);

  void on_sent(bool in_window) {
    ++counters_.sent;
    if (in_window) ++counters_.sent_window;
  }
  void on_send_error(int err) {
    ++counters_.send_errors;
    if (!counters_.first_send_errno) counters_.first_send_errno = err;
  }

  // rx_realtime: the kernel's receive timestamp, 0 if missing.
  void on_receive(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime);

  void set_transcode(TranscodeLoad* tc) { tc_ = tc; }
  const TranscodeLoad* transcode() const { return tc_; }
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
  double other_cpu_seconds_in_window() const;
  bool window_done() const { return window_done_; }

 private:
  enum class Seen { kNew, kDuplicate, kTooOld };
  static Seen track_duplicate(Stream& st, uint32_t c);
  // --transcode: a packet at socket sock is output of stream sock ^ 1; its
  // input packet is found from its RTP timestamp (voxload_transcode.h).
  void on_receive_transcoded(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime);
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
  TranscodeLoad* tc_ = nullptr;
  LatencyHistogram latency_dir_[2];
  LatencyHistogram latency_seq_;  // by the input the output's sequence number names (seq-preserving relays)
  uint64_t seq_lag_counts_[TranscodeLoad::kMaxSeqLag + 1] = {};
  std::unordered_set<std::string> relay_ports_, own_ports_;
  bool count_drops_ = false;
  SocketDrops drops_start_, drops_end_;
  long relay_rss_kb_ = -1;
};

}  // namespace voxload
