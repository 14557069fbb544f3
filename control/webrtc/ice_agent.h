// The relay's ICE-lite agent toward one party (RFC 8445 §2.5, §7.3): it
// answers the party's connectivity checks, takes the pair the party
// nominates, and tracks consent freshness (RFC 7675) from the checks. Pure
// logic: the handshake thread passes in datagrams, their source and the
// time, and sends the replies written here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/endpoint.h"
#include "base/names.h"
#include "control/webrtc/stun.h"

namespace vox::control::webrtc {

// One side's a=ice-ufrag and a=ice-pwd (RFC 8839 §5.4).
struct IceCredentials {
  std::string ufrag, pwd;
  bool operator==(const IceCredentials&) const = default;
};

// Why a datagram was not taken as a valid check (statistics labels).
enum class IceRefusal : uint8_t {
  kNone,              // a valid check, answered with a success response
  kMalformed,         // not STUN (RFC 8489 §6.3: silently discarded), or a non-Binding request (400)
  kNotRequest,        // a response or indication (keepalives): no reply
  kUnknownUser,       // USERNAME is not "<local ufrag>:<remote ufrag>" (401)
  kBadIntegrity,      // MESSAGE-INTEGRITY does not verify under the local pwd (401)
  kNoIntegrity,       // USERNAME or MESSAGE-INTEGRITY missing (400)
  kRoleConflict,      // the peer claims the controlled role too (487)
  kUnknownAttribute,  // comprehension-required attributes not understood (420)
  kCount
};
inline constexpr EnumNames<IceRefusal> kIceRefusalNames = {{
    {IceRefusal::kNone, "none"},
    {IceRefusal::kMalformed, "malformed"},
    {IceRefusal::kNotRequest, "not-request"},
    {IceRefusal::kUnknownUser, "unknown-user"},
    {IceRefusal::kBadIntegrity, "bad-integrity"},
    {IceRefusal::kNoIntegrity, "no-integrity"},
    {IceRefusal::kRoleConflict, "role-conflict"},
    {IceRefusal::kUnknownAttribute, "unknown-attribute"},
}};
static_assert(kIceRefusalNames.complete());
inline const char* to_string(IceRefusal r) { return kIceRefusalNames[r]; }

enum class IceState : uint8_t { kWaiting, kChecking, kConnected, kExpired, kCount };
inline constexpr EnumNames<IceState> kIceStateNames = {{
    {IceState::kWaiting, "waiting"},      // no valid check yet
    {IceState::kChecking, "checking"},    // valid checks, none nominated
    {IceState::kConnected, "connected"},  // nominated, consent fresh
    {IceState::kExpired, "expired"},      // nominated, consent lost
}};
static_assert(kIceStateNames.complete());
inline const char* to_string(IceState s) { return kIceStateNames[s]; }

struct IceCheckOutcome {
  size_t reply_len = 0;  // octets written to `reply`: send them to `source` from the local
                         // port the check arrived on (0: send nothing)
  IceRefusal refusal = IceRefusal::kNone;  // kNone: a valid check, answered with success
  bool peer_changed = false;  // the nominated peer is now `source` (first nomination, or
                              // a new address: network change)
};

// voxrelay is always the lite, hence controlled, agent (RFC 8445 §6.1.1:
// a full agent facing a lite one takes the controlling role). A request
// carrying ICE-CONTROLLED means the peer believes itself controlled too; a
// controlled full agent would compare tie-breakers and maybe switch roles
// (§7.3.1.1), but a lite agent cannot control, so it always answers 487
// Role Conflict and the peer switches to controlling.
class IceLiteAgent {
 public:
  static constexpr int64_t kConsentTimeoutNs = 30'000'000'000;  // RFC 7675 §5.1
  static constexpr size_t kMinReply = 548;  // the reply buffer on_check needs (RFC 8489 §6.1)

  IceLiteAgent(IceCredentials local, IceCredentials remote);

  // New SDP: different credentials on either side are an ICE restart (RFC
  // 8445 §9: nomination and consent start over; the old peer is
  // forgotten); the same ones change nothing, and neither does learning the
  // remote ones (empty before) that the checks so far already used.
  void update(const IceCredentials& local, const IceCredentials& remote);

  // One STUN datagram that arrived from `source` on this side's port at
  // now_ns. Writes the reply into `reply` (>= kMinReply octets): a success
  // with XOR-MAPPED-ADDRESS = source, MESSAGE-INTEGRITY under the local pwd
  // (and MESSAGE-INTEGRITY-SHA256 when the request used it), FINGERPRINT;
  // or an error response 400/401/420/487 (RFC 8489 §6.3.1, §9.1.3; RFC 8445
  // §7.3.1.1). Refused checks move nothing but their outcome counter.
  IceCheckOutcome on_check(std::span<const uint8_t> packet, const Endpoint& source,
                           int64_t now_ns, std::span<uint8_t> reply);

  const Endpoint& peer() const { return peer_; }                  // port 0: none nominated
  const Endpoint& last_checked() const { return last_checked_; }  // port 0: none
  // Nominated, and no valid check from the peer for kConsentTimeoutNs. Not
  // final: a later valid check from the peer gives consent again (its
  // checks are the consent requests of RFC 7675 §5.1).
  bool consent_expired(int64_t now_ns) const;
  IceState state(int64_t now_ns) const;

  const IceCredentials& local() const { return local_; }
  const IceCredentials& remote() const { return remote_; }
  uint64_t checks_answered() const { return outcomes(IceRefusal::kNone); }  // valid checks
  // Datagrams by outcome (kNone: valid checks), for statistics.
  uint64_t outcomes(IceRefusal r) const { return outcomes_[size_t(r)]; }
  uint64_t nominations() const { return nominations_; }  // times peer_changed was set
  uint64_t restarts() const { return restarts_; }        // ICE restarts by update()

 private:
  // The first failed check of RFC 8489 §9.1.3 and §6.3.1, kNone if none.
  IceRefusal check_request(std::span<const uint8_t> packet, const StunMessage& m) const;
  size_t write_error(const StunMessage& req, IceRefusal why, std::span<uint8_t> reply) const;
  size_t write_success(const StunMessage& req, const Endpoint& source,
                       std::span<uint8_t> reply) const;

  IceCredentials local_, remote_;
  Endpoint peer_;
  Endpoint last_checked_;
  std::string checked_ufrag_;  // the remote ufrag of the latest valid check's USERNAME
  int64_t consent_ns_ = 0;  // the latest valid check from peer_
  uint64_t nominations_ = 0, restarts_ = 0;
  std::array<uint64_t, size_t(IceRefusal::kCount)> outcomes_{};
};

}  // namespace vox::control::webrtc
