// SRTP decisions per m= line at offer and answer (see srtp_negotiation.h):
// the transport protocol each party sees and the SDES keys each side gets.
#include "control/srtp_negotiation.h"

#include <array>

#include "control/webrtc_sdp.h"

namespace vox::control {

namespace {

constexpr std::array<std::string_view, 4> kRtpProtos = {"RTP/AVP", "RTP/AVPF", "RTP/SAVP",
                                                        "RTP/SAVPF"};

// What the relay last agreed with this party, as a previous answer for
// make_sdes_answer: the pending answer of the last offer, else the
// installed keys (the party offered to the relay before: roles swapped).
std::optional<SdesAnswer> previous_answer(const MediaSide& s) {
  if (s.sdes_answer) return s.sdes_answer;
  if (!s.srtp) return std::nullopt;
  SdesAnswer a;
  a.line.tag = s.srtp->tag;
  a.line.key = s.srtp->outbound;
  a.session = *s.srtp;
  return a;
}

// ... and as a previous offer for make_sdes_offer: lines whose keys the
// party already has.
std::vector<SdesCrypto> previous_offer(const MediaSide& s) {
  if (!s.sdes_offer.empty()) return s.sdes_offer;
  if (s.sdes_answer) return {s.sdes_answer->line};
  if (!s.srtp) return {};
  SdesCrypto c;
  c.tag = s.srtp->tag;
  c.key = s.srtp->outbound;
  return {c};
}

}  // namespace

bool is_rtp_proto(std::string_view proto) {
  for (auto p : kRtpProtos)
    if (proto == p) return true;
  return false;
}

bool is_media_proto(std::string_view proto) { return is_rtp_proto(proto) || is_dtls_proto(proto); }

bool has_feedback(std::string_view proto) { return proto.ends_with("F"); }

bool is_sdes_proto(std::string_view proto) {
  return proto == "RTP/SAVP" || proto == "RTP/SAVPF";
}

std::string with_srtp(std::string_view proto, bool srtp) {
  if (!is_media_proto(proto)) return std::string(proto);
  const bool feedback = has_feedback(proto);
  return std::string(srtp ? "RTP/SAVP" : "RTP/AVP") + (feedback ? "F" : "");
}

Result<std::string, std::string> parse_transport_protocol(std::string_view value) {
  for (auto p : kRtpProtos)
    if (iequals(value, p)) return std::string(p);
  if (iequals(value, "accept")) return std::string("accept");
  for (std::string_view p : {"UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"})
    if (iequals(value, p)) return std::string(p);
  return Err{std::string("Invalid transport protocol")};
}

std::vector<std::string> render_crypto(const std::vector<SdesCrypto>& lines, bool pad) {
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (const auto& l : lines) out.push_back(render_sdes_crypto(l, {.pad = pad}));
  return out;
}

namespace {

// "nonew": the relay offers only suites the offerer's own a=crypto lines
// name (rtpengine's docs: no new suite is generated). An offerer without
// SDES gives nothing to keep, and the flag nothing to do: the relay's
// suites are offered as without it.
SdesFlags offer_flags(SdesFlags flags, const SdpMedia& m) {
  if (!flags.nonew) return flags;
  uint8_t offered = 0;
  for (auto v : m.attribute_values("crypto"))
    if (auto c = parse_sdes_crypto(v)) offered |= uint8_t(1u << unsigned(c->key.suite));
  if (offered) flags.excluded |= uint8_t(~offered);
  return flags;
}

}  // namespace

Result<SrtpOfferPlan, std::string> plan_srtp_offer(const SdpMedia& m, std::string_view transport,
                                                   const SdesFlags& flags, const MediaSide* offerer,
                                                   const MediaSide* answerer,
                                                   TransportChoice choice) {
  SrtpOfferPlan p;
  p.proto = m.proto;
  if (!is_media_proto(m.proto)) return p;  // udptl...: relayed as they are
  if (!transport.empty() && transport != "accept") p.proto = std::string(transport);
  if (m.port == 0) return p;  // rejected: nothing to negotiate

  if (is_sdes_proto(m.proto) && !choice.offerer_dtls) {
    SdesFlags answering;  // the offerer's lines are not filtered (see the header)
    answering.pad = flags.pad;
    answering.lifetime = flags.lifetime;
    answering.static_keys = flags.static_keys;
    auto previous = offerer ? previous_answer(*offerer) : std::nullopt;
    auto a =
        make_sdes_answer(m.attribute_values("crypto"), answering, previous ? &*previous : nullptr);
    if (!a.ok()) return Err{std::string(to_string(a.error()))};
    p.answer = std::move(*a);
  }
  if (is_dtls_proto(p.proto)) {
    if (!choice.dtls_off) {
      p.dtls = true;
      return p;
    }
    p.proto = with_srtp(p.proto, true);  // DTLS=off: the same profile keyed by SDES
  }
  if (is_sdes_proto(p.proto)) {
    auto previous = answerer ? previous_offer(*answerer) : std::vector<SdesCrypto>{};
    auto o = make_sdes_offer(offer_flags(flags, m), previous.empty() ? nullptr : &previous);
    if (!o.ok()) return Err{std::string(to_string(o.error()))};
    if (o->empty()) {
      // Nothing to offer by SDES ("SDES off", or no suite left): DTLS-SRTP
      // is the other way, as in rtpengine, unless that is off too.
      if (choice.dtls_off) return Err{std::string(to_string(SdesError::kNoAcceptableCrypto))};
      p.dtls = true;
      return p;
    }
    p.offer = std::move(*o);
  }
  return p;
}

Result<SrtpAnswerPlan, std::string> plan_srtp_answer(const SdpMedia& m, std::string_view transport,
                                                     const MediaSide& offerer,
                                                     const MediaSide& answerer) {
  SrtpAnswerPlan p;
  p.proto = m.proto;
  if (is_dtls_proto(offerer.proto)) {
    p.proto = offerer.proto;  // DTLS-SRTP with the relay, whatever the answerer speaks
    if (!transport.empty() && transport != "accept" && transport != offerer.proto)
      p.warning = "transport protocol " + std::string(transport) + " does not match the offer (" +
                  offerer.proto + "): answered " + p.proto;
  } else if (is_rtp_proto(offerer.proto)) {
    const bool srtp = is_sdes_proto(offerer.proto);
    p.proto = offerer.proto;
    if (transport == "accept" && is_rtp_proto(m.proto)) {
      p.proto = with_srtp(m.proto, srtp);
    } else if (!transport.empty() && transport != "accept") {
      p.proto = with_srtp(transport, srtp);
      if ((is_sdes_proto(transport) || is_dtls_proto(transport)) != srtp)
        p.warning = "transport protocol " + std::string(transport) + " does not match the offer (" +
                    offerer.proto + "): answered " + p.proto;
    }
  }
  if (!answerer.sdes_offer.empty() && m.port != 0 && is_sdes_proto(m.proto)) {
    auto s = accept_sdes_answer(answerer.sdes_offer, m.attribute_values("crypto"));
    if (!s.ok()) return Err{std::string(to_string(s.error()))};
    p.answerer_keys = *s;
  }
  return p;
}

bool same_srtp_keys(const std::optional<SdesSession>& a, const std::optional<SdesSession>& b) {
  if (!a || !b) return !a && !b;
  return a->inbound == b->inbound && a->outbound == b->outbound;
}

}  // namespace vox::control
