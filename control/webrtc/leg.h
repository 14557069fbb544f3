// One WebRTC leg: the relay's ICE-lite agent and DTLS-SRTP endpoint on one
// party's media port. Pure logic driven by the handshake thread
// (handshake.h): STUN and DTLS datagrams in, datagrams to send and events
// for the control plane out (through callbacks), time passed in.
//
// Where DTLS goes: as the server, back to where the peer's last DTLS
// datagram came from (the ServerHello answers the ClientHello's source at
// once); as the client, to the nominated ICE peer, else the source of the
// latest valid check, else (no ICE) the party's SDP address. The client
// starts its handshake as soon as it knows where to send.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "base/endpoint.h"
#include "base/names.h"
#include "control/sdes.h"
#include "control/webrtc/dtls.h"
#include "control/webrtc/ice_agent.h"
#include "dataplane/flow.h"

namespace vox::control::webrtc {

// What the control plane asks of one leg (from the negotiated MediaSide).
struct LegSpec {
  uint64_t id = 0;              // the control plane's name for this leg, echoed in its events
  dataplane::LocalKey key = 0;  // the local port the party's STUN and DTLS arrive on
  int worker = 0;               // the worker owning that port
  bool ice = false;
  IceCredentials local, remote;
  bool dtls = false;
  bool dtls_client = false;        // the relay is the DTLS client (a=setup:active)
  // The handshake finished before and its keys are installed (a call
  // restored from saved state): a new leg runs no DTLS session.
  bool dtls_done = false;
  std::string remote_fingerprint;  // the party's a=fingerprint value
  Endpoint sdp_peer;               // the party's SDP address (DTLS client without ICE)
};

enum class LegEventKind : uint8_t { kIcePeer, kIceExpired, kDtlsConnected, kDtlsFailed, kCount };
inline constexpr EnumNames<LegEventKind> kLegEventKindNames = {{
    {LegEventKind::kIcePeer, "ice-peer"},
    {LegEventKind::kIceExpired, "ice-expired"},
    {LegEventKind::kDtlsConnected, "dtls-connected"},
    {LegEventKind::kDtlsFailed, "dtls-failed"},
}};
static_assert(kLegEventKindNames.complete());

// What a leg tells the control plane. kIcePeer: media to the party goes
// to `peer` now (nomination, or a new address). kIceExpired: consent lost,
// stop sending. kDtlsConnected: `keys` are the leg's SRTP keys. kDtlsFailed:
// no keys, `failure` says why.
struct LegEvent {
  LegEventKind kind = LegEventKind::kIcePeer;
  uint64_t id = 0;  // LegSpec::id (a port reused by a later call has another)
  dataplane::LocalKey key = 0;
  Endpoint peer;
  SdesSession keys;
  DtlsFailure failure = DtlsFailure::kNone;
  std::string detail;       // failure detail, or "<profile> <cipher>" when connected
  int64_t handshake_ns = 0;
};

// What `query` shows of a leg.
struct LegStatus {
  IceState ice = IceState::kWaiting;
  Endpoint peer;
  DtlsState dtls = DtlsState::kHandshaking;
  bool dtls_client = false;
  std::string srtp_profile, cipher;
  int64_t handshake_ns = 0;
};

// Relay-wide counters of the handshake thread, by reason.
struct LegCounters {
  uint64_t checks_answered = 0;
  uint64_t checks_refused[size_t(IceRefusal::kCount)] = {};
  uint64_t handshakes_completed = 0;
  uint64_t handshakes_failed[size_t(DtlsFailure::kCount)] = {};
  uint64_t no_leg = 0;       // STUN or DTLS on a port with no WebRTC leg
  uint64_t unexpected = 0;   // DTLS on a leg without DTLS, STUN on one without ICE,
                             // DTLS before ICE validated anyone
  uint64_t replies_dropped = 0;  // a worker's slow-path reply ring was full
};

// How the control plane drives the legs (the handshake thread; a fake in
// tests). Set, changed and removed by the port they receive on.
class LegControl {
 public:
  virtual ~LegControl() = default;
  virtual void set_leg(const LegSpec& spec) = 0;
  virtual void remove_leg(dataplane::LocalKey key) = 0;
  virtual std::optional<LegStatus> status(dataplane::LocalKey key) const = 0;
  virtual LegCounters counters() const = 0;
};

class WebrtcLeg {
 public:
  using Send = std::function<void(const Endpoint& to, std::span<const uint8_t> datagram)>;
  using Report = std::function<void(const LegEvent&)>;

  // `dtls` outlives the leg (the process's one context); null only when
  // the spec has no DTLS.
  WebrtcLeg(const LegSpec& spec, DtlsContext* dtls, LegCounters& counters);
  ~WebrtcLeg();

  // A new spec for the same port (re-offer): new ICE credentials restart
  // ICE; a new DTLS role or fingerprint starts a new handshake.
  void update(const LegSpec& spec);

  void on_stun(std::span<const uint8_t> d, const Endpoint& source, int64_t now_ns, const Send& send,
               const Report& report);
  void on_dtls(std::span<const uint8_t> d, const Endpoint& source, int64_t now_ns, const Send& send,
               const Report& report);
  // Retransmissions, consent.
  void on_timer(int64_t now_ns, const Send& send, const Report& report);
  int64_t next_timer_ns() const;
  // Whether the leg released its session's OpenSSL state since the last
  // look (the thread then trims the heap, once a second at most).
  bool take_released() { return std::exchange(released_, false); }

  LegStatus status(int64_t now_ns) const;
  const LegSpec& spec() const { return spec_; }

 private:
  void new_dtls();
  // Starts the client's handshake once it knows where to send.
  void maybe_start(int64_t now_ns, const Send& send, const Report& report);
  void flush_dtls(const Send& send, const Report& report);
  // The handshake ended: counts it and reports its keys or its failure. A
  // connected session's OpenSSL state is freed at once, in either role
  // (the server keeps a copy of its last flight: DtlsSession::release).
  void report_outcome(const Report& report);
  LegEvent event(LegEventKind kind) const;  // one of this leg's
  const Endpoint& client_target() const;

  LegSpec spec_;
  DtlsContext* context_;
  LegCounters& counters_;
  std::optional<IceLiteAgent> ice_;
  std::unique_ptr<DtlsSession> dtls_;
  Endpoint dtls_peer_;   // where the last DTLS datagram came from
  bool started_ = false;
  bool finished_ = false;  // connected or failed: reported once
  bool expired_ = false;   // consent loss reported
  LegStatus done_;  // kept after release()
  bool released_ = false;
};

}  // namespace vox::control::webrtc
