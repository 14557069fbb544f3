// What `query` and `statistics` show of WebRTC legs: per stream the ICE
// state and nominated pair, the DTLS state, role, SRTP profile, cipher and
// handshake time; relay-wide the STUN checks answered and refused and the
// handshakes completed and failed, by reason.
#pragma once

#include "control/call.h"
#include "control/ng_value.h"
#include "control/webrtc/leg.h"

namespace vox::control {

// Adds "ICE" and "DTLS" to stream `s` of side m (nothing for a plain side).
void add_webrtc_stream(NgValue& s, const webrtc::LegControl& legs, const MediaSide& m);
// The "webrtc" dictionary of `statistics`.
NgValue webrtc_statistics(const webrtc::LegCounters& c);

}  // namespace vox::control
