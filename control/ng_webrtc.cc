#include "control/ng_webrtc.h"

namespace vox::control {

namespace {

// {name: count} over an enum's names, for the non-zero counts.
template <typename E, size_t N>
NgValue by_reason(const uint64_t (&counts)[N], const EnumNames<E>& names) {
  NgValue v = NgValue::dict();
  for (size_t i = 0; i < N; ++i)
    if (counts[i]) v.set(names[E(i)], int64_t(counts[i]));
  return v;
}

}  // namespace

void add_webrtc_stream(NgValue& s, const webrtc::LegControl& legs, const MediaSide& m) {
  if (!m.leg_id) return;
  const auto st = legs.status(m.rtp_handle.key);
  if (!st) return;
  if (m.ice.enabled) {
    NgValue ice = NgValue::dict();
    ice.set("state", webrtc::to_string(st->ice));
    ice.set("role", "controlled");  // voxrelay is the ICE-lite agent
    if (st->peer.port) ice.set("nominated pair", endpoint_value(st->peer));
    s.set("ICE", std::move(ice));
  }
  if (m.dtls.enabled) {
    NgValue dtls = NgValue::dict();
    dtls.set("state", webrtc::to_string(st->dtls));
    dtls.set("role", st->dtls_client ? "active" : "passive");
    if (!st->srtp_profile.empty()) dtls.set("SRTP profile", st->srtp_profile);
    if (!st->cipher.empty()) dtls.set("cipher", st->cipher);
    if (st->handshake_ns) dtls.set("handshake us", st->handshake_ns / 1000);
    s.set("DTLS", std::move(dtls));
  }
}

NgValue webrtc_statistics(const webrtc::LegCounters& c) {
  NgValue v = NgValue::dict();
  v.set("STUN checks answered", int64_t(c.checks_answered));
  v.set("STUN checks refused", by_reason(c.checks_refused, webrtc::kIceRefusalNames));
  v.set("handshakes completed", int64_t(c.handshakes_completed));
  v.set("handshakes failed", by_reason(c.handshakes_failed, webrtc::kDtlsFailureNames));
  v.set("no leg", int64_t(c.no_leg));
  v.set("unexpected", int64_t(c.unexpected));
  v.set("replies dropped", int64_t(c.replies_dropped));
  return v;
}

}  // namespace vox::control
