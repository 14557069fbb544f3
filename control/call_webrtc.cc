// CallManager's WebRTC legs: after an offer or answer, each side the relay
// terminates ICE or DTLS on gets a leg in the handshake thread
// (webrtc/handshake.h); what the legs report comes back here, on the
// control thread, and becomes flow commands: the nominated ICE peer as the
// side's destination, the DTLS keys as its SRTP contexts, and then its
// media enabled (nothing flows toward or from a DTLS side before that).
#include <spdlog/spdlog.h>

#include "control/call_manager.h"
#include "control/webrtc/leg.h"

namespace vox::control {

namespace {

webrtc::LegSpec leg_spec(const Call& c, const MediaSide& m, uint64_t id) {
  webrtc::LegSpec s;
  s.id = id;
  s.key = m.rtp_handle.key;
  s.worker = c.worker;
  s.ice = m.ice.enabled;
  s.local = {m.ice.local_ufrag, m.ice.local_pwd};
  s.remote = {m.ice.remote_ufrag, m.ice.remote_pwd};
  s.dtls = m.dtls.enabled;
  s.dtls_client = m.dtls.relay_active;
  s.dtls_done = m.dtls.connected;
  s.remote_fingerprint = m.dtls.remote_fingerprint;
  s.sdp_peer = m.sdp_rtp;
  return s;
}

// The side whose leg this is, in dialogue or in a parked branch (a
// branch's handshake goes on while another branch is in dialogue).
MediaSide* find_leg_side(Call& c, uint64_t leg_id) {
  const auto in = [&](Party& p) -> MediaSide* {
    for (MediaSide& m : p.media)
      if (m.leg_id == leg_id) return &m;
    return nullptr;
  };
  for (Party& p : c.parties)
    if (MediaSide* m = in(p)) return m;
  for (Party& p : c.branches)
    if (MediaSide* m = in(p)) return m;
  return nullptr;
}

}  // namespace

void CallManager::sync_legs(Call& c) {
  if (!legs_) return;
  for (Party& p : c.parties)
    for (MediaSide& m : p.media) {
      const bool wanted = m.rtp_port && !m.rejected && (m.ice.enabled || m.dtls.enabled);
      if (!wanted) {
        drop_leg(m);
        continue;
      }
      if (!m.leg_id) {
        m.leg_id = next_leg_id_++;
        leg_calls_[m.leg_id] = c.id;
      }
      legs_->set_leg(leg_spec(c, m, m.leg_id));
    }
}

void CallManager::drop_leg(MediaSide& m) {
  if (!m.leg_id) return;
  if (legs_) legs_->remove_leg(m.rtp_handle.key);
  leg_calls_.erase(m.leg_id);
  m.leg_id = 0;
}

void CallManager::apply_leg_event(const webrtc::LegEvent& e, int64_t now_ns) {
  auto leg = leg_calls_.find(e.id);
  if (leg == leg_calls_.end()) return;  // the side has gone since
  auto call = calls_.find(leg->second);
  if (call == calls_.end()) return;
  Call& c = *call->second;
  MediaSide* side = find_leg_side(c, e.id);
  if (!side) return;
  MediaSide& m = *side;
  switch (e.kind) {
    case webrtc::LegEventKind::kIcePeer:
      m.ice_peer = e.peer;
      spdlog::debug("call {}: ICE peer {} on port {}", c.id, e.peer.to_string(), m.rtp_port);
      break;
    case webrtc::LegEventKind::kIceExpired:
      m.ice_peer = {};  // consent lost (RFC 7675 §5.1): stop sending to it
      spdlog::info("call {}: ICE consent of {} expired on port {}", c.id, e.peer.to_string(), m.rtp_port);
      break;
    case webrtc::LegEventKind::kDtlsConnected: {
      auto srtp = prepare_srtp(m, e.keys);
      if (!srtp.ok()) {
        spdlog::warn("call {}: DTLS keys on port {} unusable: {}", c.id, m.rtp_port,
                     srtp.error().message());
        return;
      }
      set_srtp(c, m, std::move(*srtp));
      m.dtls.connected = true;
      spdlog::debug("call {}: DTLS up on port {} ({})", c.id, m.rtp_port, e.detail);
      break;
    }
    case webrtc::LegEventKind::kDtlsFailed:
      spdlog::info("call {}: DTLS failed on port {}: {} {}", c.id, m.rtp_port,
                   webrtc::to_string(e.failure), e.detail);
      return;
    case webrtc::LegEventKind::kCount: return;
  }
  install_flows(c, now_ns);
  state_changed(c);
}

}  // namespace vox::control
