// WebRTC transport attributes per m= line (see webrtc_sdp.h): reading a
// party's ICE and DTLS attributes, writing the relay's, BUNDLE groups.
#include "control/webrtc_sdp.h"

#include <string_view>

#include "control/sdes.h"

namespace vox::control {

namespace {

// The first value of a=<name>, media level first, then session level.
std::string attribute(const Sdp& sdp, const SdpMedia& m, std::string_view name) {
  if (const SdpAttribute* a = m.find_attribute(name)) return a->value;
  auto v = sdp.session_attribute_values(name);
  return v.empty() ? std::string() : std::string(v.front());
}

// RFC 8122 §5: several a=fingerprint lines may be given, one per hash; the
// relay's DTLS checks sha-256 when there is one (the hash every browser
// sends), else whatever was given first.
std::string fingerprint(const Sdp& sdp, const SdpMedia& m) {
  std::vector<std::string_view> all = m.attribute_values("fingerprint");
  if (all.empty()) all = sdp.session_attribute_values("fingerprint");
  for (std::string_view f : all)
    if (f.size() > 8 && iequals(f.substr(0, 8), "sha-256 ")) return std::string(f);
  return all.empty() ? std::string() : std::string(all.front());
}

constexpr std::string_view kIceChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

bool is_dtls_proto(std::string_view proto) {
  return iequals(proto, "UDP/TLS/RTP/SAVP") || iequals(proto, "UDP/TLS/RTP/SAVPF");
}

PeerTransport read_peer_transport(const Sdp& sdp, const SdpMedia& m) {
  PeerTransport t;
  t.fingerprint = fingerprint(sdp, m);
  const bool srtp_profile = m.proto == "RTP/SAVP" || m.proto == "RTP/SAVPF";
  t.dtls = !t.fingerprint.empty() && (is_dtls_proto(m.proto) || srtp_profile);
  t.setup = attribute(sdp, m, "setup");
  t.ice_ufrag = attribute(sdp, m, "ice-ufrag");
  t.ice_pwd = attribute(sdp, m, "ice-pwd");
  t.ice = !t.ice_ufrag.empty() && !t.ice_pwd.empty();
  if (const SdpAttribute* a = m.find_attribute("mid")) t.mid = a->value;
  return t;
}

bool relay_active_answering(std::string_view offered, bool prefer_passive) {
  if (offered.empty() || offered == "active") return false;
  if (offered == "passive") return true;
  return !prefer_passive;
}

bool relay_active_after_answer(std::string_view answered) { return answered == "passive"; }

std::string random_ice_chars(size_t n, std::random_device& rd) {
  std::string s;
  s.reserve(n);
  // 64 symbols: 6 bits of each 32-bit draw, so no modulo bias.
  for (size_t i = 0; i < n; ++i) s += kIceChars[rd() & 63];
  return s;
}

bool is_ice_chars(std::string_view s) {
  return !s.empty() && s.find_first_not_of(kIceChars) == std::string_view::npos;
}

uint32_t host_candidate_priority(int component) {
  return (uint32_t(126) << 24) + (uint32_t(65535) << 8) + uint32_t(256 - component);
}

std::string host_candidate(const IpAddr& address, uint16_t port, int component) {
  // RFC 8445 §5.1.1.3: the same foundation for candidates of one type,
  // base address and protocol; the address's FNV-1a hash gives that.
  const std::string text = address.to_string();
  uint32_t h = 2166136261u;
  for (char c : text) h = (h ^ uint8_t(c)) * 16777619u;
  return std::to_string(h) + " " + std::to_string(component) + " udp " +
         std::to_string(host_candidate_priority(component)) + " " + text + " " +
         std::to_string(port) + " typ host";
}

std::vector<SdpAttribute> relay_transport_attributes(const RelayTransport& t) {
  std::vector<SdpAttribute> out;
  if (!t.setup.empty()) {
    out.push_back({"setup", t.setup});
    out.push_back({"fingerprint", t.fingerprint});
  }
  if (!t.ice) return out;
  out.push_back({"ice-ufrag", t.ice->local_ufrag});
  out.push_back({"ice-pwd", t.ice->local_pwd});
  if (t.trickle) out.push_back({"ice-options", "trickle"});
  out.push_back({"candidate", host_candidate(t.address, t.rtp_port, 1)});
  if (t.rtcp_port) out.push_back({"candidate", host_candidate(t.address, t.rtcp_port, 2)});
  out.push_back({"end-of-candidates", ""});
  return out;
}

std::vector<size_t> bundled_media(const Sdp& sdp) {
  std::vector<size_t> out;
  for (std::string_view g : sdp.session_attribute_values("group")) {
    if (!g.starts_with("BUNDLE")) continue;
    // "BUNDLE <mid> <mid> ...", mids separated by single spaces (RFC 5888 §5).
    std::string_view rest = g.substr(6);
    while (!rest.empty()) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      const std::string_view mid = rest.substr(0, rest.find(' '));
      rest.remove_prefix(mid.size());
      if (mid.empty()) break;
      for (size_t i = 0; i < sdp.media.size(); ++i) {
        const SdpAttribute* a = sdp.media[i].find_attribute("mid");
        if (a && a->value == mid) {
          out.push_back(i);
          break;
        }
      }
    }
    break;
  }
  return out;
}

}  // namespace vox::control
