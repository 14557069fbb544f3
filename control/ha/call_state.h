// A call's control state as one JSON document: what Redis keeps of it so
// that a restarted relay, or a standby, can run the call on (ha/state_store.h).
// Everything the call manager decided and needs again: tags, the streams as
// negotiated (addresses, rtcp-mux, codecs, codec and transcoding plans),
// ports, latched sources, SRTP keys (SDES and DTLS-derived, as a=crypto
// lines), ICE credentials and the nominated peer, timers (as wall clock).
// Not kept: what is local to one process (flow ids, port handles, the
// handshake leg, the transcoder's codec state) nor quality figures.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "control/call.h"

namespace vox::control {

// The version of the document's layout ("v"), written by encode_call;
// decode_call reads versions kOldestCallStateVersion to kCallStateVersion
// and refuses others. 2 leaves out members at their defaults; 1 had every
// member (a relay reading only 1 refuses 2's documents by name).
inline constexpr int kCallStateVersion = 2;
inline constexpr int kOldestCallStateVersion = 1;

// `interfaces`: the relay's interface addresses by index
// (Config::interfaces[i].local), written with each party so that a relay
// whose interfaces differ refuses the call (none given: none written).
// `buffer`: a string whose memory the document reuses.
std::string encode_call(const Call& c, std::span<const IpAddr> interfaces = {}, std::string buffer = {});

// The call a document describes, with the wall-clock times of the document
// (created_unix, last_signal_unix), each party's saved interface address
// (Party::saved_address) and no dataplane resources: the call manager's
// restore() binds its ports and installs it. Errors name the field that
// does not parse.
Result<std::unique_ptr<Call>, std::string> decode_call(std::string_view json);

}  // namespace vox::control
