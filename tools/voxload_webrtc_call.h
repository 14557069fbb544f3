// One WebRTC load call's steps, each blocking on its own two sockets (the
// browser's and the plain peer's) with a deadline: NG offer and answer, the
// ICE connectivity check (RFC 8445 §7.2.4, the browser controlling), the
// DTLS-SRTP handshake in the role the relay's a=setup leaves (RFC 5763
// §5), the first SRTP packet relayed, NG delete. STUN requests from a
// full-ICE relay (rtpengine) are answered at every step.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/endpoint.h"
#include "control/ng_client.h"
#include "control/webrtc/dtls.h"
#include "dataplane/srtp_context.h"

namespace voxload {

enum class WebrtcLeg : uint8_t { kDtls, kSdes, kPlain };

// What every call of a run shares (read-only once the run starts; the
// DtlsContext is used by one session per thread at a time).
struct WebrtcShared {
  vox::control::webrtc::DtlsContext* dtls = nullptr;
  WebrtcLeg leg = WebrtcLeg::kDtls;
  vox::dataplane::SrtpSuite sdes_suite = vox::dataplane::SrtpSuite::kAeadAes128Gcm;
  vox::IpAddr local;
  std::string run_id;
  int ng_timeout_ms = 1000;
  int step_timeout_ms = 3000;
};

struct WebrtcCall {
  // Set up once, before any step.
  uint32_t index = 0;
  int fd_browser = -1, fd_plain = -1;
  uint16_t port_browser = 0, port_plain = 0;
  std::string call_id, ufrag, pwd;

  // From the relay's SDPs.
  vox::Endpoint relay_for_browser, relay_for_plain;
  std::string relay_ufrag, relay_pwd, relay_fingerprint, relay_setup;

  // Step state.
  bool up = false, connected = false;
  bool dtls_client = true;  // false: the relay said a=setup:active
  std::unique_ptr<vox::control::webrtc::DtlsSession> dtls;
  std::optional<vox::dataplane::SrtpStream> srtp;  // protects what the browser sends
  vox::dataplane::SrtpKey sdes_key;                // leg sdes: the key the browser offered
  std::vector<std::vector<uint8_t>> early;         // DTLS datagrams read before the session existed
  uint32_t ssrc = 0, rtp_ts = 0;
  uint16_t seq = 0;
  uint64_t stun_tx = 0;  // STUN transaction counter
  uint32_t dtls_rx = 0;  // DTLS datagrams from the relay fed to the session

  // Timings, ns (0: the step did not run).
  int64_t offer_ns = 0, answer_ns = 0, ice_ns = 0, handshake_ns = 0, first_packet_ns = 0, delete_ns = 0;
  int64_t hs_start_ns = 0;  // monotonic: our ClientHello sent, or the relay's read
  std::string cipher, profile;

  WebrtcCall() = default;
  WebrtcCall(WebrtcCall&&) = default;
  WebrtcCall& operator=(WebrtcCall&&) = default;
};

// Each returns an error (one line) or nullopt.
std::optional<std::string> webrtc_negotiate(vox::control::NgClient& ng, const WebrtcShared& s, WebrtcCall& c);
std::optional<std::string> webrtc_ice_check(const WebrtcShared& s, WebrtcCall& c);
// Half a handshake: until the relay's first flight is in (we are the client)
// or our ServerHello flight is out (the relay is): the relay then holds a
// handshaking session. webrtc_handshake goes on from there (or from nothing).
std::optional<std::string> webrtc_handshake_first(const WebrtcShared& s, WebrtcCall& c);
std::optional<std::string> webrtc_handshake(const WebrtcShared& s, WebrtcCall& c);
// Sends SRTP (RTP for leg plain) every millisecond until the plain peer gets a packet.
std::optional<std::string> webrtc_first_packet(const WebrtcShared& s, WebrtcCall& c);
// Answers the relay's STUN requests waiting on the browser's socket (consent
// checks of a full ICE agent) and drops anything else waiting on both.
void webrtc_serve_stun(WebrtcCall& c);
std::optional<std::string> webrtc_delete(vox::control::NgClient& ng, const WebrtcShared& s, WebrtcCall& c);

// One 172-octet PCMU packet of the call, protected when the leg has SRTP,
// into buf (>= 172 + kSrtpMaxRtpTrailer); its length, 0 on error.
size_t webrtc_media_packet(WebrtcCall& c, uint8_t* buf, size_t capacity);

}  // namespace voxload
