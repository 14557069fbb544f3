// SDES (RFC 4568): the a=crypto attribute of RTP/SAVP and RTP/SAVPF media,
// and the relay's side of its offer/answer. Pure logic: parsing, rendering,
// the NG "SDES" flags, key generation from the kernel CSPRNG, suite choice.
// The negotiated keys (dataplane::SrtpKey, one per direction) go to the
// worker, which builds its SrtpStreams from them. Keys are never logged.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/names.h"
#include "base/result.h"
#include "dataplane/srtp_suite.h"

namespace vox::control {

using dataplane::SrtpKey;
using dataplane::SrtpSessionFlags;
using dataplane::SrtpSuite;

enum class SdesError : uint8_t {
  kSyntax,              // not "<tag> <suite> <key-params> [<session-params>]" (§9.1)
  kBadTag,              // tag not 1-9 digits (§9.1)
  kUnknownSuite,        // a suite voxrelay does not implement
  kBadKeyMethod,        // key method other than "inline" (§6.1, the only one defined)
  kBadBase64,           // key||salt is not base64 (RFC 4648 §4)
  kBadKeyLength,        // key||salt decodes to the wrong length for the suite
  kBadLifetime,         // "|2^n" or "|n" lifetime malformed or out of range (§6.1)
  kBadMki,              // "|value:length" malformed, length outside 1..128 (§9.2)
  kBadSessionParam,     // a known session parameter with a malformed value (KDR=, WSH=)
  kUnsupportedParam,    // a session parameter voxrelay cannot honour (KDR>0, FEC_KEY,
                        // unknown without "-", flags impossible with the suite)
  kMultipleKeys,        // several key-params (MKI key lists, §6.1): not supported
  kNoAcceptableCrypto,  // offer: no a=crypto line usable under the flags
  kAnswerMismatch,      // answer: no line, several lines, or tag/suite/flags not as offered
  kUnknownFlag,         // an NG SDES flag voxrelay does not know
  kRandomFailure,       // the kernel CSPRNG failed (getrandom)
  kCount
};
// The NG error-reason for each error.
inline constexpr EnumNames<SdesError> kSdesErrorNames = {{
    {SdesError::kSyntax, "Invalid SDES crypto attribute"},
    {SdesError::kBadTag, "Invalid SDES crypto tag"},
    {SdesError::kUnknownSuite, "Unknown SDES crypto suite"},
    {SdesError::kBadKeyMethod, "Unsupported SDES key method"},
    {SdesError::kBadBase64, "Invalid base64 in SDES key"},
    {SdesError::kBadKeyLength, "Invalid SDES key length"},
    {SdesError::kBadLifetime, "Invalid SDES key lifetime"},
    {SdesError::kBadMki, "Invalid SDES MKI"},
    {SdesError::kBadSessionParam, "Invalid SDES session parameter"},
    {SdesError::kUnsupportedParam, "Unsupported SDES session parameter"},
    {SdesError::kMultipleKeys, "Multiple SDES keys not supported"},
    {SdesError::kNoAcceptableCrypto, "No acceptable SDES crypto suite"},
    {SdesError::kAnswerMismatch, "SDES answer does not match the offer"},
    {SdesError::kUnknownFlag, "Unknown SDES flag"},
    {SdesError::kRandomFailure, "Failed to generate SRTP keys"},
}};
static_assert(kSdesErrorNames.complete());
inline const char* to_string(SdesError e) { return kSdesErrorNames[e]; }

// One a=crypto attribute (RFC 4568 §9.1): "<tag> <suite> inline:<base64
// key||salt>[|lifetime][|MKI:length] [session params]".
struct SdesCrypto {
  uint32_t tag = 1;
  SrtpKey key;                            // suite, key||salt, MKI, session flags
  std::optional<uint64_t> lifetime;       // packets, when the line says so (informative:
                                          // libsrtp2 enforces the RFC 3711 limits itself)
  std::vector<std::string> other_params;  // understood-but-declarative (WSH=, FEC_ORDER=,
                                          // KDR=0, "-" extensions), kept verbatim
};

// Parses the value of an a=crypto attribute (what follows "a=crypto:").
Result<SdesCrypto, SdesError> parse_sdes_crypto(std::string_view value);

struct SdesRenderOptions {
  bool pad = false;  // keep base64 "=" padding (NG SDES "pad"); default: stripped, as
                     // rtpengine does (RFC 4568 §6.1 leaves it open; parsers take both)
};
// Renders the value of an a=crypto attribute (without "a=crypto:").
std::string render_sdes_crypto(const SdesCrypto& c, SdesRenderOptions opt = {});

// The NG "SDES" list (rtpengine's names; also accepted as "SDES-<flag>" in
// the NG "flags" list by the command layer).
struct SdesFlags {
  bool off = false;          // "off", "no", "disable": no SDES towards this side
  uint8_t excluded = 0;      // bit per SrtpSuite: "no-<suite>"
  uint8_t only = 0;          // bit per SrtpSuite: "only-<suite>"...
  bool only_given = false;   // ... when any "only-" was given (even of a suite
                             // voxrelay lacks: then nothing is allowed)
  SrtpSessionFlags session;  // "unencrypted_srtp", "unencrypted_srtcp",
                             // "unauthenticated_srtp" (and "encrypted_srtp"... clear them)
  bool pad = false;          // "pad": see SdesRenderOptions
  bool lifetime = false;     // "lifetime": the relay's lines carry "|2^31"
  bool static_keys = false;  // "static": keep negotiated keys across re-offers
  bool nonew = false;        // "nonew": offer only suites the offerer offered
  bool prefer = false;       // "prefer": an offer with a=crypto and a=fingerprint is SDES
  std::vector<SrtpSuite> order;  // "order:A;B": these suites first, in this order

  bool allows(SrtpSuite s) const;
};
// Applies one flag. "no-"/"only-"/"order:" take any suite name
// (case-insensitive, as rtpengine): one voxrelay lacks is simply never
// offered. A flag voxrelay does not know gives kUnknownFlag, which the NG
// layer logs and ignores (as rtpengine does).
Result<SdesFlags, SdesError> apply_sdes_flag(SdesFlags flags, std::string_view flag);
Result<SdesFlags, SdesError> parse_sdes_flags(std::span<const std::string_view> flags);

// Fills `out` from getrandom(2) (the kernel CSPRNG; blocks only before the
// pool is first initialised at boot).
bool random_bytes(std::span<uint8_t> out);
// ASCII case-insensitive equality (SDP and NG tokens).
bool iequals(std::string_view a, std::string_view b);
// A fresh key for `suite`: key||salt from random_bytes, no MKI.
Result<SrtpKey, SdesError> generate_srtp_key(SrtpSuite suite, SrtpSessionFlags flags = {});

// What one SRTP side of a call negotiated: the party's key (unprotect what
// it sends) and the relay's own (protect what the relay sends it).
struct SdesSession {
  uint32_t tag = 0;
  SrtpKey inbound;   // from the party's a=crypto line
  SrtpKey outbound;  // from the relay's a=crypto line
};

// --- The relay offers SRTP to a party --------------------------------------
// One line per allowed suite, strongest first, tags 1..n, each with its own
// fresh key; "order:" then moves the suites it names to the front, each
// keeping its tag (rtpengine's docs). With `previous` (a re-offer), lines of suites still allowed keep
// their tag and key, so a plain re-INVITE does not re-key; with "static" the
// previous offer is repeated as it was. GCM lines are left out when the flags
// ask for unencrypted or unauthenticated SRTP (AEAD has no such mode).
Result<std::vector<SdesCrypto>, SdesError> make_sdes_offer(
    const SdesFlags& flags, const std::vector<SdesCrypto>* previous = nullptr);

// The party's answer: exactly one a=crypto line (RFC 4568 §7.1.2) whose tag
// is one of ours, with the same suite and session parameters.
Result<SdesSession, SdesError> accept_sdes_answer(const std::vector<SdesCrypto>& our_offer,
                                                  std::span<const std::string_view> answer);

// --- A party offers SRTP; the relay answers ---------------------------------
struct SdesAnswer {
  SdesCrypto line;  // the relay's a=crypto line: the chosen tag, suite and
                    // session parameters, the relay's own fresh key
  SdesSession session;
};
// Takes the first line, in the party's order of preference, that parses and
// that voxrelay supports and the flags allow; lines that do not are skipped
// (an unknown suite in an offer is not an error, RFC 4568 §7.1.1). Errors only
// when nothing is usable: the most specific reason found is returned (bad
// base64, key length...), else kNoAcceptableCrypto. With `previous` and
// "static", an offer that still carries the previously accepted line (same
// tag, suite and key) keeps the previous answer unchanged; without "static"
// the relay's key is kept only when the same line (tag, suite and the
// party's key) is chosen again: a party that re-keys gets a new key back,
// because its flows then get new SRTP contexts, and a new outbound context
// under a key already used could repeat an SRTP index (RFC 3711 §9.1).
Result<SdesAnswer, SdesError> make_sdes_answer(std::span<const std::string_view> offer,
                                               const SdesFlags& flags,
                                               const SdesAnswer* previous = nullptr);

}  // namespace vox::control
