// SRTP crypto suites voxrelay speaks, and the key material of one direction
// of one SRTP stream: what the control plane negotiates (SDES, RFC 4568) and
// hands to the worker, which builds an SrtpStream (srtp_context.h) from it.
// Lives in the dataplane because the worker consumes it; control/sdes.h adds
// the SDP names' parsing and the negotiation on top.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vox::dataplane {

// Strongest first: the order voxrelay offers them in. The enumerator also
// names the libsrtp2 policy setters srtp_context.cc uses for the suite.
enum class SrtpSuite : uint8_t {
  kAeadAes256Gcm,        // RFC 7714 §14.2; srtp_crypto_policy_set_aes_gcm_256_16_auth
  kAeadAes128Gcm,        // RFC 7714 §14.2; srtp_crypto_policy_set_aes_gcm_128_16_auth
  kAes256CmHmacSha1_80,  // RFC 6188 §7.1; srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80
  kAesCm128HmacSha1_80,  // RFC 4568 §6.2.1; srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80
  kAesCm128HmacSha1_32,  // RFC 4568 §6.2.2; ..._hmac_sha1_32 (SRTCP keeps the 80-bit tag)
};
inline constexpr size_t kSrtpSuiteCount = 5;

struct SrtpSuiteInfo {
  SrtpSuite suite;
  std::string_view name;     // as registered for SDES ("AES_CM_128_HMAC_SHA1_80")
  uint8_t key_length;        // master key, octets
  uint8_t salt_length;       // master salt, octets (RFC 7714 §12: 12 for GCM)
  uint8_t srtp_tag_length;   // authentication tag appended to SRTP, octets
  uint8_t srtcp_tag_length;  // ... to SRTCP (after the 4-octet E||index word)
  bool aead;                 // GCM: encryption and authentication are one operation
};

inline constexpr std::array<SrtpSuiteInfo, kSrtpSuiteCount> kSrtpSuites = {{
    {SrtpSuite::kAeadAes256Gcm, "AEAD_AES_256_GCM", 32, 12, 16, 16, true},
    {SrtpSuite::kAeadAes128Gcm, "AEAD_AES_128_GCM", 16, 12, 16, 16, true},
    {SrtpSuite::kAes256CmHmacSha1_80, "AES_256_CM_HMAC_SHA1_80", 32, 14, 10, 10, false},
    {SrtpSuite::kAesCm128HmacSha1_80, "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, 10, false},
    {SrtpSuite::kAesCm128HmacSha1_32, "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, 10, false},
}};

constexpr const SrtpSuiteInfo& srtp_suite_info(SrtpSuite s) {
  return kSrtpSuites[size_t(s)];
}
// Suite names compare exactly: RFC 4568 §9.2 registers them in upper case.
constexpr std::optional<SrtpSuite> srtp_suite_from_name(std::string_view name) {
  for (const auto& info : kSrtpSuites)
    if (info.name == name) return info.suite;
  return std::nullopt;
}

// The RFC 4568 §6.3 session parameters that change what goes on the wire.
// They are negotiated: offer and answer carry the same set.
struct SrtpSessionFlags {
  bool unencrypted_srtp = false;      // UNENCRYPTED_SRTP: RTP payload in clear, still authenticated
  bool unencrypted_srtcp = false;     // UNENCRYPTED_SRTCP: E bit 0, still authenticated (§6.3.2)
  bool unauthenticated_srtp = false;  // UNAUTHENTICATED_SRTP: no SRTP tag (SRTCP keeps its tag)
  bool operator==(const SrtpSessionFlags&) const = default;
};

inline constexpr size_t kSrtpMaxKeySaltLength = 46;  // AES-256: 32 + 14
inline constexpr size_t kSrtpMaxMkiLength = 128;     // RFC 4568 §9.2 mki-length range

// Key material of one direction of one SRTP stream. Secret: never log it;
// wipe() before the memory is reused for something else.
struct SrtpKey {
  SrtpSuite suite = SrtpSuite::kAesCm128HmacSha1_80;
  SrtpSessionFlags flags;
  uint8_t key_salt_length = 0;                            // key_length + salt_length of the suite
  std::array<uint8_t, kSrtpMaxKeySaltLength> key_salt{};  // master key || master salt
  uint8_t mki_length = 0;  // octets of MKI the sender puts in each packet; 0: none
  uint64_t mki_value = 0;  // written big-endian in mki_length octets (RFC 3711 §3.1)

  std::span<const uint8_t> master_key() const {
    return {key_salt.data(), srtp_suite_info(suite).key_length};
  }
  std::span<const uint8_t> master_salt() const {
    return {key_salt.data() + srtp_suite_info(suite).key_length,
            srtp_suite_info(suite).salt_length};
  }
  // The length matches the suite (a key built by hand may not).
  bool valid() const {
    const auto& i = srtp_suite_info(suite);
    return key_salt_length == i.key_length + i.salt_length && mki_length <= kSrtpMaxMkiLength;
  }
  void wipe();  // zeroes the key bytes in a way the compiler keeps (explicit_bzero)
  bool operator==(const SrtpKey&) const = default;
};

}  // namespace vox::dataplane
