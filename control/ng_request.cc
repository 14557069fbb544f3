// Reads an offer's or answer's NG dictionary (control/ng_request.h). Key
// and flag spellings follow rtpengine's ng_control_protocol.md: spaces,
// hyphens and underscores are equivalent.
#include "control/ng_request.h"

#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>

#include <spdlog/spdlog.h>

#include "control/srtp_negotiation.h"

namespace vox::control {

namespace {

// "received from": ["IP4", "203.0.113.7"] (or a bare address string).
std::optional<IpAddr> parse_received_from(const NgValue& req) {
  auto parts = req.find_strings("received from");
  if (parts.empty()) return std::nullopt;
  return IpAddr::parse(parts.back());
}

// A key's string value, or else a "<key>=<value>" entry of "flags"
// (rtpengine takes both; proxies pass "ICE=force" and the like as flags).
std::optional<std::string_view> keyed(const NgValue& req, const std::vector<std::string_view>& flags,
                                      std::string_view key) {
  if (auto v = req.find_string(key)) return v;
  for (auto f : flags) {
    const size_t eq = f.find('=');
    if (eq != std::string_view::npos && ng_name_equal(f.substr(0, eq), key)) return f.substr(eq + 1);
  }
  return std::nullopt;
}

// "<prefix><name>" entries of "flags" ("rtcp-mux-offer", "replace-origin"),
// the names.
std::vector<std::string_view> prefixed(const std::vector<std::string_view>& flags,
                                       std::string_view prefix) {
  std::vector<std::string_view> out;
  for (auto f : flags)
    if (f.size() > prefix.size() && ng_name_equal(f.substr(0, prefix.size()), prefix))
      out.push_back(f.substr(prefix.size()));
  return out;
}

template <class E, size_t N>
std::optional<E> enum_value(const EnumNames<E, N>& names, std::string_view v) {
  for (const auto& e : names.entries)
    if (*e.name && ng_name_equal(v, e.name)) return e.value;
  return std::nullopt;
}

// rtpengine's log line for a value it does not know ("Unknown 'ICE' flag
// encountered: 'sometimes'").
void warn_unknown(std::string_view key, std::string_view value) {
  warn_ignored("Unknown '" + std::string(key) + "' flag encountered: '" + std::string(value) + "'");
}

// "DTLS" and "DTLS-reverse": off/no/disable, passive, active.
enum class DtlsValue : uint8_t { kPassive, kActive, kOff, kUnknown };

DtlsValue parse_dtls_value(std::string_view v) {
  if (ng_name_equal(v, "passive")) return DtlsValue::kPassive;
  if (ng_name_equal(v, "active")) return DtlsValue::kActive;
  if (ng_name_equal(v, "off") || ng_name_equal(v, "no") || ng_name_equal(v, "disable"))
    return DtlsValue::kOff;
  return DtlsValue::kUnknown;
}

void parse_dtls(const NgValue& req, const std::vector<std::string_view>& flags, SignalRequest& r) {
  if (auto v = keyed(req, flags, "DTLS")) {
    const DtlsValue d = parse_dtls_value(*v);
    if (d == DtlsValue::kUnknown) warn_unknown("DTLS", *v);
    else if (d == DtlsValue::kOff) r.dtls_off = true;
    else r.dtls_passive = d == DtlsValue::kPassive;
  }
  if (auto v = keyed(req, flags, "DTLS-reverse")) {
    const DtlsValue d = parse_dtls_value(*v);
    if (d == DtlsValue::kPassive || d == DtlsValue::kActive) r.dtls_reverse_passive = d == DtlsValue::kPassive;
    else warn_unknown("DTLS-reverse", *v);
  }
  if (auto v = keyed(req, flags, "DTLS-fingerprint")) {
    // The relay's certificate has one fingerprint, sha-256 (RFC 8122 §5:
    // what every WebRTC endpoint accepts); other hashes are not available.
    if (!ng_name_equal(*v, "sha-256")) {
      bool known = false;
      for (std::string_view h : {"sha-1", "sha-224", "sha-384", "sha-512"}) known |= ng_name_equal(*v, h);
      if (known) r.warning = "DTLS-fingerprint " + std::string(*v) + " is not available: using sha-256";
      else warn_unknown("DTLS-fingerprint", *v);
    }
  }
}

// ICE, DTLS and the other WebRTC keys and flags (rtpengine's names).
void parse_webrtc(const NgValue& req, const std::vector<std::string_view>& flags, SignalRequest& r) {
  if (auto v = keyed(req, flags, "ICE")) {
    if (auto mode = enum_value(kIceModeNames, *v)) r.ice = *mode;
    else warn_unknown("ICE", *v);
  }
  if (auto v = keyed(req, flags, "ICE-lite")) {
    auto mode = enum_value(kIceLiteModeNames, *v);
    if (mode && !v->empty()) r.ice_lite = *mode;
    else warn_unknown("ICE-lite", *v);
  }
  r.trickle_ice = ng_list_has(flags, "trickle-ICE");
  parse_dtls(req, flags, r);
  r.generate_mid = ng_list_has(flags, "generate-mid");
  r.strip_extmap = ng_list_has(flags, "strip-extmap");
}

// The "SDES" list and "SDES-<flag>" entries of "flags". Session parameters
// may be written in upper case too (UNENCRYPTED_SRTP), as rtpengine allows.
// A flag voxrelay does not know is logged and ignored, as rtpengine does.
SdesFlags parse_sdes(const NgValue& req, const std::vector<std::string_view>& flags) {
  std::vector<std::string_view> list = req.find_strings("SDES");
  for (auto f : flags)
    if (f.size() > 5 && (ng_name_equal(f.substr(0, 5), "SDES-") || ng_name_equal(f.substr(0, 5), "SDES=")))
      list.push_back(f.substr(5));
  SdesFlags out;
  for (auto f : list) {
    std::string flag(f);
    if (std::none_of(flag.begin(), flag.end(), [](char c) { return c >= 'a' && c <= 'z'; }) &&
        (flag.ends_with("_SRTP") || flag.ends_with("_SRTCP")))
      std::transform(flag.begin(), flag.end(), flag.begin(),
                     [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; });
    if (auto r = apply_sdes_flag(out, flag)) out = *r;
    else warn_unknown("SDES", flag);
  }
  return out;
}

void parse_rtcp_mux(const NgValue& req, const std::vector<std::string_view>& flags,
                    SignalRequest& r) {
  auto mux = req.find_strings("rtcp-mux");
  for (auto f : prefixed(flags, "rtcp-mux-")) mux.push_back(f);
  for (auto m : mux)
    if (!ng_list_has({"offer", "demux", "accept", "reject", "require"}, m)) warn_unknown("rtcp-mux", m);
  r.rtcp_mux_offer = ng_list_has(mux, "offer");
  r.rtcp_mux_demux = ng_list_has(mux, "demux");
  r.rtcp_mux_accept = ng_list_has(mux, "accept");
  r.rtcp_mux_reject = ng_list_has(mux, "reject");
  r.rtcp_mux_require = ng_list_has(mux, "require");
}

// "media address", "received from", "address family", "direction".
void parse_addresses(const NgValue& req, SignalRequest& r) {
  for (auto d : req.find_strings("direction")) r.direction.emplace_back(d);
  if (auto ma = req.find_string("media address"); ma && !ma->empty()) {
    r.media_address = IpAddr::parse(*ma);
    if (!r.media_address) warn_ignored("Invalid media address '" + std::string(*ma) + "'");
  }
  r.received_from = parse_received_from(req);
  if (auto fam = req.find_string("address family")) {
    if (ng_name_equal(*fam, "IP4")) r.address_family = AF_INET;
    else if (ng_name_equal(*fam, "IP6")) r.address_family = AF_INET6;
    else warn_ignored("Unknown address family '" + std::string(*fam) + "'");
  }
}

// "transport protocol", or a protocol named as a bare flag ("RTP/AVP",
// "UDP/TLS/RTP/SAVPF"), as rtpengine accepts.
void parse_transport(const NgValue& req, const std::vector<std::string_view>& flags,
                     SignalRequest& r) {
  auto tp = req.find_string("transport protocol");
  for (auto f : flags)
    if (!tp && f.find('/') != std::string_view::npos && parse_transport_protocol(f).ok()) tp = f;
  if (!tp || tp->empty()) return;
  auto proto = parse_transport_protocol(*tp);
  if (proto.ok()) r.transport_protocol = std::move(*proto);
  else warn_ignored("Unknown transport protocol '" + std::string(*tp) + "'");
}

// "TOS": an integer (rtpengine reads it with a default of 256).
void parse_tos(const NgValue& req, SignalRequest& r) {
  auto v = req.find_scalar("TOS");
  if (!v) return;
  char* end = nullptr;
  const long tos = strtol(v->c_str(), &end, 10);
  if (v->empty() || *end) {
    warn_ignored("Invalid TOS '" + *v + "'");
    return;
  }
  r.tos = tos < 0 ? SignalRequest::kTosKeep : tos > 255 ? SignalRequest::kTosDefault : int(tos);
}

}  // namespace

bool ng_list_has(const std::vector<std::string_view>& list, std::string_view name) {
  return std::any_of(list.begin(), list.end(),
                     [&](std::string_view s) { return ng_name_equal(s, name); });
}

void warn_ignored(std::string line) {
  constexpr size_t kMaxLines = 512;  // then silence: a client sending garbage cannot flood the log
  static std::mutex mu;
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard lock(mu);
    if (seen.size() >= kMaxLines || !seen.insert(line).second) return;
    if (seen.size() == kMaxLines) line += " (further unknown NG values are not logged)";
  }
  spdlog::warn("NG: {}: ignored", line);
}

Result<SignalRequest, NgError> parse_signal(const NgValue& req, bool is_answer) {
  SignalRequest r;
  auto call_id = req.find_scalar("call-id");
  if (!call_id || call_id->empty()) return ng_fail(NgErrc::kNoCallId);
  auto from_tag = req.find_scalar("from-tag");
  if (!from_tag || from_tag->empty()) return ng_fail(NgErrc::kNoFromTag);
  auto to_tag = req.find_scalar("to-tag");
  if (is_answer && (!to_tag || to_tag->empty())) return ng_fail(NgErrc::kNoToTag);
  auto sdp = req.find_string("sdp");
  if (!sdp || sdp->empty()) return ng_fail(NgErrc::kNoSdp);
  r.call_id = *call_id;
  r.from_tag = *from_tag;
  r.to_tag = to_tag.value_or("");
  r.via_branch = req.find_scalar("via-branch").value_or("");
  parse_tos(req, r);
  r.sdp = std::string(*sdp);

  auto flags = req.find_strings("flags");
  r.sip_source = ng_list_has(flags, "SIP-source-address") && !ng_list_has(flags, "trust-address");
  r.policy.asymmetric = ng_list_has(flags, "asymmetric");
  r.policy.strict_source = ng_list_has(flags, "strict-source");
  r.policy.media_handover = ng_list_has(flags, "media-handover");
  r.no_rtcp_attribute = ng_list_has(flags, "no-rtcp-attribute");
  r.full_rtcp_attribute = ng_list_has(flags, "full-rtcp-attribute");

  auto replace = req.find_strings("replace");
  for (auto f : prefixed(flags, "replace-")) replace.push_back(f);
  r.replace_origin = ng_list_has(replace, "origin");
  r.replace_sdp_version = ng_list_has(replace, "SDP-version");
  r.replace_zero_address = ng_list_has(replace, "zero-address");
  // The session-level c= always points at the relay: that is the point of
  // the rewrite. "session-connection" is accepted and changes nothing.

  parse_rtcp_mux(req, flags, r);
  parse_addresses(req, r);
  r.label = std::string(req.find_string("label").value_or(""));
  r.from_label = std::string(req.find_string("from-label").value_or(""));
  r.to_label = std::string(req.find_string("to-label").value_or(""));
  if (const NgValue* codec = req.find("codec"); codec && !codec->is_dict())
    warn_ignored("'codec' is not a dictionary");
  auto codec = parse_codec_request(req);
  if (!codec.ok()) return ng_fail(NgErrc::kCodec, codec.error());
  r.codec = std::move(*codec);
  parse_transport(req, flags, r);
  parse_webrtc(req, flags, r);
  r.sdes = parse_sdes(req, flags);
  r.sdes.pad |= ng_list_has(flags, "pad-crypto");  // the legacy name of SDES-pad
  return r;
}

}  // namespace vox::control
