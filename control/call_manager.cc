// CallManager's offer/answer state machine: the call table, offer, answer,
// delete and timeouts. See call_manager.h for the contract (validate first,
// then change); the media-side resources it uses are in call_media.cc.
#include "control/call_manager.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string_view>
#include <tuple>

#include "control/call_record.h"
#include "control/webrtc_sdp.h"

namespace vox::control {

namespace {

constexpr int64_t kNsPerSec = 1000000000;

// Where a party wants to receive, from its SDP and SIP-source-address (the
// IP the SIP message came from, for endpoints behind NAT that write
// private addresses). "media address" is not about the party: rtpengine
// writes it into the SDP it sends on (sdp_address below).
IpAddr endpoint_address(const SignalRequest& r, const Sdp& sdp, const SdpMedia& m) {
  auto sdp_addr = m.effective_address(sdp);
  if (r.sip_source && r.received_from && !(sdp_addr && sdp_addr->is_unspecified()))
    return *r.received_from;
  return sdp_addr.value_or(IpAddr{});
}

// AF_INET or AF_INET6: the family of the SDP's first address (its first
// m= line's, else the session c=); nullopt without one.
std::optional<int> sdp_family(const Sdp& sdp) {
  std::optional<IpAddr> addr = sdp.media.empty() ? sdp.connection : sdp.media[0].effective_address(sdp);
  if (!addr) return std::nullopt;
  return addr->is_v4() ? AF_INET : AF_INET6;
}

// The relay's address in the SDP it sends: "media address" when given (an
// operator's NAT or load-balancer address, rtpengine 10.5's meaning), else
// the interface's advertised one.
IpAddr sdp_address(const SignalRequest& r, const InterfaceConfig& itf) {
  return r.media_address.value_or(itf.advertised);
}

// RFC 8866 §5.14 "m=audio P/N": N port pairs (layered coding). Ports are
// steered to workers by pair, so consecutive pairs would land on different
// workers; the relay gives each stream one pair and says so.
std::string port_count_warning(const Sdp& sdp, std::string warning) {
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    const SdpMedia& m = sdp.media[i];
    if (m.port == 0 || m.port_count == 1) continue;
    std::string w = "m= line " + std::to_string(i + 1) + ": " + std::to_string(m.port_count) +
                    " ports: only the first port pair is relayed";
    warning = warning.empty() ? w : warning + "; " + w;
  }
  return warning;
}

// Reads one party's media description into its MediaSide.
void learn_media(MediaSide& side, const SignalRequest& r, const Sdp& sdp, const SdpMedia& m) {
  IpAddr addr = endpoint_address(r, sdp, m);
  Endpoint rtp{addr, m.port};
  Endpoint rtcp{m.rtcp_address.value_or(addr),
                m.rtcp_port ? *m.rtcp_port : uint16_t(m.port ? m.port + 1 : 0)};
  if (m.rtcp_mux) rtcp = rtp;
  if (addr.is_unspecified()) {
    // Hold (c=0.0.0.0): nothing to send to, but keep the ports.
    rtp.port = 0;
    rtcp.port = 0;
  }
  side.reset_latch = side.installed && !(side.sdp_rtp == rtp);
  side.sdp_rtp = rtp;
  side.sdp_rtcp = rtcp;
  side.type = m.type;
  side.proto = m.proto;
  side.offered_mux = m.rtcp_mux;
  side.rejected = m.port == 0;
  side.direction = m.direction;
  const std::vector<SdpCodec> codecs = codecs_of(m);
  side.codec = codecs.empty() ? std::string() : codecs[0].encoding + "/" + std::to_string(codecs[0].clock_rate);
  side.clocks = {};
  // Audio codecs only: an RFC 4733 event repeats its start timestamp and
  // comfort noise is sparse; neither tells network jitter.
  for (const SdpCodec& c : codecs)
    if (!is_supplemental(c)) side.clocks.add(c.payload_type, c.clock_rate);
}

// The rewrite that points an SDP at the relay: per m= line the local ports
// of `sides` (the party that will receive this SDP), rejected streams kept
// at port 0; rtcp-mux as offered to that party (offer) or as negotiated
// with it (answer). The sender's ICE and DTLS attributes never pass; the
// relay writes its own where it terminates them toward the receiver
// (MediaSide::relay_sent_dtls, relay_sent_ice): a=setup (actpass in an
// offer, its role in an answer), a=fingerprint (`fingerprint`), ICE-lite
// credentials and host candidates. A BUNDLE group stays for a WebRTC
// receiver (its m= lines still accepted), and goes for any other.
SdpRewrite make_rewrite(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                        const std::vector<MediaSide>& sides, bool answer,
                        const std::string& fingerprint) {
  SdpRewrite rw;
  rw.replace_origin = r.replace_origin;
  rw.replace_session_connection = r.replace_session_connection;
  rw.strip_ice = true;
  rw.strip_dtls = true;
  rw.strip_extmap = r.strip_extmap;
  rw.replace_zero_address = r.replace_zero_address;
  bool ice = false, webrtc = false;
  std::vector<bool> accepted(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    // RFC 8839 §4.2.1.1: an ICE agent's 0.0.0.0 is a placeholder, not a hold.
    rw.replace_zero_address |= read_peer_transport(sdp, sdp.media[i]).ice;
    SdpMediaRewrite mr;
    mr.address = address;
    // a=rtcp (RFC 3605) is about RTP: none for udptl, BFCP and the like.
    mr.rtcp_attribute = !r.no_rtcp_attribute && is_media_proto(sdp.media[i].proto);
    mr.full_rtcp_attribute = r.full_rtcp_attribute;
    if (r.generate_mid) mr.mid = std::to_string(i);
    if (i < sides.size()) {
      const MediaSide& m = sides[i];
      bool rejected = m.rejected || sdp.media[i].port == 0 || m.rtp_port == 0;
      mr.rtp_port = rejected ? 0 : m.rtp_port;
      mr.rtcp_mux = !rejected && (answer ? m.uses_mux : m.relay_offered_mux);
      // RFC 5761 §5.1.3: once mux is agreed a=rtcp names the RTP port; an
      // offer keeps port+1 as the fallback should the answerer decline mux
      // (not with rtcp-mux "require": the receiver is taken to mux).
      const bool mux_only = mr.rtcp_mux && (answer || m.relay_requires_mux);
      mr.rtcp_port = rejected ? 0 : uint16_t(m.rtp_port + (mux_only ? 0 : 1));
      if (!rejected) {
        RelayTransport t;
        if (m.relay_sent_dtls) {
          t.setup = !answer ? "actpass" : m.dtls.relay_active ? "active" : "passive";
          t.fingerprint = fingerprint;
        }
        if (m.relay_sent_ice) t.ice = &m.ice;
        t.trickle = r.trickle_ice;
        t.address = address;
        t.rtp_port = m.rtp_port;
        t.rtcp_port = mux_only ? 0 : uint16_t(m.rtp_port + 1);
        mr.transport_attributes = relay_transport_attributes(t);
        ice |= m.relay_sent_ice;
        webrtc |= m.relay_sent_ice || m.relay_sent_dtls;
        accepted[i] = true;
      }
    }
    rw.media.push_back(mr);
  }
  if (ice) rw.session_attributes.push_back({"ice-lite", ""});  // RFC 8839 §5.3
  if (answer) {
    // RFC 5888 §9.2, RFC 9143 §7.3: the answer carries the offerer's mids
    // and, to a WebRTC offerer, its group minus the rejected lines.
    std::string group = "BUNDLE";
    for (size_t i = 0; i < sdp.media.size() && i < sides.size(); ++i) {
      if (!sides[i].mid.empty()) rw.media[i].mid = sides[i].mid;
      else if (!r.generate_mid) rw.media[i].strip_mid = true;
      if (webrtc && accepted[i] && sides[i].bundled) group += " " + sides[i].mid;
    }
    rw.bundle_group = "";  // the answerer's own group is about its transports
    if (group != "BUNDLE") rw.session_attributes.insert(rw.session_attributes.begin(), {"group", group});
  } else if (auto bundle = bundled_media(sdp); !bundle.empty()) {
    // RFC 9143 §7.3.3: a rejected m= line leaves the group.
    std::string group = "BUNDLE";
    for (size_t k : bundle)
      if (webrtc && accepted[k]) group += " " + sdp.media[k].find_attribute("mid")->value;
    rw.bundle_group = group == "BUNDLE" ? "" : group;
  }
  return rw;
}

// Toward an RTP/AVP or RTP/SAVP party RTCP feedback (RFC 4585) goes.
bool drops_feedback(const SdpMedia& m, std::string_view proto) {
  return is_media_proto(m.proto) && is_media_proto(proto) && !has_feedback(proto);
}

void ensure_local_ice(IceSide& ice, std::random_device& rd, bool restart) {
  if (!restart && !ice.local_ufrag.empty()) return;
  ice.local_ufrag = random_ice_chars(kIceUfragChars, rd);
  ice.local_pwd = random_ice_chars(kIcePwdChars, rd);
}

// The relay's WebRTC decisions for one m= line of an offer.
struct WebrtcOfferPlan {
  PeerTransport offerer;         // what the offerer's SDP says
  bool offerer_dtls = false;     // the relay terminates DTLS toward the offerer
  bool ice_to_answerer = false;  // the relay offers ICE to the answerer
  // The m= line shares the first bundled line's transport (RFC 9143): the
  // relay has one port pair per m= line and does not demultiplex a
  // bundle, so it rejects the line toward both parties.
  bool bundle_rejected = false;
};

Result<std::vector<WebrtcOfferPlan>, NgError> plan_offer_webrtc(const SignalRequest& r,
                                                               const Sdp& sdp, const Party& b) {
  std::vector<WebrtcOfferPlan> plans(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    const SdpMedia& m = sdp.media[i];
    WebrtcOfferPlan& w = plans[i];
    w.offerer = read_peer_transport(sdp, m);
    if (m.port == 0 || !is_media_proto(m.proto)) continue;
    if (is_dtls_proto(m.proto) && w.offerer.fingerprint.empty())
      return ng_fail(NgErrc::kSrtp, "No DTLS fingerprint in " + m.proto + " offer");
    // DTLS=off or SDES-prefer: an RTP/SAVP(F) offer with both a=crypto and
    // a=fingerprint is taken as SDES; UDP/TLS leaves no choice.
    const bool sdes_preferred = r.sdes.prefer && !m.attribute_values("crypto").empty();
    w.offerer_dtls = is_dtls_proto(m.proto) || (w.offerer.dtls && !r.dtls_off && !sdes_preferred);
    // The answerer did ICE with the relay before (a re-offer): keep it.
    const bool known = i < b.media.size() && b.media[i].ice.enabled &&
                       !b.media[i].ice.remote_ufrag.empty();
    switch (r.ice) {
      case IceMode::kRemove: w.ice_to_answerer = false; break;
      case IceMode::kForce:
      case IceMode::kForceRelay: w.ice_to_answerer = true; break;
      // "optional" (ng_control_protocol.md): ICE toward the answerer even
      // when the offerer has none, the relay its only candidate.
      case IceMode::kOptional: w.ice_to_answerer = true; break;
      default: w.ice_to_answerer = w.offerer.ice || known; break;
    }
  }
  auto bundle = bundled_media(sdp);
  for (size_t k = 1; k < bundle.size(); ++k)
    if (sdp.media[bundle[k]].port != 0) plans[bundle[k]] = {plans[bundle[k]].offerer, false, false, true};
  return plans;
}

bool is_rtp_audio(const SdpMedia& m) {
  return m.type == "audio" && m.port != 0 && m.proto.find("RTP/") != std::string::npos;
}

// Codec plans (transcoding) for each audio stream, when the request asks.
Result<std::vector<std::optional<CodecPlan>>, NgError> plan_offer_codecs(const SignalRequest& r,
                                                                         const Sdp& sdp) {
  std::vector<std::optional<CodecPlan>> plans(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    if (!is_rtp_audio(sdp.media[i])) continue;
    const bool requested = !(r.codec == CodecRequest{});
    auto plan = plan_offer(codecs_of(sdp.media[i]), r.codec, ptime_of(sdp.media[i]));
    if (!plan.ok() && !requested) continue;  // nothing asked: the offer goes on as it is
    if (!plan.ok()) return ng_fail(NgErrc::kCodec, plan.error());
    plans[i] = std::move(*plan);
    plans[i]->requested = requested;
  }
  return plans;
}

// SRTP per m= line: the relay's answer to the offerer's keys and its own
// offer to the other side (keys a re-offer did not change are kept).
Result<std::vector<SrtpOfferPlan>, NgError> plan_offer_srtp(
    const SignalRequest& r, const Sdp& sdp, const Party& a, const Party& b,
    const std::vector<WebrtcOfferPlan>& webrtc) {
  std::vector<SrtpOfferPlan> srtp(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    auto plan = plan_srtp_offer(sdp.media[i], r.transport_protocol, r.sdes,
                                i < a.media.size() ? &a.media[i] : nullptr,
                                i < b.media.size() ? &b.media[i] : nullptr,
                                {.offerer_dtls = webrtc[i].offerer_dtls, .dtls_off = r.dtls_off});
    if (!plan.ok()) return ng_fail(NgErrc::kSrtp, plan.error());
    srtp[i] = std::move(*plan);
  }
  return srtp;
}

// What an offer from `a` teaches both parties: a's tag, policy and media
// (its new sides `ma`), its ICE and DTLS, and what the relay offers b on
// each stream. ICE credentials the relay gave a party stay across
// re-offers; a party that restarts ICE (new ufrag/pwd) gets new ones too
// (RFC 8445 §9). A changed fingerprint or DTLS role means a new
// handshake: dtls.connected goes false (and media stops) until it is done.
void learn_offer(const SignalRequest& r, const Sdp& sdp, const Config& cfg, std::random_device& rd,
                 Party& a, Party& b, std::vector<MediaSide> ma, std::vector<MediaSide> mb,
                 std::vector<SrtpOfferPlan>& srtp, std::vector<std::optional<CodecPlan>>& plans,
                 const std::vector<WebrtcOfferPlan>& webrtc) {
  a.tag = r.from_tag;
  if (!r.to_tag.empty()) b.tag = r.to_tag;
  if (!r.from_label.empty() || !r.label.empty()) a.label = r.from_label.empty() ? r.label : r.from_label;
  if (!r.to_label.empty()) b.label = r.to_label;
  a.policy = r.policy;
  a.has_sdp = true;
  a.mux_accept = r.rtcp_mux_accept || r.rtcp_mux_demux || r.rtcp_mux_require;
  a.mux_reject = r.rtcp_mux_reject;
  a.dtls_reverse_passive = r.dtls_reverse_passive;
  a.media = std::move(ma);
  b.media = std::move(mb);
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    MediaSide& self = a.media[i];
    learn_media(self, r, sdp, sdp.media[i]);
    const WebrtcOfferPlan& w = webrtc[i];
    if (w.bundle_rejected) self.rejected = true;
    self.mid = w.offerer.mid;
    self.bundled = false;
    if (w.offerer_dtls && !self.rejected) {
      if (self.dtls.remote_fingerprint != w.offerer.fingerprint) self.dtls.connected = false;
      self.dtls.enabled = true;
      self.dtls.remote_fingerprint = w.offerer.fingerprint;
      self.dtls.remote_setup = w.offerer.setup;
      // Provisional: the answer's flags may still change it.
      const bool active = relay_active_answering(
          w.offerer.setup, a.dtls_reverse_passive.value_or(cfg.dtls_passive));
      if (active != self.dtls.relay_active) self.dtls.connected = false;
      self.dtls.relay_active = active;
    } else {
      self.dtls = {};
    }
    if (w.offerer.ice && !self.rejected) {
      const bool restart = !self.ice.remote_ufrag.empty() &&
                           (self.ice.remote_ufrag != w.offerer.ice_ufrag ||
                            self.ice.remote_pwd != w.offerer.ice_pwd);
      self.ice.enabled = true;
      self.ice.remote_ufrag = w.offerer.ice_ufrag;
      self.ice.remote_pwd = w.offerer.ice_pwd;
      ensure_local_ice(self.ice, rd, restart);
    } else {
      self.ice = {};
    }

    MediaSide& peer = b.media[i];
    peer.type = sdp.media[i].type;
    peer.proto = srtp[i].proto;
    self.sdes_answer = std::move(srtp[i].answer);
    self.sdes_offer.clear();
    peer.sdes_offer = std::move(srtp[i].offer);
    peer.sdes_answer.reset();
    peer.rejected = self.rejected;
    peer.relay_sent_dtls = srtp[i].dtls && !peer.rejected;
    if (!peer.relay_sent_dtls) peer.dtls = {};
    // The answerer's ICE: the relay answers its checks from now on (with
    // its own credentials); the answerer's come with the answer.
    peer.relay_sent_ice = w.ice_to_answerer && !peer.rejected;
    if (peer.relay_sent_ice) {
      peer.ice.enabled = true;
      ensure_local_ice(peer.ice, rd, false);
    } else {
      peer.ice = {};
    }
    // WebRTC requires rtcp-mux (RFC 8834 §5.1.3): a WebRTC leg is offered it.
    const bool webrtc_leg = peer.relay_sent_dtls || peer.relay_sent_ice;
    // rtcp-mux "reject" is about the offerer (learn_answer): the recipient
    // is offered mux as it would be without it (rtpengine 10.5).
    peer.relay_requires_mux = r.rtcp_mux_require && !r.rtcp_mux_reject;
    peer.relay_offered_mux = (self.offered_mux && !r.rtcp_mux_demux) || r.rtcp_mux_offer ||
                             r.rtcp_mux_require || webrtc_leg;
    peer.offer_plan = std::move(plans[i]);
  }
  for (size_t k : bundled_media(sdp)) a.media[k].bundled = true;
  // Media sections beyond the new SDP (an m= line removed) keep their ports
  // until the call ends; RFC 3264 §8.2 says m= lines are never removed.
}

// replace "SDP-version" (rtpengine): the o= version of what the relay
// sends a party goes up by one when the SDP changed since the last one it
// sent that party, and stays when it did not (whatever the sender's says).
std::string pin_sdp_version(std::string sdp, Party::SentSdp& sent) {
  const size_t o = sdp.find("\r\no=");
  if (o == std::string::npos) return sdp;
  const size_t line = o + 2, end = sdp.find("\r\n", line);
  // o=<username> <sess-id> <sess-version> ...: the third field.
  size_t v = line + 2;
  for (int field = 0; field < 2 && v != std::string::npos; ++field) {
    v = sdp.find(' ', v);
    if (v != std::string::npos) ++v;
  }
  const size_t v_end = v == std::string::npos ? v : sdp.find(' ', v);
  if (end == std::string::npos || v_end == std::string::npos || v_end > end) return sdp;
  const size_t hash = std::hash<std::string_view>{}(std::string_view(sdp).substr(0, line)) ^
                      std::hash<std::string_view>{}(std::string_view(sdp).substr(end)) * 31;
  if (!sent.known) {
    sent = {std::strtoull(sdp.c_str() + v, nullptr, 10), hash, true};
    return sdp;
  }
  if (hash != sent.hash) {
    ++sent.version;
    sent.hash = hash;
  }
  return sdp.replace(v, v_end - v, std::to_string(sent.version));
}

// The offer as the other side (b) sees it: its ports, rtcp-mux if we offer
// it, the relay's keys, fingerprint and ICE in place of the offerer's.
std::string render_offer(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                         const Party& b, const std::string& fingerprint) {
  SdpRewrite rw = make_rewrite(r, sdp, address, b.media, /*answer=*/false, fingerprint);
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    // The offerer's keys never reach the other side; it gets the relay's.
    rw.media[i].crypto = render_crypto(b.media[i].sdes_offer, r.sdes.pad);
    if (b.media[i].proto != sdp.media[i].proto) rw.media[i].proto = b.media[i].proto;
    rw.media[i].strip_feedback = drops_feedback(sdp.media[i], b.media[i].proto);
    if (!b.media[i].offer_plan || !b.media[i].offer_plan->requested) continue;
    rw.media[i].codecs = b.media[i].offer_plan->to_answerer;
    rw.media[i].ptime = b.media[i].offer_plan->answerer_sdp_ptime();
  }
  return render_sdp(sdp, rw);
}

// What an answer from b teaches both parties: b's tag, policy and media,
// which streams are rejected, where RTCP is muxed, b's ICE and DTLS (when
// the relay offered them), and the relay's ICE and DTLS toward a.
void learn_answer(const SignalRequest& r, const Sdp& sdp, const Config& cfg,
                  std::random_device& rd, Party& a, Party& b) {
  // A different to-tag is another fork answering (183 from one branch,
  // 200 from another): the latest answer owns the callee side.
  if (!r.to_tag.empty()) b.tag = r.to_tag;
  // "label" names the party that sent this SDP: in an answer, the callee.
  if (!r.to_label.empty() || !r.label.empty()) b.label = r.to_label.empty() ? r.label : r.to_label;
  b.policy = r.policy;
  b.has_sdp = true;
  size_t n = std::min(sdp.media.size(), b.media.size());
  for (size_t i = 0; i < b.media.size(); ++i) {
    MediaSide& mb = b.media[i];
    MediaSide& ma = a.media[i];
    if (i >= n) {  // the answer lacks this m= line: treat as rejected
      mb.rejected = ma.rejected = true;
      continue;
    }
    bool offered = mb.relay_offered_mux;
    learn_media(mb, r, sdp, sdp.media[i]);
    mb.relay_offered_mux = offered;
    mb.uses_mux = offered && (sdp.media[i].rtcp_mux || mb.relay_requires_mux);
    if (mb.rejected) ma.rejected = true;

    // The answerer: DTLS and ICE with the relay if it took them up.
    const PeerTransport t = read_peer_transport(sdp, sdp.media[i]);
    if (mb.relay_sent_dtls && t.dtls && !mb.rejected) {
      const bool active = relay_active_after_answer(t.setup);
      if (!mb.dtls.enabled || mb.dtls.remote_fingerprint != t.fingerprint ||
          mb.dtls.relay_active != active)
        mb.dtls.connected = false;
      mb.dtls.enabled = true;
      mb.dtls.relay_active = active;
      mb.dtls.remote_fingerprint = t.fingerprint;
      mb.dtls.remote_setup = t.setup;
    } else {
      mb.dtls = {};
    }
    mb.ice.enabled = mb.relay_sent_ice && t.ice && !mb.rejected;
    mb.ice.remote_ufrag = mb.ice.enabled ? t.ice_ufrag : std::string();
    mb.ice.remote_pwd = mb.ice.enabled ? t.ice_pwd : std::string();

    // The offerer: the relay answers its ICE unless told to remove it.
    const bool ice_a = r.ice == IceMode::kForce || r.ice == IceMode::kForceRelay ||
                       (r.ice != IceMode::kRemove && ma.ice.enabled);
    ma.relay_sent_ice = ice_a && !ma.rejected;
    if (ma.relay_sent_ice)
      ensure_local_ice(ma.ice, rd, false);
    else
      ma.ice = {};
    ma.ice.enabled = ma.relay_sent_ice && !ma.ice.remote_ufrag.empty();
    ma.relay_sent_dtls = ma.dtls.enabled && !ma.rejected;
    if (ma.relay_sent_dtls) {
      const bool passive =
          r.dtls_passive.value_or(a.dtls_reverse_passive.value_or(cfg.dtls_passive));
      const bool active = relay_active_answering(ma.dtls.remote_setup, passive);
      if (active != ma.dtls.relay_active) ma.dtls.connected = false;
      ma.dtls.relay_active = active;
    } else {
      ma.dtls = {};
    }
    ma.uses_mux = ma.offered_mux && !ma.rejected && !a.mux_reject &&
                  (mb.uses_mux || a.mux_accept || ma.relay_sent_ice || ma.relay_sent_dtls);
  }
}

// The answer as the offerer (a) sees it: its ports, rtcp-mux if accepted,
// the relay's keys, fingerprint and ICE in place of the answerer's.
std::string render_answer(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                          const Party& a, const std::vector<std::optional<AnswerPlan>>& plans,
                          const std::vector<SrtpAnswerPlan>& srtp, const std::string& fingerprint) {
  SdpRewrite rw = make_rewrite(r, sdp, address, a.media, /*answer=*/true, fingerprint);
  for (size_t i = 0; i < sdp.media.size() && i < plans.size(); ++i) {
    // The answerer's keys never reach the offerer; it gets the relay's.
    const MediaSide& ma = a.media[i];
    rw.media[i].crypto = ma.sdes_answer && !ma.rejected
                             ? render_crypto({ma.sdes_answer->line}, r.sdes.pad)
                             : std::vector<std::string>{};
    const std::string& proto = srtp[i].proto.empty() ? sdp.media[i].proto : srtp[i].proto;
    if (proto != sdp.media[i].proto) rw.media[i].proto = proto;
    rw.media[i].strip_feedback = drops_feedback(sdp.media[i], proto);
    if (!plans[i]) continue;
    rw.media[i].codecs = plans[i]->to_offerer;
    rw.media[i].ptime = plans[i]->offerer_sdp_ptime;
  }
  return render_sdp(sdp, rw);
}

}  // namespace

CallManager::CallManager(const Config& config, dataplane::Dataplane& plane)
    : config_(config), plane_(plane) {
  for (size_t i = 0; i < config_.interfaces.size(); ++i)
    pools_.emplace_back(config_.port_min, config_.port_max, plane_.workers());
  free_flow_ids_.resize(size_t(plane_.workers()));
  for (int w = 0; w < plane_.workers(); ++w) {
    auto& ids = free_flow_ids_[size_t(w)];
    uint32_t n = plane_.max_flows();
    ids.reserve(n);
    for (uint32_t i = n; i > 0; --i) ids.push_back(i - 1);
  }
  calls_per_worker_.assign(size_t(plane_.workers()), 0);
}

CallManager::~CallManager() { destroy_all(); }

void CallManager::destroy_all() {
  const int64_t now_unix = std::time(nullptr);
  for (auto& [id, c] : calls_) {
    end_call(*c, c->deleted ? c->deleted_reason.c_str() : "shutdown", now_unix);
    destroy(*c);
  }
  calls_.clear();
  plane_.flush();
}

const Call* CallManager::find(const std::string& call_id) const {
  auto it = calls_.find(call_id);
  return it == calls_.end() ? nullptr : it->second.get();
}

size_t CallManager::active_count() const {
  size_t n = 0;
  for (auto& [id, c] : calls_) n += !c->deleted;
  return n;
}

std::vector<const Call*> CallManager::active_calls(size_t limit) const {
  std::vector<const Call*> out;
  for (auto& [id, c] : calls_) {
    if (out.size() >= limit) break;
    if (!c->deleted) out.push_back(c.get());
  }
  return out;
}

namespace {

// "pub" for "pub:2": names BASE:SUFFIX form a round-robin group.
bool in_group(const std::string& name, std::string_view base) {
  return name.size() > base.size() && name.compare(0, base.size(), base) == 0 &&
         name[base.size()] == ':';
}

}  // namespace

Result<int, NgError> CallManager::resolve_interface(const std::string& name,
                                                    std::optional<int> family, int worker) {
  const auto& itfs = config_.interfaces;
  const auto fits = [&](size_t i) { return !family || (*family == AF_INET) == itfs[i].local.is_v4(); };
  const auto named = [&](std::string_view n) {
    return std::any_of(itfs.begin(), itfs.end(), [&](const InterfaceConfig& i) { return i.name == n; });
  };
  std::string group = name;
  if (!name.empty() && named(name)) {
    for (size_t i = 0; i < itfs.size(); ++i)
      if (itfs[i].name == name && fits(i)) return int(i);
    return ng_fail(NgErrc::kNoInterfaceForFamily);
  }
  const bool is_group = !name.empty() && std::any_of(itfs.begin(), itfs.end(), [&](const InterfaceConfig& i) {
    return in_group(i.name, name);
  });
  if (!is_group) {
    // No name, or one nobody configured (the legacy internal/external, a
    // typo): the default, as rtpengine does, which logs it too.
    if (!name.empty()) spdlog::warn("NG direction '{}': no such interface, using the default", name);
    const std::string& first = itfs[0].name;
    group = first.substr(0, first.find(':'));
    if (group == first) {
      // The default's own address of the family first, else any of it.
      for (size_t i = 0; i < itfs.size(); ++i)
        if (itfs[i].name == first && fits(i)) return int(i);
      for (size_t i = 0; i < itfs.size(); ++i)
        if (fits(i)) return int(i);
      return ng_fail(NgErrc::kNoInterfaceForFamily);
    }
  }
  // Round robin over the group's members of the family (without one, the
  // first member's) that have a free port pair for the call's worker.
  std::vector<size_t> members;
  for (size_t i = 0; i < itfs.size(); ++i)
    if (in_group(itfs[i].name, group) && fits(i) &&
        (members.empty() || itfs[i].local.is_v4() == itfs[members[0]].local.is_v4()))
      members.push_back(i);
  if (members.empty()) return ng_fail(NgErrc::kNoInterfaceForFamily);
  for (size_t k = 0; k < members.size(); ++k) {
    const size_t i = members[(round_robin_ + k) % members.size()];
    if (pools_[i].free_pairs(worker) > 0) {
      round_robin_ += k + 1;
      return int(i);
    }
  }
  return int(members[0]);  // all full: the offer reports it
}

Party* CallManager::pick_branch(Call& c, const SignalRequest& r, bool offer, Party& fresh) {
  Party& current = c.parties[1];
  const auto parked = [&](auto same) -> Party* {
    for (Party& p : c.branches)
      if (same(p)) return &p;
    return nullptr;
  };
  // A callee re-offering (its tag as from-tag), else the caller naming the callee.
  for (const std::string* tag : {&r.from_tag, &r.to_tag}) {
    if (tag->empty() || *tag == c.parties[0].tag) continue;
    if (current.tag == *tag) return &current;
    if (Party* p = parked([&](const Party& q) { return q.tag == *tag; })) return p;
  }
  const std::string& via = r.via_branch;
  if (via.empty() || current.via_branch == via) return &current;
  if (Party* p = parked([&](const Party& q) { return q.via_branch == via; })) return p;
  // An answer from a branch never offered apart, or the first via-branch
  // an untagged callee side hears of: that side.
  if (!offer || (current.via_branch.empty() && current.tag.empty())) return &current;
  fresh.iface = current.iface;
  fresh.via_branch = via;
  fresh.branch = c.branches_made + 1;
  return &fresh;
}

void CallManager::enter_branch(Call& c, Party* b, const std::string& via_branch) {
  Party& current = c.parties[1];
  if (b == &current) {
    if (current.via_branch.empty() && current.tag.empty()) current.via_branch = via_branch;
    return;
  }
  Party* parked = nullptr;
  if (b >= c.branches.data() && b < c.branches.data() + c.branches.size()) {
    std::swap(current, *b);
    parked = b;
  } else {
    ++c.branches_made;
    c.branches.push_back(std::move(current));
    current = std::move(*b);
    parked = &c.branches.back();
  }
  park_flows(c, *parked);
  spdlog::debug("call {}: branch {} in dialogue, branch {} parked", c.id, current.branch, parked->branch);
}

bool CallManager::drop_branch(Call& c, const std::string& via_branch, int64_t now_ns) {
  if (c.branches.empty()) return false;  // the only branch: the call goes
  auto it = std::find_if(c.branches.begin(), c.branches.end(),
                         [&](const Party& p) { return p.via_branch == via_branch; });
  if (it != c.branches.end()) {
    release_party(c, *it);
    c.branches.erase(it);
    plane_.flush();
    return true;
  }
  if (c.parties[1].via_branch != via_branch) return false;
  // The branch in dialogue goes: the latest parked one takes its place.
  release_party(c, c.parties[1]);
  c.parties[1] = std::move(c.branches.back());
  c.branches.pop_back();
  install_flows(c, now_ns);
  return true;
}

int CallManager::pick_worker() {
  // Least-loaded worker by call count: calls are long-lived and similar.
  return int(std::min_element(calls_per_worker_.begin(), calls_per_worker_.end()) -
             calls_per_worker_.begin());
}

Result<std::unique_ptr<Call>, NgError> CallManager::new_call(const SignalRequest& r, const Sdp& sdp,
                                                          Clock now) {
  // Refusals are counted and logged (rtpengine logs each as an error).
  if (draining_) {
    ++stats_.calls_rejected;
    spdlog::info("call {}: refused: draining", r.call_id);
    return ng_fail(NgErrc::kDraining);
  }
  if (config_.max_sessions > 0 && active_count() >= size_t(config_.max_sessions)) {
    ++stats_.calls_rejected;
    spdlog::warn("call {}: refused: session limit reached ({})", r.call_id, config_.max_sessions);
    return ng_fail(NgErrc::kSessionLimit);
  }
  // Interfaces are chosen when the call is created; re-offers keep them.
  // A side without a direction gets the default (rtpengine's rule). The
  // caller's side follows the family of its SDP, the callee's "address
  // family" or else the caller's, as rtpengine does; the SDP's family is
  // a preference (any interface will do), "address family" a demand.
  const int worker = pick_worker();
  const std::optional<int> offerer_family = sdp_family(sdp);
  const auto pick = [&](size_t side, std::optional<int> family, bool demanded) {
    const std::string& name = r.direction.size() > side ? r.direction[side] : std::string();
    auto i = resolve_interface(name, family, worker);
    return i.ok() || demanded ? i : resolve_interface(name, std::nullopt, worker);
  };
  auto a = pick(0, offerer_family, false);
  if (!a.ok()) return Err{a.error()};
  auto b = pick(1, r.address_family ? r.address_family : offerer_family, r.address_family.has_value());
  if (!b.ok()) return Err{b.error()};
  auto c = std::make_unique<Call>();
  c->id = r.call_id;
  c->worker = worker;
  c->created_ns = now.mono_ns;
  c->created_unix = now.unix_s;
  c->parties[0].iface = *a;
  c->parties[1].iface = *b;
  c->parties[1].branch = 1;
  c->parties[1].via_branch = r.via_branch;
  c->parties[0].created_unix = c->parties[1].created_unix = now.unix_s;
  return c;
}

Result<SignalReply, NgError> CallManager::offer(const SignalRequest& r, Clock now) {
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return ng_fail(NgErrc::kSdp, to_string(parsed.error()));
  const Sdp& sdp = *parsed;

  std::unique_ptr<Call> fresh;
  Call* c = nullptr;
  if (auto it = calls_.find(r.call_id); it != calls_.end()) {
    c = it->second.get();
  } else {
    auto made = new_call(r, sdp, now);
    if (!made.ok()) return Err{made.error()};
    fresh = std::move(*made);
    c = fresh.get();
  }
  // A re-offer from the callee side comes from parties[1]; the caller's
  // goes to the branch it names (a new one: `forked`).
  Party forked;
  forked.created_unix = now.unix_s;
  Party* callee = fresh ? nullptr : pick_branch(*c, r, /*offer=*/true, forked);
  const int self = callee && callee->tag == r.from_tag && !r.from_tag.empty() ? 1 : 0;
  Party& a = self ? *callee : c->parties[0];
  Party& b = self ? c->parties[0] : callee ? *callee : c->parties[1];

  auto plans = plan_offer_codecs(r, sdp);
  if (!plans.ok()) return Err{plans.error()};
  auto webrtc = plan_offer_webrtc(r, sdp, b);
  if (!webrtc.ok()) return Err{webrtc.error()};
  auto srtp = plan_offer_srtp(r, sdp, a, b, *webrtc);
  if (!srtp.ok()) return Err{srtp.error()};
  std::vector<bool> skip(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    skip[i] = (*webrtc)[i].bundle_rejected;
    if (((*webrtc)[i].offerer_dtls || (*srtp)[i].dtls) && !skip[i] && config_.dtls_fingerprint.empty())
      return ng_fail(NgErrc::kSrtp, "DTLS-SRTP is not available: the relay has no DTLS certificate");
  }
  // Allocate what the new SDP needs, on copies, so failure changes nothing.
  std::vector<MediaSide> ma = a.media, mb = b.media;
  if (!allocate_media(*c, a, b, sdp, skip, ma, mb)) {
    ++stats_.port_exhaustions;
    return ng_fail(NgErrc::kOutOfPorts);
  }

  // Commit.
  if (fresh) {
    calls_.emplace(r.call_id, std::move(fresh));
    ++calls_per_worker_[size_t(c->worker)];
    ++stats_.calls_created;
  }
  if (callee) enter_branch(*c, callee, r.via_branch);
  Party& pa = c->parties[self];
  Party& pb = c->parties[1 - self];
  learn_offer(r, sdp, config_, ice_random_, pa, pb, std::move(ma), std::move(mb), *srtp, *plans,
              *webrtc);
  c->last_signal_ns = now.mono_ns;
  c->last_signal_unix = now.unix_s;
  c->deleted = false;
  install_flows(*c, now.mono_ns);
  apply_tos(*c, r.tos);
  sync_legs(*c);
  ++stats_.offers;
  std::string out = render_offer(r, sdp, sdp_address(r, config_.interfaces[size_t(pb.iface)]), pb,
                                 config_.dtls_fingerprint);
  if (r.replace_sdp_version) out = pin_sdp_version(std::move(out), pb.sent_sdp);
  state_changed(*c);
  return SignalReply{std::move(out), port_count_warning(sdp, r.warning)};
}

std::optional<NgError> CallManager::prepare_answer_codecs(const SignalRequest& r, const Sdp& sdp,
                                                          const Party& b, AnswerMedia& m) {
  m.plans.resize(b.media.size());
  m.transcoders.resize(b.media.size());
  for (size_t i = 0; i < b.media.size() && i < sdp.media.size(); ++i) {
    const auto& offered = b.media[i].offer_plan;
    if (!offered || !is_rtp_audio(sdp.media[i])) continue;
    const std::vector<SdpCodec> answered = codecs_of(sdp.media[i]);
    // A codec the answerer was never offered: transcoded to the offerer's,
    // as rtpengine does, where the relay has both codecs; else passed on.
    std::optional<CodecPlan> adopted;
    if (const SdpCodec* chosen = unoffered_choice(*offered, answered)) {
      adopted = adopt_unoffered(*offered, *chosen);
      if (!adopted && m.warning.empty())
        m.warning = "Answer contains a codec that was not offered: " + chosen->rtpmap() +
                    ", passed on as it is";
    }
    if (!adopted && !offered->requested && r.codec == CodecRequest{}) continue;
    auto plan = plan_answer(adopted ? *adopted : *offered, answered, r.codec, ptime_of(sdp.media[i]));
    if (!plan.ok()) return NgError{NgErrc::kCodec, plan.error()};
    StreamTranscoders& t = m.transcoders[i];
    for (auto [sp, slot] : {std::pair{&plan->offerer_to_answerer, &t.offerer_to_answerer},
                            std::pair{&plan->answerer_to_offerer, &t.answerer_to_offerer}}) {
      if (!sp->transcode) continue;
      auto made = make_transcoder(*sp);
      if (!made.ok()) return made.error();
      *slot = std::move(*made);
    }
    m.plans[i] = std::move(*plan);
  }
  return std::nullopt;
}

std::optional<NgError> CallManager::prepare_answer_srtp(const SignalRequest& r, const Sdp& sdp,
                                                        const Party& a, const Party& b,
                                                        AnswerMedia& m) {
  // The answerer's keys and the protocol the offerer sees; new contexts for
  // each side whose keys change.
  m.srtp.resize(b.media.size());
  m.srtp_a.resize(b.media.size());
  m.srtp_b.resize(b.media.size());
  for (size_t i = 0; i < b.media.size() && i < a.media.size(); ++i) {
    const bool answered = i < sdp.media.size();
    if (answered) {
      auto plan = plan_srtp_answer(sdp.media[i], r.transport_protocol, a.media[i], b.media[i]);
      if (!plan.ok()) return NgError{NgErrc::kSrtp, plan.error()};
      m.srtp[i] = std::move(*plan);
      if (m.warning.empty()) m.warning = m.srtp[i].warning;
    }
    const bool rejected = !answered || sdp.media[i].port == 0 || a.media[i].rejected;
    std::optional<SdesSession> keys_a, keys_b;
    if (!rejected && a.media[i].sdes_answer) keys_a = a.media[i].sdes_answer->session;
    if (!rejected) keys_b = m.srtp[i].answerer_keys;
    // A DTLS side's keys come from its handshake (webrtc/), not from here.
    const bool dtls_a = !rejected && a.media[i].dtls.enabled;
    const bool dtls_b = !rejected && b.media[i].relay_sent_dtls &&
                        read_peer_transport(sdp, sdp.media[i]).dtls;
    Result<SideSrtp, NgError> sa = SideSrtp{}, sb = SideSrtp{};
    if (!dtls_a) sa = prepare_srtp(a.media[i], std::move(keys_a));
    if (!sa.ok()) return sa.error();
    if (!dtls_b) sb = prepare_srtp(b.media[i], std::move(keys_b));
    if (!sb.ok()) return sb.error();
    m.srtp_a[i] = std::move(*sa);
    m.srtp_b[i] = std::move(*sb);
  }
  return std::nullopt;
}

Result<SignalReply, NgError> CallManager::answer(const SignalRequest& r, Clock now) {
  auto it = calls_.find(r.call_id);
  if (it == calls_.end()) return ng_fail(NgErrc::kUnknownCallId);
  Call& c = *it->second;
  int off = -1;
  for (int i = 0; i < 2; ++i)
    if (c.parties[i].tag == r.from_tag && c.parties[i].has_sdp) off = i;
  if (off < 0) return ng_fail(NgErrc::kTagsMismatch);
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return ng_fail(NgErrc::kSdp, to_string(parsed.error()));
  const Sdp& sdp = *parsed;
  // The caller's offer is answered by the branch named (it takes the
  // dialogue over); the callee's re-offer by the caller.
  Party unused;
  Party* answerer = off == 0 ? pick_branch(c, r, /*offer=*/false, unused) : &c.parties[0];

  AnswerMedia m;  // made before anything changes
  if (auto e = prepare_answer_codecs(r, sdp, *answerer, m)) return Err{*e};
  if (auto e = prepare_answer_srtp(r, sdp, c.parties[off], *answerer, m)) return Err{*e};

  if (off == 0) enter_branch(c, answerer, r.via_branch);
  Party& a = c.parties[off];
  Party& b = c.parties[1 - off];
  learn_answer(r, sdp, config_, ice_random_, a, b);
  c.answered = true;
  c.last_signal_ns = now.mono_ns;
  c.last_signal_unix = now.unix_s;
  install_flows(c, now.mono_ns);
  install_answer_media(c, a, b, m);
  apply_tos(c, r.tos);
  sync_legs(c);
  ++stats_.answers;
  const IpAddr address = sdp_address(r, config_.interfaces[size_t(a.iface)]);
  std::string warning = port_count_warning(sdp, r.warning.empty() ? std::move(m.warning) : r.warning);
  std::string out = render_answer(r, sdp, address, a, m.plans, m.srtp, config_.dtls_fingerprint);
  if (r.replace_sdp_version) out = pin_sdp_version(std::move(out), a.sent_sdp);
  state_changed(c);
  return SignalReply{std::move(out), std::move(warning)};
}

Result<const Call*, NgError> CallManager::remove(const std::string& call_id,
                                                 const std::string& from_tag,
                                                 const std::string& to_tag,
                                                 const std::string& via_branch, int delay_s,
                                                 Clock now) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return ng_fail(NgErrc::kUnknownCallId);
  Call& c = *it->second;
  auto known = [&](const std::string& t) {
    return t.empty() || c.parties[0].tag == t || c.parties[1].tag == t;
  };
  if (!known(from_tag) || !known(to_tag))
    return ng_fail(NgErrc::kTagsMismatch);
  c.last_signal_ns = now.mono_ns;
  c.last_signal_unix = now.unix_s;
  if (!via_branch.empty() && drop_branch(c, via_branch, now.mono_ns)) {
    ++stats_.deletes;
    state_changed(c);
    return static_cast<const Call*>(&c);
  }
  if (delay_s < 0) delay_s = config_.delete_delay_s;
  c.deleted = true;
  c.deleted_reason = "deleted";
  c.delete_at_ns = now.mono_ns + int64_t(delay_s) * kNsPerSec;
  ++stats_.deletes;
  state_gone(c.id);
  return static_cast<const Call*>(&c);
}

void CallManager::reap(const std::string& call_id, Clock now) {
  auto it = calls_.find(call_id);
  if (it == calls_.end() || !it->second->deleted || now.mono_ns < it->second->delete_at_ns) return;
  erase(it, now.unix_s);
  plane_.flush();
}

void CallManager::erase(CallMap::iterator it, int64_t ended_unix) {
  const Call& c = *it->second;
  if (!c.deleted) state_gone(c.id);  // a deleted call's state went at its delete
  end_call(c, c.deleted ? c.deleted_reason.c_str() : "timeout", ended_unix);
  destroy(*it->second);
  calls_.erase(it);
  ++stats_.calls_deleted;
}

StreamQuality CallManager::stream_quality(const Call& c, const MediaSide& m) const {
  return control::stream_quality(flow_counters(c, m.rtp_flow),
                                 flow_counters(c, m.uses_mux ? m.rtp_flow : m.rtcp_flow));
}

void CallManager::sample_quality(const Call& c, int64_t now_unix) const {
  for (const Party& p : c.parties)
    for (const MediaSide& m : p.media)
      if (m.rtp_port) m.quality.sample(stream_quality(c, m), now_unix);
}

void CallManager::end_call(const Call& c, const char* reason, int64_t ended_unix) {
  for (const Party& p : c.parties)
    for (const MediaSide& m : p.media) {
      if (!m.rtp_port) continue;
      const StreamQuality q = stream_quality(c, m);
      m.quality.sample(q, ended_unix);  // the last interval's
      quality_.add(q);
    }
  if (record_sink_) record_sink_(call_record(*this, c, reason, ended_unix));
}

void CallManager::release_party(Call& c, Party& p) {
  for (MediaSide& m : p.media) release_side(c, p, m);
}

void CallManager::destroy(Call& c) {
  for (Party& p : c.parties) release_party(c, p);
  for (Party& p : c.branches) release_party(c, p);
  c.branches.clear();
  if (calls_per_worker_[size_t(c.worker)] > 0) --calls_per_worker_[size_t(c.worker)];
}

size_t CallManager::tick(Clock now) {
  if (now.mono_ns - last_quality_sample_ns_ >= kQualitySampleS * kNsPerSec) {
    last_quality_sample_ns_ = now.mono_ns;
    for (auto& [id, c] : calls_)
      if (!c->deleted) sample_quality(*c, now.unix_s);
  }
  if (state_sink_)
    for (auto& [id, c] : calls_)
      if (!c->deleted && note_media(*c)) state_changed(*c);
  std::vector<std::string> doomed;
  for (auto& [id, cp] : calls_) {
    Call& c = *cp;
    int64_t age = now.mono_ns - c.created_ns;
    bool expire = false;
    if (c.deleted) {
      expire = now.mono_ns >= c.delete_at_ns;
    } else if (config_.final_timeout_s > 0 && age > config_.final_timeout_s * kNsPerSec) {
      expire = true;
    } else if (!c.answered) {
      expire = config_.offer_timeout_s > 0 && age > config_.offer_timeout_s * kNsPerSec;
    } else {
      bool hold = false;
      for (const Party& p : c.parties)
        for (const MediaSide& m : p.media)
          hold |= m.direction != MediaDirection::kSendRecv || (!m.rejected && !m.sdp_rtp.port);
      int64_t last = std::max(c.last_signal_ns, last_media_ns(c, now.mono_ns));
      int64_t limit = int64_t(hold ? config_.silent_timeout_s : config_.timeout_s) * kNsPerSec;
      expire = limit > 0 && now.mono_ns - last > limit;
    }
    if (!expire) continue;
    if (!c.deleted) ++stats_.calls_timed_out;
    doomed.push_back(id);
  }
  for (const auto& id : doomed) erase(calls_.find(id), now.unix_s);
  if (!doomed.empty()) plane_.flush();
  return doomed.size();
}

}  // namespace vox::control
