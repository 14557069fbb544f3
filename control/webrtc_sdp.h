// WebRTC transport attributes per m= line, as pure functions: what a
// party's SDP says about ICE (RFC 8839) and DTLS-SRTP (RFC 5763, 8842),
// the relay's own attributes toward a party (a=setup, a=fingerprint, its
// ICE-lite credentials and host candidates) and BUNDLE groups (RFC 9143).
// The decisions that use them (who gets what) are in call_manager.cc.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "control/call.h"
#include "control/sdp.h"

namespace vox::control {

// UDP/TLS/RTP/SAVP and UDP/TLS/RTP/SAVPF (RFC 5764 §8).
bool is_dtls_proto(std::string_view proto);

// What a party's media section says about its transport, each attribute
// from the media level, else the session level (RFC 8839 §5.4 and
// RFC 8122 §5 allow both).
struct PeerTransport {
  // DTLS-SRTP: UDP/TLS/RTP/SAVP(F) with a=fingerprint, or RTP/SAVP(F) with
  // a=fingerprint (the pre-RFC 8842 spelling some endpoints still send).
  bool dtls = false;
  std::string fingerprint;  // "sha-256 AB:CD:..." (a sha-256 one when several)
  std::string setup;        // a=setup value, "" when absent
  bool ice = false;         // a=ice-ufrag and a=ice-pwd both present
  std::string ice_ufrag, ice_pwd;
  std::string mid;          // a=mid, "" when absent
};
PeerTransport read_peer_transport(const Sdp& sdp, const SdpMedia& m);

// The relay's DTLS role (true: active, the client) answering an offer whose
// a=setup was `offered`: active -> passive, passive -> active, actpass (or
// holdconn, or unknown) -> active unless `prefer_passive`; a missing
// a=setup means active (RFC 4145 §4, RFC 8842 §5.3).
bool relay_active_answering(std::string_view offered, bool prefer_passive);
// The relay's role once the party answered the relay's actpass with
// `answered`: passive -> active, anything else (active, or missing: RFC
// 4145's default) -> passive.
bool relay_active_after_answer(std::string_view answered);

// ICE credentials (RFC 8445 §5.3, RFC 8839 §5.4): ice-chars (ALPHA, DIGIT,
// "+", "/"), 8 for the ufrag (at least 24 bits of randomness) and 24 for
// the password (at least 128 bits).
inline constexpr size_t kIceUfragChars = 8;
inline constexpr size_t kIcePwdChars = 24;
std::string random_ice_chars(size_t n, std::random_device& rd);
bool is_ice_chars(std::string_view s);

// A host candidate's priority (RFC 8445 §5.1.2.1: type preference 126,
// local preference 65535) and its a=candidate value (RFC 8839 §5.1):
// "<foundation> <component> udp <priority> <address> <port> typ host".
uint32_t host_candidate_priority(int component);
std::string host_candidate(const IpAddr& address, uint16_t port, int component);

// The relay's transport attributes toward one party, in rtpengine's order:
// a=setup and a=fingerprint (DTLS), then a=ice-ufrag, a=ice-pwd,
// a=ice-options:trickle, one host candidate per component and
// a=end-of-candidates (ICE).
struct RelayTransport {
  std::string setup;        // "actpass", "active", "passive"; "": no DTLS
  std::string fingerprint;  // the relay's a=fingerprint value
  const IceSide* ice = nullptr;  // the relay's credentials; null: no ICE
  bool trickle = false;
  IpAddr address;
  uint16_t rtp_port = 0;
  uint16_t rtcp_port = 0;  // component 2's candidate; 0: RTCP muxed, none
};
std::vector<SdpAttribute> relay_transport_attributes(const RelayTransport& t);

// The m= lines of the first a=group:BUNDLE (RFC 9143 §7.1) by index, in
// the group's order; empty without one.
std::vector<size_t> bundled_media(const Sdp& sdp);

}  // namespace vox::control
