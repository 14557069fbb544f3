// Compound RTCP (RFC 3550 §6.1, §6.4, appendix A.2) validated in place, with
// reduced-size RTCP (RFC 5506 §3) as an option. The view exposes the packet
// headers, the first SR's sender info that RTCP rewriting needs, and the
// SR/RR report blocks that loss feedback needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "base/names.h"

namespace vox::dataplane {

// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2).
inline constexpr uint8_t kRtcpSr = 200;
inline constexpr uint8_t kRtcpRr = 201;
inline constexpr uint8_t kRtcpSdes = 202;
inline constexpr uint8_t kRtcpBye = 203;
inline constexpr uint8_t kRtcpApp = 204;
inline constexpr uint8_t kRtcpRtpfb = 205;
inline constexpr uint8_t kRtcpPsfb = 206;
inline constexpr uint8_t kRtcpXr = 207;

inline constexpr size_t kRtcpHeaderLength = 4;        // V P count | PT | length (§6.4.1)
inline constexpr size_t kRtcpSenderInfoOffset = 8;    // in an SR, after header + SSRC
inline constexpr size_t kRtcpSenderInfoLength = 20;   // NTP(8) RTP(4) packets(4) octets(4)
inline constexpr size_t kRtcpReportBlockLength = 24;  // §6.4.1
inline constexpr size_t kRtcpMaxLength = 65535;       // a UDP payload never exceeds this

// Why a datagram is not valid (compound) RTCP; one drop reason each.
enum class RtcpError : uint8_t {
  kTooShort,        // not even one 4-octet common header (§6.4.1)
  kTooLong,         // longer than any UDP payload
  kBadLength,       // total not a multiple of 32 bits (§6.4.1 length field, A.2)
  kBadVersion,      // a packet's V is not 2 (A.2)
  kLengthOverflow,  // a packet's length field runs past the datagram (A.2)
  kBadFirstType,    // first packet not SR/RR (§6.1, A.2) and reduced-size not allowed
  kPaddingNotLast,  // P set on a packet other than the last (§6.4.1, A.2)
  kBadPadding,      // padding count 0, not a multiple of 4, or past the body (§6.4.1)
  kReportOverflow,  // SR/RR: SSRC, sender info or RC report blocks exceed its length (§6.4.1-2)
  kCount
};
inline constexpr size_t kRtcpErrorCount = size_t(RtcpError::kCount);
inline constexpr EnumNames<RtcpError> kRtcpErrorNames = {{
    {RtcpError::kTooShort, "rtcp-too-short"},
    {RtcpError::kTooLong, "rtcp-too-long"},
    {RtcpError::kBadLength, "rtcp-bad-length"},
    {RtcpError::kBadVersion, "rtcp-bad-version"},
    {RtcpError::kLengthOverflow, "rtcp-length-overflow"},
    {RtcpError::kBadFirstType, "rtcp-bad-first-type"},
    {RtcpError::kPaddingNotLast, "rtcp-padding-not-last"},
    {RtcpError::kBadPadding, "rtcp-bad-padding"},
    {RtcpError::kReportOverflow, "rtcp-report-overflow"},
}};
static_assert(kRtcpErrorNames.complete());
inline const char* to_string(RtcpError e) { return kRtcpErrorNames[e]; }

// One packet of a validated compound. `data` points at its common header.
struct RtcpPacketHeader {
  const uint8_t* data;
  uint16_t length;  // whole packet in octets, header and padding included
  uint8_t type;     // PT
  uint8_t count;    // RC / SC / FMT / subtype: the 5 low bits of octet 0
  bool padding;     // P; only ever set on the last packet
};

// Sender info of an SR (§6.4.1), in host order.
struct RtcpSenderInfo {
  uint64_t ntp_timestamp;  // 32.32 fixed point seconds since 1900
  uint32_t rtp_timestamp;
  uint32_t packet_count;
  uint32_t octet_count;
};

// One reception report block of an SR or RR (§6.4.1), in host order.
struct RtcpReportBlock {
  uint32_t ssrc;             // SSRC_n: the source this block is about
  uint8_t fraction_lost;     // since the previous report, in 1/256 (loss 0 if more arrived)
  int32_t cumulative_lost;   // 24-bit signed: duplicates can make it negative
  uint32_t highest_seq;      // extended highest sequence number received
  uint32_t jitter;           // interarrival jitter, RTP timestamp units
  uint32_t last_sr;          // LSR: middle 32 bits of the last SR's NTP timestamp
  uint32_t delay_since_sr;   // DLSR, 1/65536 s
};

// Reads the block at `p`; only for blocks inside a validated SR/RR.
inline RtcpReportBlock rtcp_report_block_at(const uint8_t* p) {
  const uint32_t lost = load_be32(p + 4);
  return RtcpReportBlock{load_be32(p), uint8_t(lost >> 24),
                         int32_t(lost << 8) >> 8,  // sign-extend the low 24 bits
                         load_be32(p + 8), load_be32(p + 12), load_be32(p + 16),
                         load_be32(p + 20)};
}

// Reads the header of the packet at `p`; only for packets inside a view.
inline RtcpPacketHeader rtcp_packet_header_at(const uint8_t* p) {
  return RtcpPacketHeader{p, uint16_t((size_t(load_be16(p + 2)) + 1) * 4), p[1], uint8_t(p[0] & 0x1f),
                          (p[0] & 0x20) != 0};
}

// Forward iterator over the packets of a validated compound.
class RtcpPacketIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = RtcpPacketHeader;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = RtcpPacketHeader;

  RtcpPacketIterator() = default;
  explicit RtcpPacketIterator(const uint8_t* p) : p_(p) {}
  RtcpPacketHeader operator*() const { return rtcp_packet_header_at(p_); }
  RtcpPacketIterator& operator++() {
    p_ += (size_t(load_be16(p_ + 2)) + 1) * 4;
    return *this;
  }
  RtcpPacketIterator operator++(int) {
    RtcpPacketIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const RtcpPacketIterator&) const = default;

 private:
  const uint8_t* p_ = nullptr;
};

// A validated compound RTCP datagram. Points into the caller's buffer.
struct RtcpCompoundView {
  const uint8_t* data;
  uint16_t length;          // whole datagram
  uint16_t num_packets;     // >= 1
  uint8_t first_type;       // PT of the first packet
  uint8_t padding_length;   // of the last packet; 0 if its P is clear
  bool has_sender_ssrc;     // first packet is long enough to carry one (always for SR/RR)
  bool has_sender_info;     // first packet is an SR
  uint32_t sender_ssrc;     // SSRC at offset 4 of the first packet; 0 if none
  RtcpSenderInfo sender_info;  // valid if has_sender_info

  RtcpPacketIterator begin() const { return RtcpPacketIterator(data); }
  RtcpPacketIterator end() const { return RtcpPacketIterator(data + length); }
};

// Walks every packet, checking everything before reading it. With
// allow_reduced_size (RFC 5506 §3, negotiated by a=rtcp-rsize) the first
// packet may be of any type; all other checks still apply.
Result<RtcpCompoundView, RtcpError> parse_rtcp_compound(const uint8_t* p, size_t len,
                                                        bool allow_reduced_size = false);
inline Result<RtcpCompoundView, RtcpError> parse_rtcp_compound(std::span<const uint8_t> datagram,
                                                               bool allow_reduced_size = false) {
  return parse_rtcp_compound(datagram.data(), datagram.size(), allow_reduced_size);
}

template <class F>
void for_each_rtcp_packet(const RtcpCompoundView& view, F&& f) {
  for (RtcpPacketHeader h : view) f(h);
}

// Calls f(block) for every report block of every SR and RR in the view, in
// order. Safe without further checks: parsing rejected any SR/RR whose RC
// blocks do not fit (kReportOverflow).
template <class F>
void for_each_rtcp_report_block(const RtcpCompoundView& view, F&& f) {
  for (RtcpPacketHeader h : view) {
    if (h.type != kRtcpSr && h.type != kRtcpRr) continue;
    const uint8_t* b = h.data + kRtcpHeaderLength + 4;  // after the sender's SSRC
    if (h.type == kRtcpSr) b += kRtcpSenderInfoLength;
    for (uint8_t i = 0; i < h.count; ++i, b += kRtcpReportBlockLength) f(rtcp_report_block_at(b));
  }
}

// RTCP feedback (RFC 4585 §6: RTPFB, PSFB) is AVPF's: toward a party that
// negotiated plain AVP it is removed from a validated compound, in place
// (RFC 4585 §5: an AVP receiver never asked for it). Returns the new
// length; 0 when nothing else was in the datagram (it is then not sent).
uint16_t strip_rtcp_feedback(uint8_t* p, uint16_t len);

}  // namespace vox::dataplane
