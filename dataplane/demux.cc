// Names for packet kinds (classification itself is inline in demux.h), for
// per-kind counters and packet traces.
#include "dataplane/demux.h"

namespace vox::dataplane {

const char* to_string(PacketKind k) {
  switch (k) {
    case PacketKind::kRtp: return "rtp";
    case PacketKind::kRtcp: return "rtcp";
    case PacketKind::kStun: return "stun";
    case PacketKind::kDtls: return "dtls";
    case PacketKind::kUnknown: return "unknown";
  }
  return "unknown";
}

}  // namespace vox::dataplane
