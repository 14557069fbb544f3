// The marker voxload writes into each plain (not --transcode) RTP payload,
// which the relay forwards untouched: it names the run, call, direction,
// packet number and send time, so the receiver needs no per-packet state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.h"

namespace voxload {

// Inside the RTP payload (the relay forwards it untouched):
//   magic(4) run_tag(4) call(4) direction(1) pad(3) counter(4) send_ns(8)
// counter is a per-stream 32-bit packet number (RTP's 16-bit sequence wraps
// within 22 minutes at 50 pps and may be rewritten by a relay).
constexpr size_t kRtpHeader = 12;
constexpr size_t kMarkerSize = 28;
constexpr size_t kMinPayload = kRtpHeader + kMarkerSize;
constexpr uint32_t kMagic = 0x564c4f44;  // "VLOD"

struct Marker {
  uint32_t call;
  uint8_t direction;
  uint32_t counter;
  int64_t send_ns;
};

// Writes the marker at m (kMarkerSize bytes, just after the RTP header).
inline void write_marker(uint8_t* m, uint32_t run_tag, const Marker& marker) {
  vox::store_be32(m, kMagic);
  vox::store_be32(m + 4, run_tag);
  vox::store_be32(m + 8, marker.call);
  m[12] = marker.direction;
  m[13] = m[14] = m[15] = 0;
  vox::store_be32(m + 16, marker.counter);
  vox::store_be64(m + 20, uint64_t(marker.send_ns));
}

// The marker of an RTP packet p of len bytes from run run_tag; nullopt if it
// is none.
inline std::optional<Marker> parse_marker(const uint8_t* p, size_t len, uint32_t run_tag) {
  // RFC 3550 §5.1: version 2 in the top two bits.
  if (len < kMinPayload || (p[0] >> 6) != 2) return std::nullopt;
  const uint8_t* m = p + kRtpHeader;
  if (vox::load_be32(m) != kMagic || vox::load_be32(m + 4) != run_tag) return std::nullopt;
  return Marker{vox::load_be32(m + 8), m[12], vox::load_be32(m + 16), int64_t(vox::load_be64(m + 20))};
}

}  // namespace voxload
