// The one packet path shared by every backend: for each received packet,
// flow lookup -> classify (RTP/RTCP, RFC 5761 demux) -> validate -> source
// policy -> choose the egress flow -> emit. Works on bursts; backends fill
// RxPacket arrays and drain TxPacket arrays, nothing else.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"
#include "dataplane/slow_path.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

// Processes n packets received at now_ns; writes forwarded ones to tx and
// returns how many. tx must have room for n entries. Drops are counted per
// worker and per flow by reason. With `slow` (the worker has a slow-path
// consumer), STUN and DTLS on a flow's port are listed there for the
// burst loop to hand over instead of being dropped as not-media. SRTP is
// undone on arrival from and applied on egress to an SRTP party in the
// packet's own buffer: the bytes rx points to change, rx itself does not. RTP of transcoded flows does not
// come back in tx: the packets the transcoders generate are appended to
// w.generated(), which the backend sends and clears after each call.
uint32_t process_burst(WorkerState& w, const RxPacket* rx, uint32_t n, int64_t now_ns,
                       TxPacket* tx, SlowBurst* slow = nullptr);

}  // namespace vox::dataplane
