// The ICE-lite agent: checks a Binding request as a short-term credential
// server (RFC 8489 §9.1.3) and an ICE agent (RFC 8445 §7.3), answers it,
// and applies nomination (§7.3.1.5) and consent (RFC 7675).
#include "control/webrtc/ice_agent.h"

#include <iterator>
#include <string_view>
#include <utility>

namespace vox::control::webrtc {
namespace {

// The error response for each refusal; code 0: none is sent. 400 and 401
// go out without MESSAGE-INTEGRITY (the request was not authenticated,
// RFC 8489 §9.1.3); 420 and 487 with it.
struct ErrorReply {
  uint16_t code;
  const char* reason;  // RFC 8489 §14.8's reason phrases
};
constexpr ErrorReply kErrorReplies[] = {
    {0, nullptr},                  // kNone: a success response instead
    {400, "Bad Request"},          // kMalformed: a request of another method
    {0, nullptr},                  // kNotRequest
    {401, "Unauthenticated"},      // kUnknownUser
    {401, "Unauthenticated"},      // kBadIntegrity
    {400, "Bad Request"},          // kNoIntegrity
    {487, "Role Conflict"},        // kRoleConflict (RFC 8445 §7.3.1.1)
    {420, "Unknown Attribute"},    // kUnknownAttribute (RFC 8489 §6.3.1)
};
static_assert(std::size(kErrorReplies) == size_t(IceRefusal::kCount));

// USERNAME of a check to us is "<our ufrag>:<their ufrag>" (RFC 8445
// §7.2.2). Before the party's SDP is known (remote ufrag empty) any second
// part is taken: the integrity check under our pwd still authenticates it.
bool username_matches(std::string_view username, const IceCredentials& local,
                      const IceCredentials& remote) {
  if (username.size() <= local.ufrag.size() || !username.starts_with(local.ufrag) ||
      username[local.ufrag.size()] != ':')
    return false;
  const std::string_view theirs = username.substr(local.ufrag.size() + 1);
  return remote.ufrag.empty() || theirs == remote.ufrag;
}

}  // namespace

IceLiteAgent::IceLiteAgent(IceCredentials local, IceCredentials remote)
    : local_(std::move(local)), remote_(std::move(remote)) {}

void IceLiteAgent::update(const IceCredentials& local, const IceCredentials& remote) {
  if (local == local_ && remote == remote_) return;
  // The answer names the remote credentials an offerer did not know yet: its
  // checks may have come first (a lite agent answers them with its own pwd,
  // any remote ufrag). Not a restart when they named the same ufrag: keep
  // the validated and nominated peer (a reset drops DTLS until its next
  // consent check, seconds later).
  if (local == local_ && remote_.ufrag.empty() && remote.ufrag == checked_ufrag_) {
    remote_ = remote;
    return;
  }
  local_ = local;
  remote_ = remote;
  peer_ = {};
  last_checked_ = {};
  checked_ufrag_.clear();
  consent_ns_ = 0;
  ++restarts_;
}

IceRefusal IceLiteAgent::check_request(std::span<const uint8_t> packet,
                                       const StunMessage& m) const {
  if (m.method != kStunBinding) return IceRefusal::kMalformed;  // ICE uses Binding only
  // Short-term credentials (RFC 8489 §9.1.3), in its order: missing
  // attributes (400), unknown username (401), bad integrity (401).
  if (m.username.empty() || (m.integrity_at < 0 && m.integrity_sha256_at < 0))
    return IceRefusal::kNoIntegrity;
  if (!username_matches(m.username, local_, remote_)) return IceRefusal::kUnknownUser;
  if (!verify_integrity(packet, m, local_.pwd)) return IceRefusal::kBadIntegrity;
  // Then unknown comprehension-required attributes (RFC 8489 §6.3.1).
  if (m.unknown_count > 0) return IceRefusal::kUnknownAttribute;
  // Then roles (RFC 8445 §7.3.1.1): see the class comment.
  if (m.ice_controlled) return IceRefusal::kRoleConflict;
  return IceRefusal::kNone;
}

size_t IceLiteAgent::write_error(const StunMessage& req, IceRefusal why,
                                 std::span<uint8_t> reply) const {
  const ErrorReply& e = kErrorReplies[size_t(why)];
  if (e.code == 0) return 0;
  StunWriter w(reply, kStunBinding, StunClass::kError, req.transaction);
  w.add_error(e.code, e.reason);
  if (why == IceRefusal::kUnknownAttribute)
    w.add_unknown(std::span(req.unknown).first(req.unknown_count));
  const bool authenticated = e.code != 400 && e.code != 401;
  return w.finish(authenticated ? std::string_view(local_.pwd) : std::string_view(),
                  req.integrity_sha256_at >= 0, true);
}

size_t IceLiteAgent::write_success(const StunMessage& req, const Endpoint& source,
                                   std::span<uint8_t> reply) const {
  // RFC 8445 §7.3.1.2 (with RFC 8489 §6.3.1.1): XOR-MAPPED-ADDRESS is the
  // request's source; integrity under our pwd, the algorithm(s) the request
  // used (§9.1.4); FINGERPRINT as in every ICE message (RFC 8445 §7.2.2).
  StunWriter w(reply, kStunBinding, StunClass::kSuccess, req.transaction);
  w.add_xor_mapped(source);
  return w.finish(local_.pwd, req.integrity_sha256_at >= 0, true);
}

IceCheckOutcome IceLiteAgent::on_check(std::span<const uint8_t> packet, const Endpoint& source,
                                       int64_t now_ns, std::span<uint8_t> reply) {
  IceCheckOutcome out;
  auto parsed = parse_stun(packet);
  if (!parsed.ok()) {
    out.refusal = IceRefusal::kMalformed;  // silently discarded (RFC 8489 §6.3)
  } else if (parsed->cls != StunClass::kRequest) {
    out.refusal = IceRefusal::kNotRequest;  // indications and stray responses
  } else {
    out.refusal = check_request(packet, *parsed);
    out.reply_len = out.refusal == IceRefusal::kNone ? write_success(*parsed, source, reply)
                                                     : write_error(*parsed, out.refusal, reply);
  }
  ++outcomes_[size_t(out.refusal)];
  if (out.refusal != IceRefusal::kNone) return out;

  last_checked_ = source;
  checked_ufrag_ = parsed->username.substr(local_.ufrag.size() + 1);
  // Nomination (RFC 8445 §7.3.1.5): USE-CANDIDATE from the controlling
  // agent. A later one from another address replaces the pair (the party
  // moved networks, or nominated again after an ICE restart of its own).
  if (parsed->use_candidate && parsed->ice_controlling && source.valid() && !(source == peer_)) {
    peer_ = source;
    out.peer_changed = true;
    ++nominations_;
  }
  // Consent (RFC 7675 §5.1): an authenticated check from the peer is its
  // consent to receive on this pair.
  if (peer_.valid() && source == peer_) consent_ns_ = now_ns;
  return out;
}

bool IceLiteAgent::consent_expired(int64_t now_ns) const {
  return peer_.valid() && now_ns - consent_ns_ >= kConsentTimeoutNs;
}

IceState IceLiteAgent::state(int64_t now_ns) const {
  if (peer_.valid()) return consent_expired(now_ns) ? IceState::kExpired : IceState::kConnected;
  return last_checked_.valid() ? IceState::kChecking : IceState::kWaiting;
}

}  // namespace vox::control::webrtc
