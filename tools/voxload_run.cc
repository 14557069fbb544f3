// A load run's timeline (warm-up, window, drain), its paced packet building,
// and the accounting of every arrival: marker or RTP-timeline mapping,
// duplicate window, misrouting, and latency from kernel receive stamps.
#include "voxload_run.h"

#include <cstdio>

#include "base/bytes.h"
#include "voxload_marker.h"

namespace voxload {

volatile std::sig_atomic_t g_stop = 0;

void LoadRun::start(int64_t now) {
  t0_ = now;
  window_start_ = now + int64_t(opt_.warmup * kNsPerSec);
  window_end_ = window_start_ + int64_t(opt_.duration * kNsPerSec);
  drain_end_ = window_end_ + int64_t(opt_.drain_ms) * 1'000'000;  // stragglers still in the relay
  tick_ns_ = int64_t(opt_.tick_us) * 1000;
  refresh_clock_offset();
}

bool LoadRun::advance(int64_t now) {
  if (!in_window_ && !window_closed_ && now >= window_start_) {
    in_window_ = true;
    relay_cpu_start_ = opt_.relay_pid ? process_cpu_seconds(opt_.relay_pid) : -1;
    self_cpu_start_ = self_cpu_seconds();
    machine_busy_start_ = machine_busy_seconds();
    if (count_drops_) drops_start_ = socket_drops(relay_ports_, own_ports_);
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
    if (count_drops_) drops_end_ = socket_drops(relay_ports_, own_ports_);
    relay_rss_kb_ = opt_.relay_pid ? process_rss_kb(opt_.relay_pid) : -1;
    window_real_end_ = now;
    std::fprintf(stderr, "voxload: window end\n");
  }
  refresh_clock_offset();
  return now < drain_end_ && !g_stop;
}

uint64_t LoadRun::due(int64_t now) {
  const uint64_t target = uint64_t(double(now - t0_) * rate_ / 1e9) + 1;
  if (target > issued_ + max_backlog_) {
    counters_.behind += target - max_backlog_ - issued_;
    issued_ = target - max_backlog_;
  }
  return target > issued_ ? target - issued_ : 0;
}

size_t LoadRun::build_packet(uint32_t s, uint8_t* p, int64_t stamp, bool* in_window) {
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
  write_marker(p + kRtpHeader, run_tag_, Marker{s >> 1, uint8_t(s & 1), st.next_counter++, stamp});
  return size_t(opt_.payload);
}

void LoadRun::on_receive(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime) {
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

void LoadRun::on_receive_transcoded(uint32_t sock, const uint8_t* p, size_t len, int64_t rx_realtime) {
  using Rx = TranscodeLoad::Rx;
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

double LoadRun::other_cpu_seconds_in_window() const {
  if (machine_busy_start_ < 0 || machine_busy_end_ < 0) return -1;
  const double relay = relay_cpu_seconds();
  return std::max(0.0, machine_busy_end_ - machine_busy_start_ - self_cpu_seconds_in_window() -
                           (relay > 0 ? relay : 0));
}

LoadRun::Seen LoadRun::track_duplicate(Stream& st, uint32_t c) {
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

}  // namespace voxload
