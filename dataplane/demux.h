// First-look classification of a UDP payload arriving on a media port, so
// RTP, RTCP, STUN and DTLS can share one port (RFC 7983 §7, RFC 5761 §4).
// Only classifies: the matching parser validates what follows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/names.h"

namespace vox::dataplane {

enum class PacketKind : uint8_t { kRtp, kRtcp, kStun, kDtls, kUnknown, kCount };
inline constexpr size_t kPacketKindCount = size_t(PacketKind::kCount);
inline constexpr EnumNames<PacketKind> kPacketKindNames = {{
    {PacketKind::kRtp, "rtp"},
    {PacketKind::kRtcp, "rtcp"},
    {PacketKind::kStun, "stun"},
    {PacketKind::kDtls, "dtls"},
    {PacketKind::kUnknown, "unknown"},
}};
static_assert(kPacketKindNames.complete());
inline const char* to_string(PacketKind k) { return kPacketKindNames[k]; }

namespace detail {

// RFC 7983 §7 first-octet ranges: [0..3] STUN, [16..19] ZRTP, [20..63] DTLS,
// [64..79] TURN channel, [128..191] RTP/RTCP. ZRTP and TURN channels are not
// terminated by voxrelay, so they fall in kUnknown with everything else.
constexpr std::array<PacketKind, 256> make_first_octet_table() {
  std::array<PacketKind, 256> t{};
  for (int b = 0; b < 256; ++b) {
    PacketKind k = PacketKind::kUnknown;
    if (b <= 3) k = PacketKind::kStun;
    else if (b >= 20 && b <= 63) k = PacketKind::kDtls;
    else if (b >= 128 && b <= 191) k = PacketKind::kRtp;
    t[size_t(b)] = k;
  }
  return t;
}
inline constexpr std::array<PacketKind, 256> kFirstOctetKind = make_first_octet_table();

}  // namespace detail

// One table load and a couple of compares, no data-dependent branch after
// the length check. For the RTP/RTCP range, RFC 5761 §4: the second octet
// (M bit + PT in RTP, PT in RTCP) in 192..223 means RTCP.
inline PacketKind classify_packet(const uint8_t* p, size_t len) {
  static_assert(uint8_t(PacketKind::kRtp) == 0 && uint8_t(PacketKind::kRtcp) == 1);
  if (len < 2) [[unlikely]]
    return PacketKind::kUnknown;
  const uint8_t k = uint8_t(detail::kFirstOctetKind[p[0]]);
  const bool rtcp_type = uint8_t(p[1] - 192) < 32;
  return PacketKind(k + uint8_t((k == uint8_t(PacketKind::kRtp)) & rtcp_type));
}

}  // namespace vox::dataplane
