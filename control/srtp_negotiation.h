// SRTP per m= line at offer and answer: the transport protocol each party
// sees (NG "transport protocol"), the a=crypto lines the relay writes to it,
// and the keys its flows get. voxrelay terminates SDES-SRTP (RFC 4568) and
// DTLS-SRTP (RFC 5763/5764: here only the decision that a side is DTLS;
// the handshake thread makes its keys) on every SRTP side: each party
// agrees keys with the relay only, so keys never pass from one party to
// the other and SRTP <-> SRTP is re-encrypted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/call.h"
#include "control/sdes.h"
#include "control/sdp.h"

namespace vox::control {

// RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF: the RTP protocols of RFC 3551,
// 4585 and 3711 (is_dtls_proto in webrtc_sdp.h: UDP/TLS/RTP/SAVP(F)).
bool is_rtp_proto(std::string_view proto);
// Those and UDP/TLS/RTP/SAVP(F): what voxrelay relays as RTP and
// translates between (not udptl).
bool is_media_proto(std::string_view proto);
// Whether the profile is AVPF (RTCP feedback, RFC 4585): ends in "F".
bool has_feedback(std::string_view proto);
// RTP/SAVP and RTP/SAVPF: SRTP keyed by a=crypto.
bool is_sdes_proto(std::string_view proto);
// The same RTP profile with or without SRTP (RTP/AVPF <-> RTP/SAVPF,
// UDP/TLS/RTP/SAVPF -> RTP/AVPF or RTP/SAVPF); anything but the six
// media protocols is returned unchanged.
std::string with_srtp(std::string_view proto, bool srtp);

// The NG "transport protocol" value in its canonical spelling: one of the
// six media protocols, or "accept". Err: the NG error-reason.
Result<std::string, std::string> parse_transport_protocol(std::string_view value);

// The relay's a=crypto attribute values, in order.
std::vector<std::string> render_crypto(const std::vector<SdesCrypto>& lines, bool pad);

struct SrtpOfferPlan {
  std::string proto;                 // the m= protocol the answerer sees
  // The relay offers the answerer DTLS-SRTP (its a=fingerprint and
  // a=setup:actpass): UDP/TLS/RTP/SAVP(F), or RTP/SAVP(F) with nothing
  // left to offer by SDES ("SDES-off": DTLS is the other way to key SRTP).
  bool dtls = false;
  std::vector<SdesCrypto> offer;     // the relay's a=crypto lines to it (empty: plain)
  std::optional<SdesAnswer> answer;  // the relay's answer to the offerer's a=crypto
};
// `transport`: parse_transport_protocol's value, or "" (the answerer sees
// the offerer's protocol). `offerer`, `answerer`: the parties' sides before
// this offer (null: new), so that a re-offer keeps keys nobody changed.
// SDES flags shape the relay's offer (suites, session parameters); the
// offerer's lines are answered with the first usable one, whatever "no-" or
// "only-" say (they are about what the relay offers, as in rtpengine).
// `offerer_dtls`: the offerer keys SRTP by DTLS (its a=crypto lines, if
// any, are not answered: RFC 5763 is preferred, as in rtpengine).
// `dtls_off` (NG DTLS=off): the relay does not offer DTLS-SRTP; a
// UDP/TLS protocol toward the answerer becomes RTP/SAVP(F) with SDES.
struct TransportChoice {
  bool offerer_dtls = false;
  bool dtls_off = false;
};
Result<SrtpOfferPlan, std::string> plan_srtp_offer(const SdpMedia& m, std::string_view transport,
                                                   const SdesFlags& flags, const MediaSide* offerer,
                                                   const MediaSide* answerer,
                                                   TransportChoice choice = {});

struct SrtpAnswerPlan {
  std::string proto;                         // the m= protocol the offerer sees
  std::optional<SdesSession> answerer_keys;  // the answerer's SRTP (empty: plain)
  std::string warning;                       // for the NG reply
};
// The offerer sees the protocol it offered; with "accept" the answerer's
// RTP profile (AVP or AVPF), with an explicit protocol that one's profile.
// Whether it is SRTP always follows the offer: an SDES answer needs the
// offerer's key (a mismatching explicit protocol only gives a warning).
// An offerer that chose UDP/TLS/RTP/SAVP(F) is answered with it.
// An answerer that was offered SRTP and answers plain RTP is plain.
Result<SrtpAnswerPlan, std::string> plan_srtp_answer(const SdpMedia& m, std::string_view transport,
                                                     const MediaSide& offerer,
                                                     const MediaSide& answerer);

// Keys that give the same SRTP contexts (tags do not matter).
bool same_srtp_keys(const std::optional<SdesSession>& a, const std::optional<SdesSession>& b);

}  // namespace vox::control
