// One direction of one SRTP stream (RFC 3711): an SrtpStream wraps a libsrtp2
// session that protects what the relay sends to an SRTP party, or unprotects
// what it receives from one, for RTP and RTCP (SRTCP) alike. Owned by the
// worker of the call; packets are processed in place in the caller's buffer,
// with no allocation, lock or log per packet. libsrtp2's headers stay in
// srtp_context.cc (the session is an opaque pointer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.h"
#include "dataplane/srtp_suite.h"
#include "base/names.h"

struct srtp_ctx_t_;  // libsrtp2's srtp_ctx_t

namespace vox::dataplane {

// Why a packet was not protected or unprotected; one drop counter each.
enum class SrtpError : uint8_t {
  kAuthFailed,     // authentication tag (HMAC or GCM) does not verify: forged, corrupt or wrong key
  kReplayed,       // index already seen in the replay window (RFC 3711 §3.3.2)
  kTooOld,         // index older than the replay window
  kMalformed,      // too short for the header and trailer, or a bad RTP/RTCP header
  kNoTailroom,     // protect: the buffer cannot hold the tag (and SRTCP index) after the packet
  kKeyExpired,     // the master key reached its packet limit (2^48 SRTP / 2^31 SRTCP)
  kBadKey,         // create/rekey: key length or flags not valid for the suite
  kInitFailed,     // create/rekey: libsrtp2 refused the policy or could not initialise
  kCryptoFailure,  // any other libsrtp2 failure
  kCount
};
inline constexpr size_t kSrtpErrorCount = size_t(SrtpError::kCount);
inline constexpr EnumNames<SrtpError> kSrtpErrorNames = {{
    {SrtpError::kAuthFailed, "srtp auth failed"},
    {SrtpError::kReplayed, "srtp replayed"},
    {SrtpError::kTooOld, "srtp too old"},
    {SrtpError::kMalformed, "srtp malformed"},
    {SrtpError::kNoTailroom, "srtp no tailroom"},
    {SrtpError::kKeyExpired, "srtp key expired"},
    {SrtpError::kBadKey, "srtp bad key"},
    {SrtpError::kInitFailed, "srtp init failed"},
    {SrtpError::kCryptoFailure, "srtp crypto failure"},
}};
static_assert(kSrtpErrorNames.complete());
inline const char* to_string(SrtpError e) { return kSrtpErrorNames[e]; }

// Octets protect may add: SRTP tag (16 at most, GCM); SRTCP adds the
// E||SRTCP-index word too (RFC 3711 §3.4). Protect never writes an MKI.
inline constexpr size_t kSrtpMaxRtpTrailer = 16;
inline constexpr size_t kSrtpMaxRtcpTrailer = 16 + 4;

enum class SrtpDirection : uint8_t {
  kInbound,   // unprotect what a party sends (its key)
  kOutbound,  // protect what the relay sends to a party (the relay's key)
};

// Which libsrtp2 this process runs on ("openssl" or the packaged "nss"
// fallback, see cmake/srtp.cmake) and its version string.
const char* srtp_backend_name();
const char* srtp_library_version();

class SrtpStream {
 public:
  // Builds the libsrtp2 session for `key`, for any SSRC (libsrtp2 adds a
  // per-SSRC state the first time an SSRC is protected, or unprotected and
  // authenticated: once per SSRC, never per packet). Calls srtp_init() once
  // per process (thread-safe). Allocates; never call it per packet.
  static Result<SrtpStream, SrtpError> create(const SrtpKey& key, SrtpDirection direction);

  SrtpStream(SrtpStream&& other) noexcept;
  SrtpStream& operator=(SrtpStream&& other) noexcept;
  SrtpStream(const SrtpStream&) = delete;
  SrtpStream& operator=(const SrtpStream&) = delete;
  ~SrtpStream();

  // In place: `data` holds `length` octets of RTP/RTCP; protect needs
  // `capacity - length` >= the trailer (rtp_trailer()/rtcp_trailer()). Return
  // the new length. On any error the packet must be dropped: its bytes may
  // have been changed.
  Result<size_t, SrtpError> protect_rtp(uint8_t* data, size_t length, size_t capacity);
  Result<size_t, SrtpError> unprotect_rtp(uint8_t* data, size_t length);
  Result<size_t, SrtpError> protect_rtcp(uint8_t* data, size_t length, size_t capacity);
  Result<size_t, SrtpError> unprotect_rtcp(uint8_t* data, size_t length);

  // Replaces the key (re-INVITE with new keys) without dropping the stream.
  // On error the current key stays in use. Inbound: the previous key keeps
  // authenticating packets (up to 2048 octets) sent before the switch until
  // the first packet verifies under the new key, so reordering around a
  // re-key loses nothing. The replay window and rollover counter start
  // afresh with the new key (a new cryptographic context, RFC 3711 §3.2).
  Result<SrtpSuite, SrtpError> rekey(const SrtpKey& key);

  // The same re-key with a session built beforehand (off the worker): this
  // inbound stream takes `old`'s current session as its previous key, with
  // the same fallback as rekey(); `old` is left empty. Costs no allocation.
  void adopt_previous(SrtpStream&& old);
  // Whether `other` was made from the same key (suite, key, salt, MKI and
  // session flags). A re-offer that repeats its a=crypto line must keep the
  // running session: a fresh one restarts the rollover counter and replay
  // window (RFC 3711 §3.2.1), re-opening replays inbound and reusing
  // keystream outbound (§9.1).
  bool same_key(const SrtpStream& other) const { return key_ == other.key_; }

  // Stream `ssrc` starts at rollover counter `roc` (RFC 3711 §3.3.1)
  // instead of 0: a call restored from saved state (control/ha/) whose
  // sender's sequence number had wrapped. Before its first packet, off the
  // worker (it allocates); false when libsrtp2 refuses.
  bool start_at(uint32_t ssrc, uint32_t roc);

  SrtpSuite suite() const { return suite_; }
  SrtpDirection direction() const { return direction_; }
  size_t rtp_trailer() const { return rtp_trailer_; }    // octets protect_rtp adds
  size_t rtcp_trailer() const { return rtcp_trailer_; }  // octets protect_rtcp adds

 private:
  SrtpStream() = default;
  void release();
  template <bool kRtcp>
  Result<size_t, SrtpError> unprotect(uint8_t* data, size_t length);

  srtp_ctx_t_* ctx_ = nullptr;
  srtp_ctx_t_* previous_ = nullptr;  // inbound only: the key before the last rekey
  SrtpKey key_;                      // ctx_'s key, for same_key(); wiped on release
  bool use_mki_ = false;             // inbound: the party's packets carry an MKI
  bool previous_use_mki_ = false;
  SrtpSuite suite_ = SrtpSuite::kAesCm128HmacSha1_80;
  SrtpDirection direction_ = SrtpDirection::kInbound;
  uint8_t rtp_trailer_ = 0;
  uint8_t rtcp_trailer_ = 0;
};

}  // namespace vox::dataplane
