// Compound RTCP validation (RFC 3550 appendix A.2 checks, RFC 5506 option).
// No allocation, no copies: one pass over the packet headers.
#include "dataplane/rtcp.h"

#include <cstring>

namespace vox::dataplane {

namespace {

// §6.4.1 (SR) / §6.4.2 (RR): SSRC, [sender info], then RC report blocks;
// profile-specific extensions may follow, so the body may be longer.
bool report_fits(uint8_t type, uint8_t count, size_t body_end) {
  size_t need = kRtcpHeaderLength + 4 + size_t(count) * kRtcpReportBlockLength;
  if (type == kRtcpSr) need += kRtcpSenderInfoLength;
  return need <= body_end;
}

}  // namespace

Result<RtcpCompoundView, RtcpError> parse_rtcp_compound(const uint8_t* p, size_t len,
                                                        bool allow_reduced_size) {
  if (len < kRtcpHeaderLength) return Err{RtcpError::kTooShort};
  if (len > kRtcpMaxLength) return Err{RtcpError::kTooLong};
  // §6.4.1: every length is counted in 32-bit words, so the sum is too.
  if (len % 4 != 0) return Err{RtcpError::kBadLength};

  RtcpCompoundView v{};
  v.data = p;
  v.length = uint16_t(len);
  v.first_type = p[1];

  size_t off = 0;
  uint16_t n = 0;
  while (off < len) {
    const uint8_t* h = p + off;  // off + 4 <= len: off and len are multiples of 4
    if ((h[0] >> 6) != 2) return Err{RtcpError::kBadVersion};
    const uint8_t type = h[1];
    // §6.1 / A.2: a compound starts with SR or RR; RFC 5506 §3 lifts that.
    if (n == 0 && !allow_reduced_size && type != kRtcpSr && type != kRtcpRr)
      return Err{RtcpError::kBadFirstType};
    // §6.4.1 length: 32-bit words minus one, header and padding included.
    const size_t plen = (size_t(load_be16(h + 2)) + 1) * 4;
    if (plen > len - off) return Err{RtcpError::kLengthOverflow};
    const bool last = off + plen == len;
    size_t body_end = plen;  // end of the packet's content, padding excluded
    if (h[0] & 0x20) {
      // A.2: only the last packet may be padded. §6.4.1: the last octet
      // counts the padding (itself included), a multiple of four.
      if (!last) return Err{RtcpError::kPaddingNotLast};
      const size_t pad = h[plen - 1];
      if (pad == 0 || pad % 4 != 0 || pad > plen - kRtcpHeaderLength)
        return Err{RtcpError::kBadPadding};
      body_end -= pad;
      v.padding_length = uint8_t(pad);
    }
    if ((type == kRtcpSr || type == kRtcpRr) && !report_fits(type, h[0] & 0x1f, body_end))
      return Err{RtcpError::kReportOverflow};
    if (n == 0 && body_end >= kRtcpHeaderLength + 4) {
      v.has_sender_ssrc = true;
      v.sender_ssrc = load_be32(h + 4);
      if (type == kRtcpSr) {  // report_fits guaranteed the 20 octets
        const uint8_t* si = h + kRtcpSenderInfoOffset;
        v.has_sender_info = true;
        v.sender_info = RtcpSenderInfo{load_be64(si), load_be32(si + 8), load_be32(si + 12),
                                       load_be32(si + 16)};
      }
    }
    ++n;
    off += plen;
  }
  v.num_packets = n;
  return v;
}

uint16_t strip_rtcp_feedback(uint8_t* p, uint16_t len) {
  uint16_t in = 0, out = 0;
  while (in + kRtcpHeaderLength <= len) {
    const uint16_t plen = uint16_t((size_t(load_be16(p + in + 2)) + 1) * 4);
    if (plen > len - in) break;  // not a validated compound: leave the rest as it is
    const uint8_t type = p[in + 1];
    if (type != kRtcpRtpfb && type != kRtcpPsfb) {
      if (out != in) std::memmove(p + out, p + in, plen);
      out = uint16_t(out + plen);
    }
    in = uint16_t(in + plen);
  }
  return out;
}

}  // namespace vox::dataplane
