// RTP header (RFC 3550 §5.1, §5.3.1) parsed in place, and the in-place field
// writers the relay uses to rewrite SSRC, sequence, timestamp and payload type.
// parse_rtp is inline so the per-packet path compiles to straight-line code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "base/names.h"

namespace vox::dataplane {

// Why a datagram is not a well-formed RTP packet; one drop reason each.
enum class RtpError : uint8_t {
  kTooShort,           // fewer than the 12 octets of the fixed header (§5.1)
  kTooLong,            // longer than any UDP payload (lengths are 16-bit here)
  kBadVersion,         // V is not 2 (§5.1)
  kCsrcOverflow,       // CC * 4 octets of CSRC list run past the end (§5.1)
  kExtensionOverflow,  // extension header or its data runs past the end (§5.3.1)
  kBadPadding,         // P set, but the count octet is 0 or exceeds the payload (§5.1)
  kCount
};
inline constexpr size_t kRtpErrorCount = size_t(RtpError::kCount);
inline constexpr EnumNames<RtpError> kRtpErrorNames = {{
    {RtpError::kTooShort, "rtp-too-short"},
    {RtpError::kTooLong, "rtp-too-long"},
    {RtpError::kBadVersion, "rtp-bad-version"},
    {RtpError::kCsrcOverflow, "rtp-csrc-overflow"},
    {RtpError::kExtensionOverflow, "rtp-extension-overflow"},
    {RtpError::kBadPadding, "rtp-bad-padding"},
}};
static_assert(kRtpErrorNames.complete());
inline const char* to_string(RtpError e) { return kRtpErrorNames[e]; }

inline constexpr size_t kRtpFixedHeaderLength = 12;  // §5.1
inline constexpr size_t kRtpMaxLength = 65535;       // a UDP payload never exceeds this

// A parsed RTP packet. Points into the caller's buffer; copies nothing.
// Layout: [fixed 12][CSRC 4*CC][ext hdr 4 + ext data][payload][padding].
struct RtpView {
  const uint8_t* data;
  uint16_t length;  // whole packet
  bool marker;
  bool padding;
  uint8_t payload_type;
  uint8_t csrc_count;
  uint16_t sequence;
  uint32_t timestamp;
  uint32_t ssrc;
  uint16_t header_length;  // fixed + CSRC list + extension (header and data)
  uint16_t payload_offset;  // == header_length
  uint16_t payload_length;  // excludes padding
  uint8_t padding_length;   // 0 unless P; includes the count octet itself
  bool has_extension;
  uint16_t extension_profile;       // "defined by profile" field (§5.3.1); 0 if none
  uint16_t extension_length_bytes;  // extension data only (length field * 4), not its 4-octet header

  const uint8_t* payload() const { return data + payload_offset; }
  uint32_t csrc(size_t i) const { return load_be32(data + kRtpFixedHeaderLength + 4 * i); }
  // Extension data (after the 4-octet extension header); meaningful if has_extension.
  const uint8_t* extension_data() const {
    return data + kRtpFixedHeaderLength + 4 * size_t(csrc_count) + 4;
  }
};

// Validates every length before reading it; never reads outside [p, p+len).
// Always inlined: the packet path uses a few of its fields, and the rest
// folds away only when the compiler sees it whole.
[[gnu::always_inline]] inline Result<RtpView, RtpError> parse_rtp(const uint8_t* p, size_t len) {
  if (len < kRtpFixedHeaderLength) [[unlikely]]
    return Err{RtpError::kTooShort};
  if (len > kRtpMaxLength) [[unlikely]]
    return Err{RtpError::kTooLong};
  const uint8_t b0 = p[0];
  const uint8_t b1 = p[1];
  // §5.1: V(2) P(1) X(1) CC(4) | M(1) PT(7) | sequence(16) | timestamp(32) | SSRC(32)
  if ((b0 >> 6) != 2) [[unlikely]]
    return Err{RtpError::kBadVersion};

  RtpView v{};
  v.data = p;
  v.length = uint16_t(len);
  v.padding = (b0 & 0x20) != 0;
  v.has_extension = (b0 & 0x10) != 0;
  v.csrc_count = b0 & 0x0f;
  v.marker = (b1 & 0x80) != 0;
  v.payload_type = b1 & 0x7f;
  v.sequence = load_be16(p + 2);
  v.timestamp = load_be32(p + 4);
  v.ssrc = load_be32(p + 8);

  // §5.1: CC 32-bit CSRC identifiers follow the fixed header.
  size_t header = kRtpFixedHeaderLength + 4 * size_t(v.csrc_count);
  if (header > len) [[unlikely]]
    return Err{RtpError::kCsrcOverflow};

  // §5.3.1: X means one extension: 16-bit profile field, 16-bit length in
  // 32-bit words (not counting this 4-octet header), then the data.
  if (v.has_extension) {
    if (header + 4 > len) [[unlikely]]
      return Err{RtpError::kExtensionOverflow};
    const size_t ext_bytes = size_t(load_be16(p + header + 2)) * 4;
    if (header + 4 + ext_bytes > len) [[unlikely]]
      return Err{RtpError::kExtensionOverflow};
    v.extension_profile = load_be16(p + header);
    v.extension_length_bytes = uint16_t(ext_bytes);  // < len <= 65535
    header += 4 + ext_bytes;
  }

  // §5.1 P bit: the last octet counts the padding octets, itself included, so
  // it is at least 1 and cannot reach back into the header.
  size_t pad = 0;
  if (v.padding) {
    pad = p[len - 1];
    if (pad == 0 || pad > len - header) [[unlikely]]
      return Err{RtpError::kBadPadding};
  }

  v.header_length = uint16_t(header);
  v.payload_offset = uint16_t(header);
  v.payload_length = uint16_t(len - header - pad);
  v.padding_length = uint8_t(pad);
  return v;
}

inline Result<RtpView, RtpError> parse_rtp(std::span<const uint8_t> packet) {
  return parse_rtp(packet.data(), packet.size());
}

// In-place rewrites of the fixed header (§5.1). `p` is the start of a packet
// that parse_rtp accepted, so the 12 fixed octets are there.
inline void set_rtp_sequence(uint8_t* p, uint16_t sequence) { store_be16(p + 2, sequence); }
inline void set_rtp_timestamp(uint8_t* p, uint32_t timestamp) { store_be32(p + 4, timestamp); }
inline void set_rtp_ssrc(uint8_t* p, uint32_t ssrc) { store_be32(p + 8, ssrc); }
inline void set_rtp_payload_type(uint8_t* p, uint8_t payload_type, bool marker) {
  p[1] = uint8_t((marker ? 0x80 : 0x00) | (payload_type & 0x7f));
}

}  // namespace vox::dataplane
