// libFuzzer target for control/webrtc/stun.h and ice_agent.h: parse any
// input; when it parses, offsets and views must lie inside it and the
// writer must round-trip its fields; verify_integrity runs with a fixed key
// (the seed corpus's checks are signed with it); a fresh IceLiteAgent takes
// the input as a check and its reply must itself parse, with the answer
// its refusal calls for.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "control/webrtc/ice_agent.h"
#include "control/webrtc/stun.h"

using namespace vox;
using namespace vox::control::webrtc;

namespace {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kKey = "relaypasswordrelaypassword";  // the agent's local pwd

bool inside(std::string_view v, const uint8_t* data, size_t size) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return v.empty() || (p >= data && p + v.size() <= data + size);
}

void check_view(const StunMessage& m, const uint8_t* data, size_t size) {
  check(size >= kStunHeaderLength && size % 4 == 0);
  check(uint8_t(m.cls) < uint8_t(StunClass::kCount) && m.method <= 0xFFF);
  check(inside(m.username, data, size) && m.username.size() <= 512);
  check(inside(m.software, data, size) && inside(m.realm, data, size) &&
        inside(m.nonce, data, size) && inside(m.error_reason, data, size) &&
        inside(m.unknown_attributes, data, size));
  check(m.integrity_at == -1 ||
        (m.integrity_at >= 20 && size_t(m.integrity_at) + 24 <= size));
  check(m.integrity_sha256_at == -1 ||
        (m.integrity_sha256_at >= 20 && size_t(m.integrity_sha256_at) + 20 <= size));
  check(m.integrity_at == -1 || m.integrity_sha256_at == -1 ||
        m.integrity_sha256_at > m.integrity_at);
  check(m.unknown_count <= m.unknown.size());
  for (size_t i = 0; i < m.unknown_count; ++i) check(m.unknown[i] < 0x8000);
  check(m.error_code == 0 || (m.error_code >= 300 && m.error_code <= 699));
}

// Rewrites the fields the writer knows; the parser must read them back.
void round_trip(const StunMessage& m) {
  uint8_t buf[1024];
  StunWriter w(buf, m.method, m.cls, m.transaction);
  if (!m.username.empty()) w.add_username(m.username);
  if (m.priority) w.add_priority(*m.priority);
  if (m.use_candidate) w.add_use_candidate();
  if (m.ice_controlling) w.add_ice_controlling(*m.ice_controlling);
  if (m.ice_controlled) w.add_ice_controlled(*m.ice_controlled);
  if (m.xor_mapped) w.add_xor_mapped(*m.xor_mapped);
  const size_t n = w.finish(kKey, m.integrity_sha256_at >= 0, true);
  check(n > 0);
  auto r = parse_stun(std::span(buf, n));
  check(r.ok());
  check(r->method == m.method && r->cls == m.cls && r->transaction == m.transaction);
  check(r->username == m.username && r->priority == m.priority &&
        r->use_candidate == m.use_candidate && r->ice_controlling == m.ice_controlling &&
        r->ice_controlled == m.ice_controlled && r->xor_mapped == m.xor_mapped);
  check(r->fingerprint && r->integrity_at >= 0);
  check(verify_integrity(std::span(buf, n), *r, kKey));
}

void check_agent(std::span<const uint8_t> packet, const Result<StunMessage, StunError>& parsed) {
  IceLiteAgent agent({"vOxr", std::string(kKey)}, {"ChRm", "browserpasswordbrowserpass"});
  const Endpoint source = *Endpoint::parse("198.51.100.7:50000");
  uint8_t reply[IceLiteAgent::kMinReply];
  const int64_t t0 = 1'000'000'000'000;
  const IceCheckOutcome out = agent.on_check(packet, source, t0, reply);
  check(uint8_t(out.refusal) < uint8_t(IceRefusal::kCount));
  check(agent.outcomes(out.refusal) == 1);
  if (!parsed.ok() || parsed->cls != StunClass::kRequest) {
    check(out.reply_len == 0 && out.refusal != IceRefusal::kNone && !out.peer_changed);
    check(agent.state(t0) == IceState::kWaiting);
    return;
  }
  check(out.reply_len > 0 && out.reply_len <= sizeof reply);
  auto r = parse_stun(std::span(reply, out.reply_len));
  check(r.ok());
  check(r->transaction == parsed->transaction && r->fingerprint);
  if (out.refusal == IceRefusal::kNone) {
    check(r->cls == StunClass::kSuccess && r->xor_mapped == source);
    check(verify_integrity(std::span(reply, out.reply_len), *r, kKey));
    check(agent.last_checked() == source && agent.state(t0) != IceState::kWaiting);
    check(out.peer_changed == (parsed->use_candidate && parsed->ice_controlling.has_value()));
    if (out.peer_changed) {
      check(agent.peer() == source && agent.state(t0) == IceState::kConnected);
      check(agent.consent_expired(t0 + IceLiteAgent::kConsentTimeoutNs));
    }
  } else {
    check(r->cls == StunClass::kError && r->error_code >= 400 && !out.peer_changed);
    check(!agent.peer().valid() && !agent.last_checked().valid());
    check(agent.state(t0) == IceState::kWaiting);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> packet(data, size);
  auto parsed = parse_stun(packet);
  if (parsed.ok()) {
    check(looks_like_stun(packet));
    check_view(*parsed, data, size);
    (void)verify_integrity(packet, *parsed, kKey);
    round_trip(*parsed);
  } else {
    check(to_string(parsed.error()) != nullptr);
  }
  check_agent(packet, parsed);
  return 0;
}
