// CallManager::restore: a call brought up from its saved state (a relay
// restarted, or a standby taking a failed relay's calls over; control/ha/),
// and the sweep's look at latched sources that keeps that state current.
#include <algorithm>

#include "control/call_manager.h"

namespace vox::control {

namespace {

template <typename F>
void each_side(Call& c, F&& f) {
  for (Party& p : c.parties)
    for (MediaSide& m : p.media) f(p, m);
  for (Party& p : c.branches)
    for (MediaSide& m : p.media) f(p, m);
}

// A saved wall-clock time as a time of this process's monotonic clock.
constexpr int64_t kNsPerSec = 1000000000;

int64_t mono_of(int64_t unix_s, CallManager::Clock now) {
  return now.mono_ns - std::max<int64_t>(0, now.unix_s - unix_s) * kNsPerSec;
}

}  // namespace

std::optional<std::string> CallManager::claim_ports(Call& c) {
  std::vector<std::pair<Party*, MediaSide*>> taken;
  std::optional<std::string> error;
  each_side(c, [&](Party& p, MediaSide& m) {
    if (error || !m.rtp_port) return;
    const uint16_t port = m.rtp_port;
    const std::string name = "port " + std::to_string(port);
    m.rtp_port = 0;  // set again by bind_side
    if (p.iface < 0 || size_t(p.iface) >= pools_.size()) {
      error = name + ": interface " + std::to_string(p.iface) + " is not configured";
      return;
    }
    if (const IpAddr& here = config_.interfaces[size_t(p.iface)].local;
        p.saved_address && !(*p.saved_address == here)) {
      error = name + ": saved on interface address " + p.saved_address->to_string() + ", here " +
              here.to_string();
      return;
    }
    PortPool& pool = pools_[size_t(p.iface)];
    if (pool.worker_of(port) != c.worker) {
      error = name + ": not worker " + std::to_string(c.worker) + "'s (another --num-threads?)";
      return;
    }
    if (free_flow_ids_[size_t(c.worker)].size() < 2) {
      error = name + ": no flow left";
      return;
    }
    if (!pool.claim_pair(port)) {
      error = name + ": outside the port range or in use";
      return;
    }
    if (!bind_side(c, p, m, port)) {
      pool.release_pair(port);
      error = name + ": cannot bind (address not on this host?)";
      return;
    }
    taken.emplace_back(&p, &m);
  });
  if (error)
    for (auto [p, m] : taken) release_side(c, *p, *m);
  return error;
}

Result<const Call*, std::string> CallManager::restore(std::unique_ptr<Call> saved, Clock now) {
  Call& c = *saved;
  if (calls_.count(c.id)) return Err{std::string("the call exists")};
  if (c.worker < 0 || c.worker >= plane_.workers())
    return Err{"worker " + std::to_string(c.worker) + " of " + std::to_string(plane_.workers())};
  // SRTP contexts and transcoders first: when one cannot be made, no port
  // has been bound yet.
  struct Media {
    MediaSide* side;
    SideSrtp srtp;
    std::unique_ptr<dataplane::TranscodeSlot> transcoder;
    std::optional<StreamPlan> plan;
  };
  std::vector<Media> made;
  std::optional<std::string> error;
  each_side(c, [&](Party&, MediaSide& m) {
    if (error || !m.rtp_port) return;
    Media x{&m, {}, nullptr, std::move(m.transcode_plan)};
    m.transcode_plan.reset();
    if (auto keys = std::move(m.srtp)) {
      m.srtp.reset();  // installed by set_srtp below
      auto s = prepare_srtp(m, std::move(keys));
      if (!s.ok()) return void(error = s.error().message());
      x.srtp = std::move(*s);
    }
    if (x.plan) {
      auto t = make_transcoder(*x.plan);
      if (!t.ok()) return void(error = t.error().message());
      x.transcoder = std::move(*t);
    }
    made.push_back(std::move(x));
  });
  if (error) return Err{*error};
  // Each SRTP context starts at its stream's saved rollover counter: the
  // party's stream where it arrives (inbound), and where the relay passes
  // it on untranscoded (the other party's outbound).
  const auto slot_of = [&](const MediaSide& m) -> dataplane::SrtpSlot* {
    for (Media& x : made)
      if (x.side == &m) return x.srtp.rtp.get();
    return nullptr;
  };
  each_side(c, [&](Party&, MediaSide& m) { m.roc_base = m.sent_stream; });
  for (int s = 0; s < 2; ++s)
    for (size_t i = 0; i < c.parties[s].media.size(); ++i) {
      const MediaSide& x = c.parties[s].media[i];
      const MediaSide* y = i < c.parties[1 - s].media.size() ? &c.parties[1 - s].media[i] : nullptr;
      const auto [ssrc, roc, known] = x.sent_stream;
      if (!known || !roc) continue;
      if (auto* in = slot_of(x); in && in->inbound) in->inbound->start_at(ssrc, roc);
      const bool relayed = std::none_of(made.begin(), made.end(), [&](const Media& m) {
        return m.side == &x && m.plan.has_value();
      });
      if (auto* out = y ? slot_of(*y) : nullptr; relayed && out && out->outbound)
        out->outbound->start_at(ssrc, roc);
    }
  if (auto e = claim_ports(c)) return Err{*e};

  c.created_ns = mono_of(c.created_unix, now);
  c.last_signal_ns = mono_of(c.last_signal_unix, now);
  each_side(c, [&](Party&, MediaSide& m) { m.rtp_seen.at_ns = m.rtcp_seen.at_ns = now.mono_ns; });
  const Call* up = saved.get();
  calls_.emplace(c.id, std::move(saved));
  ++calls_per_worker_[size_t(c.worker)];
  ++stats_.calls_restored;

  // Flows (a parked branch's off), then what rides on them, in that order
  // on the worker's ring.
  const int64_t latch_until_ns = now.mono_ns + int64_t(config_.latch_window_ms) * 1000000;
  const size_t streams = std::max(c.parties[0].media.size(), c.parties[1].media.size());
  for (size_t i = 0; i < streams; ++i) install_stream_flows(c, i, latch_until_ns);
  for (Party& p : c.branches)
    for (MediaSide& m : p.media)
      if (m.rtp_port) install_side_flows(c, p, m, nullptr, 0);
  for (Media& x : made) {
    if (x.transcoder) set_transcoder(c, *x.side, std::move(x.transcoder), &*x.plan);
    set_srtp(c, *x.side, std::move(x.srtp));
  }
  plane_.flush();
  if (c.tos) apply_tos(c, *c.tos);
  sync_legs(c);
  return up;
}

bool CallManager::note_media(Call& c) {
  bool moved = false;
  const auto latched = [&](const dataplane::FlowSnapshot& f, Endpoint& seen) {
    if (f.latched.port == 0 || f.latched == seen) return;
    seen = f.latched;
    moved = true;
  };
  for (Party& p : c.parties)
    for (MediaSide& m : p.media) {
      if (!m.installed) continue;
      const dataplane::FlowSnapshot rtp = flow_counters(c, m.rtp_flow);
      latched(rtp, m.latched_rtp);
      latched(flow_counters(c, m.rtcp_flow), m.latched_rtcp);
      if (!rtp.reception.received) continue;
      MediaSide::SentStream now{rtp.reception.ssrc, rtp.reception.wraps, true};
      if (m.roc_base.known && m.roc_base.ssrc == now.ssrc) now.roc += m.roc_base.roc;
      if (now == m.sent_stream) continue;
      m.sent_stream = now;
      moved = true;
    }
  return moved;
}

}  // namespace vox::control
