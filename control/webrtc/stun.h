// STUN messages (RFC 8489) as ICE uses them: an in-place parser that
// returns a view into the datagram, the short-term credential check
// (MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256) and a writer that builds
// a message into a caller's buffer. No sockets, no allocation in parsing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/endpoint.h"
#include "base/names.h"
#include "base/result.h"

namespace vox::control::webrtc {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;  // RFC 8489 §5
inline constexpr uint16_t kStunBinding = 0x0001;          // RFC 8489 §18.2
inline constexpr size_t kStunHeaderLength = 20;           // RFC 8489 §5

// Attribute types voxrelay reads or writes (RFC 8489 §18.3, RFC 8445 §16.1).
// 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional (§14).
namespace stun_attr {
inline constexpr uint16_t kMappedAddress = 0x0001;
inline constexpr uint16_t kUsername = 0x0006;
inline constexpr uint16_t kMessageIntegrity = 0x0008;
inline constexpr uint16_t kErrorCode = 0x0009;
inline constexpr uint16_t kUnknownAttributes = 0x000A;
inline constexpr uint16_t kRealm = 0x0014;
inline constexpr uint16_t kNonce = 0x0015;
inline constexpr uint16_t kMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kUserhash = 0x001E;
inline constexpr uint16_t kXorMappedAddress = 0x0020;
inline constexpr uint16_t kPriority = 0x0024;
inline constexpr uint16_t kUseCandidate = 0x0025;
inline constexpr uint16_t kSoftware = 0x8022;
inline constexpr uint16_t kFingerprint = 0x8028;
inline constexpr uint16_t kIceControlled = 0x8029;
inline constexpr uint16_t kIceControlling = 0x802A;
}  // namespace stun_attr

enum class StunClass : uint8_t { kRequest, kIndication, kSuccess, kError, kCount };  // §5
inline constexpr EnumNames<StunClass> kStunClassNames = {{
    {StunClass::kRequest, "request"},
    {StunClass::kIndication, "indication"},
    {StunClass::kSuccess, "success"},
    {StunClass::kError, "error"},
}};
static_assert(kStunClassNames.complete());
inline const char* to_string(StunClass c) { return kStunClassNames[c]; }

// Why a datagram is not a usable STUN message. RFC 8489 §6.3 has such
// messages silently discarded: these are counter labels, never replies.
enum class StunError : uint8_t {
  kTooShort,            // under the 20-octet header (§5)
  kNotStun,             // top two bits not 0 (§5): RTP, DTLS...
  kBadCookie,           // no magic cookie (§5): not RFC 5389/8489 STUN
  kBadLength,           // length not a multiple of 4 or not the datagram's (§5, §6.3)
  kTruncatedAttribute,  // an attribute (or its padding) runs past the end (§14)
  kBadAttribute,        // a known attribute with an impossible length or value
  kBadFingerprint,      // FINGERPRINT's CRC-32 does not match (§14.7)
  kFingerprintNotLast,  // an attribute after FINGERPRINT (§14.7)
  kCount
};
inline constexpr EnumNames<StunError> kStunErrorNames = {{
    {StunError::kTooShort, "too-short"},
    {StunError::kNotStun, "not-stun"},
    {StunError::kBadCookie, "bad-cookie"},
    {StunError::kBadLength, "bad-length"},
    {StunError::kTruncatedAttribute, "truncated-attribute"},
    {StunError::kBadAttribute, "bad-attribute"},
    {StunError::kBadFingerprint, "bad-fingerprint"},
    {StunError::kFingerprintNotLast, "fingerprint-not-last"},
}};
static_assert(kStunErrorNames.complete());
inline const char* to_string(StunError e) { return kStunErrorNames[e]; }

using StunTransaction = std::array<uint8_t, 12>;

// A parsed message: string_views point into the packet, which must outlive
// it. Of a repeated attribute only the first counts (RFC 8489 §14).
struct StunMessage {
  uint16_t method = 0;
  StunClass cls = StunClass::kRequest;
  StunTransaction transaction{};
  std::string_view username;  // empty: absent
  std::string_view software;
  std::string_view realm, nonce;  // long-term credentials (§9.2): read, not used by ICE
  std::optional<uint32_t> priority;
  bool use_candidate = false;
  std::optional<uint64_t> ice_controlling, ice_controlled;  // tie-breakers (RFC 8445 §16.1)
  int integrity_at = -1;         // offset of the MESSAGE-INTEGRITY attribute header; -1: absent
  int integrity_sha256_at = -1;  // same for MESSAGE-INTEGRITY-SHA256 (§14.6)
  bool fingerprint = false;      // present (and correct: a wrong one fails parsing)
  std::optional<Endpoint> xor_mapped;  // XOR-MAPPED-ADDRESS (IPv4 and IPv6, §14.2)
  uint16_t error_code = 0;             // ERROR-CODE class*100+number, 0: none (§14.8)
  std::string_view error_reason;
  std::string_view unknown_attributes;  // UNKNOWN-ATTRIBUTES value as sent (§14.9): 2 octets each
  // Comprehension-required attributes before the integrity attributes that
  // this parser does not understand (§14, §14.5): the first 8.
  uint8_t unknown_count = 0;
  std::array<uint16_t, 8> unknown{};
};

// Parses one datagram (RFC 8489 §6.3): header checks, every attribute's
// length, FINGERPRINT when present. Attributes after MESSAGE-INTEGRITY
// other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and after
// MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT, are skipped (§14.5, §14.6).
Result<StunMessage, StunError> parse_stun(std::span<const uint8_t> packet);

// Whether a datagram may be STUN at all, by its first octets (RFC 7983 §7:
// 0-3 is STUN) and the magic cookie: a cheap test before parse_stun.
bool looks_like_stun(std::span<const uint8_t> packet);

// Short-term credential check (RFC 8489 §9.1.3): HMAC over the message up
// to the attribute, with the header's length adjusted to end after it; the
// SHA-256 variant when present (§14.6, possibly truncated to 16..32
// octets), else SHA-1 (§14.5). False when neither is present. `m` must come
// from parse_stun(packet). `key` is the ICE password (RFC 8445 §7.2.2) or a
// long-term key (§9.2.2); no SASLprep is applied.
bool verify_integrity(std::span<const uint8_t> packet, const StunMessage& m,
                      std::string_view key);

// CRC-32 of ISO 3309 / ITU-T V.42 (RFC 1952 §8), as FINGERPRINT uses it
// before its XOR with 0x5354554e (RFC 8489 §14.7).
uint32_t crc32(std::span<const uint8_t> data);

// Builds one message into a caller's buffer, attribute by attribute, with
// no allocation. An attribute that does not fit sets overflow(), and
// finish() then returns 0.
class StunWriter {
 public:
  StunWriter(std::span<uint8_t> buffer, uint16_t method, StunClass cls,
             const StunTransaction& transaction);

  void add_username(std::string_view username);
  void add_software(std::string_view software);
  void add_priority(uint32_t priority);
  void add_use_candidate();
  void add_ice_controlling(uint64_t tie_breaker);
  void add_ice_controlled(uint64_t tie_breaker);
  void add_xor_mapped(const Endpoint& e);
  void add_error(uint16_t code, std::string_view reason);  // code 300..699 (§14.8)
  void add_unknown(std::span<const uint16_t> types);       // UNKNOWN-ATTRIBUTES (§14.9)
  // Any attribute, value as given, padded with zeros (tests, fuzzing).
  void add_attribute(uint16_t type, std::span<const uint8_t> value);

  // Appends MESSAGE-INTEGRITY (HMAC-SHA1 under `key`; empty: no integrity),
  // then with `sha256` also MESSAGE-INTEGRITY-SHA256 (full 32 octets), then
  // FINGERPRINT when asked (§14.5-§14.7, in that order). Returns the
  // message's length in octets, 0 on overflow.
  size_t finish(std::string_view key, bool sha256, bool fingerprint);

  bool overflow() const { return overflow_; }
  size_t size() const { return end_; }

 private:
  // Appends an attribute header, zeroes its padding and returns where its
  // value goes; nullptr (and overflow) when it does not fit.
  uint8_t* append(uint16_t type, size_t value_length);
  void set_length(size_t end);

  std::span<uint8_t> buf_;
  size_t end_ = 0;
  bool overflow_ = false;
};

}  // namespace vox::control::webrtc
