// The call model: a Call (SIP call-id) has two Parties (SIP tags); each
// party has one MediaSide per m= line. A MediaSide is the relay's view of
// one party's stream: the local port pair that party sends to, and where
// that party wants to receive (from its SDP, overridable by NG keys).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/codec_negotiation.h"
#include "control/quality.h"
#include "control/sdes.h"
#include "control/sdp.h"
#include "base/endpoint.h"
#include "dataplane/dataplane.h"

namespace vox::dataplane {
struct TranscodeSlot;
}

namespace vox::control {

using dataplane::FlowId;
using dataplane::kNoFlow;

// ICE toward one party (RFC 8445/8839): the relay is an ICE-lite agent on
// this side. The relay's credentials go into the SDP it sends the party;
// the party's come from the SDP it sent. A change of either is an ICE
// restart. The handshake thread (webrtc/handshake.h) runs the checks.
struct IceSide {
  bool enabled = false;
  std::string local_ufrag, local_pwd;    // the relay's (a=ice-ufrag/a=ice-pwd to the party)
  std::string remote_ufrag, remote_pwd;  // the party's
  bool operator==(const IceSide&) const = default;
};

// DTLS-SRTP toward one party (RFC 5763/5764/8842). `relay_active`: the
// relay is the DTLS client (a=setup:active toward the party). The party's
// certificate must match `remote_fingerprint` ("sha-256 AB:CD:...", the
// a=fingerprint value). `connected`: the handshake finished and its keys
// are installed on the side's flows (media flows only then).
struct DtlsSide {
  bool enabled = false;
  bool relay_active = false;
  std::string remote_fingerprint;
  std::string remote_setup;  // the party's a=setup value ("actpass", "active", "passive")
  bool connected = false;
  bool operator==(const DtlsSide&) const = default;
};

struct MediaSide {
  std::string type;        // "audio", "video", "image"
  std::string proto;       // "RTP/AVP", "udptl", ...
  uint16_t rtp_port = 0;   // local port pair (rtp_port, rtp_port + 1); 0: none
  // The pair's ports as the dataplane bound them; the worker's once flows exist.
  dataplane::PortHandle rtp_handle, rtcp_handle;
  FlowId rtp_flow = kNoFlow, rtcp_flow = kNoFlow;
  // Media activity as the control plane sees it: each flow's packet counter
  // at the last look and when it was last seen to move (the dataplane keeps
  // no per-packet timestamp; see CallManager::last_packet_ns).
  struct Seen {
    uint64_t packets = 0;
    int64_t at_ns = 0;  // monotonic; 0: never
  };
  mutable Seen rtp_seen, rtcp_seen;
  Endpoint sdp_rtp;        // where this party receives RTP (port 0: unknown)
  Endpoint sdp_rtcp;       // ... and RTCP (a=rtcp, else RTP port + 1)
  // The source each flow latched, as the control plane last saw it (the
  // timeout sweep looks; port 0: none): kept with the call's state, so
  // that a restored call sends where media went before.
  Endpoint latched_rtp, latched_rtcp;
  // The RTP stream this party sends, as the sweep last saw it: its SSRC
  // and its rollover counter (how often its sequence number wrapped, RFC
  // 3711 §3.3.1), kept with the call's state so that a restored SRTP
  // context starts where the stream is. `roc_base`: the saved one at a
  // restore (the new flow counts wraps from 0 again).
  struct SentStream {
    uint32_t ssrc = 0, roc = 0;
    bool known = false;
    bool operator==(const SentStream&) const = default;
  };
  SentStream sent_stream, roc_base;
  bool offered_mux = false;  // this party's SDP carried a=rtcp-mux
  bool uses_mux = false;     // negotiated: RTCP shares the RTP port toward this party
  bool rejected = false;     // m= port 0
  bool relay_offered_mux = false;  // we offered a=rtcp-mux to this party
  bool installed = false;    // flows exist in the worker
  bool reset_latch = false;  // transient: the party's SDP address changed
  MediaDirection direction = MediaDirection::kSendRecv;
  // From this party's last SDP: its first codec ("PCMU/8000", the one it
  // prefers, or in an answer the one chosen; empty: none) and the clock
  // rates of its payload types (jitter, dataplane/reception.h).
  std::string codec;
  dataplane::RtpClocks clocks;
  // MOS over time of what this party sends (quality.h).
  mutable QualityTrack quality;
  // Transcoding. On the answerer's side: the offer's codec plan, kept for
  // the answer. On either side: the transcoder of what this party sends
  // (installed on rtp_flow), owned by the worker; read only for counters.
  std::optional<CodecPlan> offer_plan;
  dataplane::TranscodeSlot* transcoder = nullptr;
  std::string transcode_description;  // "PCMU/8000 -> opus/48000/2", for query
  std::optional<StreamPlan> transcode_plan;  // the transcoder's plan (a restored call makes it again)
  // SRTP (SDES, RFC 4568), terminated by the relay on this party's side.
  // From the last offer: the a=crypto lines the relay offered this party
  // (it answers), or the relay's answer to this party's a=crypto (it
  // offered). `srtp`: the keys installed on rtp_flow and rtcp_flow (each has
  // its own SrtpSlot, owned by the worker); empty: plain RTP.
  std::vector<SdesCrypto> sdes_offer;
  std::optional<SdesAnswer> sdes_answer;
  std::optional<SdesSession> srtp;
  // WebRTC: ICE and DTLS-SRTP toward this party (both off for SIP trunks).
  IceSide ice;
  DtlsSide dtls;
  // The nominated ICE pair's remote address (port 0: none yet): media to
  // this party goes there instead of to the SDP address.
  Endpoint ice_peer;
  // The handshake thread's leg on this side's RTP port (0: none); events
  // carry it, so one for a port since reused is told apart.
  uint64_t leg_id = 0;
  // Component 2's nominated address when RTCP is not muxed toward this
  // party (port 0: none yet, or muxed: RTCP then goes to ice_peer).
  Endpoint ice_peer_rtcp;
  // What the relay wrote into the last SDP it sent this party: its own
  // a=fingerprint and a=setup (DTLS-SRTP), its ICE credentials and host
  // candidates; with rtcp-mux "require" no RTCP port of its own either.
  bool relay_sent_dtls = false;
  bool relay_sent_ice = false;
  bool relay_requires_mux = false;
  // The party's a=mid and whether its a=group:BUNDLE lists it (RFC 9143),
  // from its last offer: the answer to it carries them back.
  std::string mid;
  bool bundled = false;
};

// Source policy flags of a party, from the NG flags of the message it sent.
struct PartyPolicy {
  bool asymmetric = false;
  bool strict_source = false;
  bool media_handover = false;
  bool operator==(const PartyPolicy&) const = default;
};

struct Party {
  std::string tag;
  std::string label;
  // The callee's branch of a forked INVITE (NG "via-branch" of the offer
  // that made it; empty: none given) and its number in the call, 1 for
  // the first callee side (query's "<untagged N>" before its answer).
  std::string via_branch;
  int branch = 0;
  int iface = 0;  // index into Config::interfaces
  // A restored call's only (control/ha/): the interface address its saved
  // state names; restore() refuses the call where that interface has
  // another address (a relay configured differently).
  std::optional<IpAddr> saved_address;
  bool has_sdp = false;
  PartyPolicy policy;
  bool mux_accept = false;  // NG rtcp-mux accept/demux/require from this party's offer
  bool mux_reject = false;  // NG rtcp-mux reject from this party's offer: no mux toward it
  // NG DTLS-reverse from this party's offer: the relay's preferred DTLS
  // role toward it (true: passive) when the party lets the relay choose.
  std::optional<bool> dtls_reverse_passive;
  std::vector<MediaSide> media;
  int64_t created_unix = 0;
  // NG replace "SDP-version": the o= version of the last SDP the relay sent
  // this party and a hash of the rest of it (version 0 unknown: none yet).
  struct SentSdp {
    uint64_t version = 0;
    size_t hash = 0;
    bool known = false;
    bool operator==(const SentSdp&) const = default;
  } sent_sdp;
};

struct Call {
  std::string id;
  int worker = 0;
  Party parties[2];  // [0] the first offerer, [1] the other side
  // Forking (RFC 3261 §16.6): each via-branch of the caller's offer gets a
  // callee side with its own ports. parties[1] is the branch in dialogue
  // with the caller (the latest to signal); the others wait here, their
  // flows off, until they answer (and take parties[1]'s place) or are
  // deleted.
  std::vector<Party> branches;
  int branches_made = 1;
  bool answered = false;
  bool deleted = false;           // waiting for delete delay
  int64_t created_ns = 0;         // monotonic
  int64_t created_unix = 0;       // wall clock, for reporting
  int64_t last_signal_ns = 0;
  int64_t last_signal_unix = 0;
  int64_t delete_at_ns = 0;       // when deleted: final teardown time
  std::optional<uint8_t> tos;     // NG "TOS" of every port of the call (none: --tos)
  std::string deleted_reason;
};

}  // namespace vox::control
