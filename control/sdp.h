// SDP (RFC 8866 / RFC 4566) parsing and rewriting for offer/answer.
// The parser keeps every line it does not interpret, in order, so that the
// rewriter changes only what voxrelay owns (addresses, ports, a=rtcp,
// rtcp-mux, ICE lines, o= with "replace origin") and passes the rest through.
// Input is hostile: lines are bounded, numbers range-checked, and a malformed
// body is an error ("Failed to parse SDP"), never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.h"
#include "base/names.h"
#include "base/result.h"

namespace vox::control {

enum class SdpError : uint8_t {
  kEmpty,          // no v= line / empty body
  kSyntax,         // a line not "x=value", unknown order, bad m= or c= line
  kBadNumber,      // port, ttl, payload type out of range
  kTooLarge,       // over kMaxSdpBytes, kMaxLines or kMaxMedia
  kIncomplete,     // a media section without any connection address
  kCount
};
// The NG error-reason strings are rtpengine's; proxies match them literally.
inline constexpr EnumNames<SdpError> kSdpErrorNames = {{
    {SdpError::kEmpty, "Failed to parse SDP"},
    {SdpError::kSyntax, "Failed to parse SDP"},
    {SdpError::kBadNumber, "Failed to parse SDP"},
    {SdpError::kTooLarge, "Failed to parse SDP"},
    {SdpError::kIncomplete, "Incomplete SDP specification"},
}};
static_assert(kSdpErrorNames.complete());
inline const char* to_string(SdpError e) { return kSdpErrorNames[e]; }

// RFC 8866 §6.7: the direction attributes, by their attribute names.
enum class MediaDirection : uint8_t { kSendRecv, kSendOnly, kRecvOnly, kInactive, kCount };
inline constexpr EnumNames<MediaDirection> kMediaDirectionNames = {{
    {MediaDirection::kSendRecv, "sendrecv"},
    {MediaDirection::kSendOnly, "sendonly"},
    {MediaDirection::kRecvOnly, "recvonly"},
    {MediaDirection::kInactive, "inactive"},
}};
static_assert(kMediaDirectionNames.complete());
inline const char* to_string(MediaDirection d) { return kMediaDirectionNames[d]; }

struct SdpAttribute {
  std::string name;   // "rtpmap"
  std::string value;  // "0 PCMU/8000" (empty for property attributes)
};

struct SdpMedia {
  std::string type;                  // "audio", "video", "image", ...
  uint16_t port = 0;                 // 0 = rejected stream
  uint16_t port_count = 1;           // m=audio 49170/2 ...
  std::string proto;                 // "RTP/AVP", "RTP/SAVPF", "udptl", ...
  std::vector<std::string> formats;  // payload types or format names
  std::optional<IpAddr> connection;  // media-level c= (nullopt: inherit)
  std::vector<SdpAttribute> attributes;  // in order, everything but c=
  std::vector<std::string> other_lines;  // i=, b=, k= lines of this section, raw ("b=AS:64")

  // Derived from attributes at parse time:
  std::optional<uint16_t> rtcp_port;        // a=rtcp:PORT [IN IP4 addr]
  std::optional<IpAddr> rtcp_address;
  bool rtcp_mux = false;                    // a=rtcp-mux
  MediaDirection direction = MediaDirection::kSendRecv;  // media or session level
  bool has_direction_attribute = false;

  // The address this media's RTP is to be sent to, or nullopt when the SDP
  // carries none; hold (0.0.0.0) is returned as the unspecified address.
  std::optional<IpAddr> effective_address(const struct Sdp& sdp) const;

  // Attribute lookups (names compare exactly, as registered: "rtpmap").
  const SdpAttribute* find_attribute(std::string_view name) const;  // first, or null
  std::vector<std::string_view> attribute_values(std::string_view name) const;
  // "a=rtpmap:<fmt> <encoding>" / "a=fmtp:<fmt> <params>" for one format:
  // rtpmap("101") -> "telephone-event/8000", fmtp("101") -> "0-16".
  std::optional<std::string_view> rtpmap(std::string_view fmt) const;
  std::optional<std::string_view> fmtp(std::string_view fmt) const;
};

struct SdpOrigin {
  std::string username, session_id, session_version, net_type, addr_type;
  std::string address;  // kept as text: may be a FQDN
};

struct Sdp {
  SdpOrigin origin;
  std::optional<IpAddr> connection;           // session-level c=
  std::vector<std::string> session_lines;     // every session-level line except v=, o=, c=, in order ("s=-", "t=0 0", "a=group:BUNDLE 0")
  std::vector<SdpMedia> media;
  // A session-level sendrecv/sendonly/recvonly/inactive, if any (it is also
  // copied into each SdpMedia::direction that has no attribute of its own).
  std::optional<MediaDirection> session_direction;

  // Values of the session-level "a=<name>[:<value>]" lines, in order.
  std::vector<std::string_view> session_attribute_values(std::string_view name) const;
};

inline constexpr size_t kMaxSdpBytes = 65536;
inline constexpr size_t kMaxSdpLines = 2048;
inline constexpr size_t kMaxSdpMedia = 32;

Result<Sdp, SdpError> parse_sdp(std::string_view text);

// One RTP payload format of a media section: the m= format plus its
// a=rtpmap (RFC 8866 §6.6) and a=fmtp (§6.15). Encoding names compare
// case-insensitively (RFC 4855 §3) but keep the spelling they were given.
struct SdpCodec {
  uint8_t payload_type = 0;
  std::string encoding;     // "PCMU", "opus", "telephone-event"; "" when unknown
  uint32_t clock_rate = 0;  // RTP clock, Hz
  uint8_t channels = 1;
  std::string fmtp;         // a=fmtp parameters, "" when none

  // The a=rtpmap value after the payload type: "opus/48000/2", "PCMU/8000"
  // (channels only when not 1, RFC 8866 §6.6).
  std::string rtpmap() const;
  // Same encoding (case-insensitive), clock rate and channels; PT and fmtp ignored.
  bool same_format(const SdpCodec& o) const;
  bool operator==(const SdpCodec& o) const = default;
};

// What the relay puts into the SDP it sends on, per m= line (same order).
struct SdpMediaRewrite {
  IpAddr address;            // the relay's (advertised) address for this side
  uint16_t rtp_port = 0;     // 0 keeps the stream rejected
  uint16_t rtcp_port = 0;    // written as a=rtcp:PORT unless rtcp_mux_only
  bool rtcp_mux = false;     // emit a=rtcp-mux
  bool rtcp_attribute = true;        // false with NG flag "no-rtcp-attribute"
  bool full_rtcp_attribute = false;  // a=rtcp:PORT IN IP4 ADDR
  std::optional<std::string> proto;  // replace the m= transport (later: SRTP)
  // Transcoding: when set (non-empty), the m= format list becomes exactly
  // these payload types in this order; every a=rtpmap and a=fmtp line is
  // replaced by one block of rtpmap (+ fmtp when non-empty) lines for these
  // codecs, written where the first original one was (or first among the
  // attributes when there was none); a=rtcp-fb lines of formats not listed
  // are dropped ("*" ones kept). Static payload types get an rtpmap too, as
  // rtpengine writes them. Every other attribute stays in place and order.
  std::optional<std::vector<SdpCodec>> codecs;
  // Repacketization: a=ptime:N replaces the first a=ptime (later ones are
  // dropped) or, when there is none, follows the rtpmap/fmtp lines.
  std::optional<int> ptime;
  // SDES (RFC 4568): when set, every a=crypto line of this section is
  // replaced by these values ("1 AES_CM_128_HMAC_SHA1_80 inline:..."), where
  // the first one was or else after the rtpmap/fmtp lines; empty strips them
  // (a plain RTP side must never see the other party's keys).
  std::optional<std::vector<std::string>> crypto;
  // The relay's own transport attributes toward this party (a=setup,
  // a=fingerprint, ICE credentials and candidates), written after a=rtcp
  // and a=rtcp-mux; the sender's are stripped by SdpRewrite::strip_dtls
  // and strip_ice. Not written for a rejected stream.
  std::vector<SdpAttribute> transport_attributes;
  // RFC 5761 §5.1.3 "rtcp-mux require": a=rtcp names the RTP port.
  // Toward an RTP/AVP or RTP/SAVP party: drop a=rtcp-fb (RFC 4585 §4.2:
  // feedback is AVPF's) and a=rtcp-rsize (RFC 5506 §5, it needs AVPF).
  bool strip_feedback = false;
  // generate-mid: a=mid:<value> first among the attributes when the
  // section has no a=mid of its own.
  std::optional<std::string> mid;
  // Drop the section's a=mid: an answer to an offerer that sent none
  // (RFC 5888 §9.1: an answer has a=mid only for an offered one).
  bool strip_mid = false;
};

struct SdpRewrite {
  std::vector<SdpMediaRewrite> media;  // one per parsed m= line
  bool replace_origin = false;         // o= address := relay address
  bool replace_session_connection = true;  // session c= := relay address
  bool strip_ice = false;              // ICE remove: candidate, ice-ufrag, ice-pwd,
                                       // ice-options, end-of-candidates, ice-lite
  bool strip_dtls = false;             // a=fingerprint, a=setup, a=tls-id (both levels)
  bool strip_extmap = false;           // a=extmap (both levels; RFC 8285)
  // An ICE party's 0.0.0.0 (RFC 8839 §4.2.1.1 placeholder, not a hold)
  // becomes the relay's address like any other.
  bool replace_zero_address = false;
  // When set, the session-level "a=group:BUNDLE ..." line becomes
  // "a=group:<value>"; an empty value drops it (RFC 9143).
  std::optional<std::string> bundle_group;
  // Session-level attributes the relay adds ("ice-lite"), after the
  // session lines.
  std::vector<SdpAttribute> session_attributes;
  bool increment_version = false;      // o= session version + 1
  // When set, o= session version is this value (the relay keeps one per
  // party and increments it only when its output changes).
  std::optional<uint64_t> session_version;
};

// Renders the SDP with the rewrite applied. Line endings are CRLF. Holds
// (c=0.0.0.0 or sendonly/inactive) stay holds: an unspecified address is
// kept unspecified rather than replaced by the relay's.
std::string render_sdp(const Sdp& sdp, const SdpRewrite& rewrite);

}  // namespace vox::control
