// SRTP helpers shared by the dataplane and DPDK tests: deterministic keys
// per suite, the worker's SrtpSlot built from them, and a party's side of
// the wire (protect what it sends, unprotect what it receives) on heap
// vectors sized exactly, so ASan sees any overrun.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/srtp_context.h"
#include "dataplane/srtp_slot.h"

namespace vox::dataplane::testing {

inline constexpr SrtpSuite kAllSrtpSuites[] = {
    SrtpSuite::kAeadAes256Gcm, SrtpSuite::kAeadAes128Gcm, SrtpSuite::kAes256CmHmacSha1_80,
    SrtpSuite::kAesCm128HmacSha1_80, SrtpSuite::kAesCm128HmacSha1_32};

inline std::string suite_test_name(SrtpSuite s) { return std::string(srtp_suite_info(s).name); }

// A deterministic key for `suite`; different seeds make different keys.
inline SrtpKey test_key(SrtpSuite suite, uint8_t seed) {
  SrtpKey k;
  k.suite = suite;
  const auto& info = srtp_suite_info(suite);
  k.key_salt_length = uint8_t(info.key_length + info.salt_length);
  for (size_t i = 0; i < k.key_salt_length; ++i) k.key_salt[i] = uint8_t(seed * 31 + i * 7);
  return k;
}

inline SrtpStream make_stream(const SrtpKey& k, SrtpDirection d) {
  auto s = SrtpStream::create(k, d);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : to_string(s.error()));
  return std::move(s).value();
}

// What the control plane hands a flow in kSetSrtp: `inbound` unprotects
// what the party sends, `outbound` protects what the relay sends it; null
// leaves that direction plain.
inline SrtpSlot* make_slot(const SrtpKey* inbound, const SrtpKey* outbound) {
  auto* slot = new SrtpSlot;
  if (inbound) slot->inbound.emplace(make_stream(*inbound, SrtpDirection::kInbound));
  if (outbound) slot->outbound.emplace(make_stream(*outbound, SrtpDirection::kOutbound));
  return slot;
}

// The party protects a packet it sends (exactly sized result).
inline std::vector<uint8_t> seal(SrtpStream& s, std::vector<uint8_t> p, bool rtcp = false) {
  const size_t n = p.size();
  p.resize(n + (rtcp ? s.rtcp_trailer() : s.rtp_trailer()));
  auto r = rtcp ? s.protect_rtcp(p.data(), n, p.size()) : s.protect_rtp(p.data(), n, p.size());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : to_string(r.error()));
  if (!r.ok()) return {};
  p.resize(*r);
  return p;
}

// The party unprotects what it received: the plaintext or the error.
inline Result<std::vector<uint8_t>, SrtpError> open(SrtpStream& s, const uint8_t* data, size_t len,
                                                    bool rtcp = false) {
  std::vector<uint8_t> p(data, data + len);
  auto r = rtcp ? s.unprotect_rtcp(p.data(), p.size()) : s.unprotect_rtp(p.data(), p.size());
  if (!r.ok()) return Err{r.error()};
  p.resize(*r);
  return p;
}

}  // namespace vox::dataplane::testing
