// SRTP on a flow whose party speaks SRTP (RFC 3711): what arrives on the
// flow's local endpoint is unprotected with the party's key before anything
// else looks at it, and what the relay sends to the party from that
// endpoint is protected with the relay's key for that party.
//
// Ownership, as for transcoders (transcode.h): the control plane builds the
// slot (srtp_create allocates and costs microseconds; never on the worker),
// hands it over in a kSetSrtp command, and from then on the worker owns it
// and deletes it when it is replaced or its flow is removed. A replacement
// with new keys (a re-offer) re-keys without a gap: the worker moves the
// old inbound context into the new slot as the previous key (see
// SrtpStream::rekey for the same rule), so packets sent before the switch
// still verify.
#pragma once

#include <optional>

#include "dataplane/srtp_context.h"

namespace vox::dataplane {

struct SrtpSlot {
  // Unprotects SRTP and SRTCP the party sends to this flow (the party's
  // key, from its SDP's a=crypto). Empty: the party sends plain RTP.
  std::optional<SrtpStream> inbound;
  // Protects RTP and RTCP the relay sends to the party from this flow's
  // local endpoint (the key the relay gave it in the SDP it received).
  // Empty: the party receives plain RTP.
  std::optional<SrtpStream> outbound;
};

}  // namespace vox::dataplane
