// voxload's WebRTC client mode: each call's A side plays a browser (SDP
// offer UDP/TLS/RTP/SAVPF with ICE and a=fingerprint, the NG flags Kamailio
// sends for it), B a plain RTP/AVP peer; the browser then runs the ICE
// check, the DTLS-SRTP handshake in whichever role the relay's a=setup
// leaves it, and sends SRTP until B receives a packet. Measures per call
// offer/answer latency, ICE check, ClientHello -> handshake complete (the
// client's view), time to the first relayed packet, and the relay's CPU and
// memory per phase (from /proc). The steps of one call are in
// voxload_webrtc_call.cc; the phases and the report in voxload_webrtc.cc.
#pragma once

#include <string>

#include "base/endpoint.h"

namespace voxload {

struct WebrtcOptions {
  int calls = 0;        // --webrtc-calls: 0 = not this mode
  int concurrency = 1;  // --concurrency: calls (handshakes) in flight at once
  // calls: each call runs all its steps (offer .. delete) on one of the
  // `concurrency` threads: relay CPU per whole call. phases: every call's
  // offer/answer, then every ICE check + handshake, then first packets,
  // media, hold and deletes, the relay's CPU and RSS sampled between phases.
  std::string mode = "calls";
  // dtls: the browser above. sdes: RTP/SAVP with a=crypto (no ICE, no
  // DTLS), plain: RTP/AVP: the baselines of the media phase's CPU per packet.
  std::string leg = "dtls";
  std::string sdes_suite = "AEAD_AES_128_GCM";  // --sdes-suite (leg sdes)
  bool split_handshake = false;  // phases: RSS sampled with every handshake half done
  double media_s = 0;            // phases: seconds of SRTP from every browser to its peer
  double media_pps = 20000;      // total packets/s of that media
  double hold_s = 0;             // phases: wait this long before the last RSS sample and the deletes
  int step_timeout_ms = 3000;    // ICE check, handshake, first packet: each
};

struct Options;
// Runs the mode; the exit status (0: every call came up).
int run_webrtc(const Options& opt, const vox::Endpoint& ng, const vox::IpAddr& local);

}  // namespace voxload
