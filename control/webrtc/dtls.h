// DTLS-SRTP toward a WebRTC party (RFC 5763, 5764, 8842): the relay's DTLS
// identity (DtlsContext, one per process) and one DTLS 1.2 association per
// party (DtlsSession) that authenticates the peer by its a=fingerprint and
// exports the SRTP master keys. Pure logic over OpenSSL: datagrams in and
// out through memory, time passed in; the handshake thread owns the sockets.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/names.h"
#include "base/result.h"
#include "control/sdes.h"

// OpenSSL's types, kept out of this header (dtls_*.cc include OpenSSL).
struct ssl_ctx_st;
struct ssl_st;
struct bio_method_st;

namespace vox::control::webrtc {

// use_srtp profiles the relay offers (client) or accepts (server), preferred
// first (RFC 5764 §4.1.2; RFC 7714 §14.2 for GCM).
inline constexpr std::string_view kDefaultSrtpProfiles =
    "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

// The use_srtp profiles voxrelay has a suite for (RFC 5764 §4.1.2, RFC 7714
// §14.2), by OpenSSL's name and the registered id.
struct DtlsSrtpProfile {
  uint16_t id;
  std::string_view name;
  SrtpSuite suite;
};
inline constexpr std::array<DtlsSrtpProfile, 4> kDtlsSrtpProfiles = {{
    {0x0007, "SRTP_AEAD_AES_128_GCM", SrtpSuite::kAeadAes128Gcm},
    {0x0008, "SRTP_AEAD_AES_256_GCM", SrtpSuite::kAeadAes256Gcm},
    {0x0001, "SRTP_AES128_CM_SHA1_80", SrtpSuite::kAesCm128HmacSha1_80},
    {0x0002, "SRTP_AES128_CM_SHA1_32", SrtpSuite::kAesCm128HmacSha1_32},
}};

struct DtlsOptions {
  std::string cert_file, key_file;  // PEM; none: a fresh self-signed ECDSA P-256
                                    // certificate. key_file empty: the key is in cert_file
  std::string ciphers;              // OpenSSL cipher list; empty: OpenSSL's default
  int mtu = 1200;                   // largest datagram sent, octets (256..65507)
  // Not rtpengine flags: the use_srtp list (OpenSSL names, each one voxrelay
  // has an SrtpSuite for) and the first retransmission timeout (RFC 6347
  // §4.2.4.1: 1 s, doubled on each retransmission up to 60 s).
  std::string srtp_profiles = std::string(kDefaultSrtpProfiles);
  int initial_timeout_ms = 1000;
};

// The relay's certificate and key and the SSL_CTX every session shares.
// Thread-compatible: sessions of one context may run on one thread each.
class DtlsContext {
 public:
  // No cert_file: a fresh ECDSA P-256 key and a self-signed certificate
  // (random serial, valid from now-1day for 30 days, CN "voxrelay"). With
  // cert/key: PEM files. Any error is a one-line message.
  static Result<std::unique_ptr<DtlsContext>, std::string> create(const DtlsOptions& o);

  const std::string& fingerprint() const { return fingerprint_; }  // "sha-256 AB:CD:...:EF"
  int mtu() const { return mtu_; }
  int initial_timeout_ms() const { return initial_timeout_ms_; }

  DtlsContext(const DtlsContext&) = delete;
  DtlsContext& operator=(const DtlsContext&) = delete;
  ~DtlsContext();

 private:
  friend class DtlsSession;
  DtlsContext() = default;

  ssl_ctx_st* ctx_ = nullptr;
  bio_method_st* bio_method_ = nullptr;  // datagram queue BIO (dtls_session.cc)
  std::string fingerprint_;
  int mtu_ = 1200;
  int initial_timeout_ms_ = 1000;
};

// --- a=fingerprint (RFC 8122 §5, RFC 4572): "<hash> <XX:XX:...>" -----------
enum class DtlsHash : uint8_t { kSha1, kSha224, kSha256, kSha384, kSha512, kCount };
inline constexpr EnumNames<DtlsHash> kDtlsHashNames = {{
    {DtlsHash::kSha1, "sha-1"},
    {DtlsHash::kSha224, "sha-224"},
    {DtlsHash::kSha256, "sha-256"},
    {DtlsHash::kSha384, "sha-384"},
    {DtlsHash::kSha512, "sha-512"},
}};
static_assert(kDtlsHashNames.complete());
inline const char* to_string(DtlsHash h) {
  return kDtlsHashNames[h];
}

struct DtlsFingerprint {
  DtlsHash hash = DtlsHash::kSha256;
  uint8_t length = 0;  // octets of digest used: the hash's output size
  std::array<uint8_t, 64> digest{};
  bool operator==(const DtlsFingerprint&) const = default;
};
// Hash name and hex case-insensitive, surrounding white space ignored;
// nullopt: not "<hash> XX:..:XX" with a supported hash and its exact length.
std::optional<DtlsFingerprint> parse_dtls_fingerprint(std::string_view value);
// "sha-256 AB:CD:...": the hash name lower case, hex upper case (RFC 4572 §5).
std::string render_dtls_fingerprint(const DtlsFingerprint& f);

// --- One association --------------------------------------------------------
enum class DtlsState : uint8_t { kHandshaking, kConnected, kFailed, kCount };
inline constexpr EnumNames<DtlsState> kDtlsStateNames = {{
    {DtlsState::kHandshaking, "handshaking"},
    {DtlsState::kConnected, "connected"},
    {DtlsState::kFailed, "failed"},
}};
static_assert(kDtlsStateNames.complete());
inline const char* to_string(DtlsState s) {
  return kDtlsStateNames[s];
}

enum class DtlsFailure : uint8_t {
  kNone,
  kFingerprintMismatch,  // the peer's certificate is not the one its SDP names
  kBadFingerprint,       // the SDP's a=fingerprint is unparsable or its hash unsupported
  kNoSrtpProfile,        // handshake done without a common use_srtp profile (RFC 5764 §4.1.2)
  kAlert,                // the peer sent a fatal alert or close_notify
  kProtocol,             // anything else OpenSSL rejected (detail: its reason)
  kTimeout,              // no handshake within kDtlsHandshakeLimitNs
  kCount
};
inline constexpr EnumNames<DtlsFailure> kDtlsFailureNames = {{
    {DtlsFailure::kNone, "none"},
    {DtlsFailure::kFingerprintMismatch, "fingerprint-mismatch"},
    {DtlsFailure::kBadFingerprint, "bad-fingerprint"},
    {DtlsFailure::kNoSrtpProfile, "no-srtp-profile"},
    {DtlsFailure::kAlert, "alert"},
    {DtlsFailure::kProtocol, "protocol"},
    {DtlsFailure::kTimeout, "timeout"},
}};
static_assert(kDtlsFailureNames.complete());
inline const char* to_string(DtlsFailure f) {
  return kDtlsFailureNames[f];
}

// How long a handshake may run (from start() or the first datagram).
inline constexpr int64_t kDtlsHandshakeLimitNs = 30'000'000'000;

// Datagrams the SSL object wrote, each whole (see dtls_session.cc's BIO).
struct DtlsDatagramQueue {
  std::vector<std::vector<uint8_t>> out;  // closed datagrams, oldest first from `head`
  size_t head = 0;
  std::vector<uint8_t> open;    // the datagram OpenSSL is still filling
  std::span<const uint8_t> in;  // the received datagram, until OpenSSL reads it
};

// Not movable: OpenSSL holds pointers to it. Not thread-safe: one thread
// (the handshake thread) drives it.
class DtlsSession {
 public:
  // client: the relay is the DTLS client (a=setup:active). remote_fingerprint:
  // the peer's a=fingerprint value; an unparsable one fails the session at
  // once with kBadFingerprint.
  DtlsSession(DtlsContext& ctx, bool client, std::string_view remote_fingerprint);
  DtlsSession(const DtlsSession&) = delete;
  DtlsSession& operator=(const DtlsSession&) = delete;
  ~DtlsSession();

  void start(int64_t now_ns);  // client: queues the ClientHello flight; server: nothing
  // One received datagram (may hold several records). Ignored once failed.
  // Connected: a retransmission of the peer's last flight (the peer lost
  // our Finished) makes OpenSSL resend ours, or after release() the
  // server resends the copy it kept; anything else is dropped.
  void on_datagram(std::span<const uint8_t> d, int64_t now_ns);
  // When on_timer must run; INT64_MAX: no timer. OpenSSL 3.0 keeps its
  // retransmission timer on gettimeofday(): after each call the time it has
  // left is mapped onto the caller's clock, and on_timer retransmits only
  // once OpenSSL's own timer has run out too (a caller whose clock runs
  // ahead of real time sees the retransmission after the real delay; the
  // give-up at kDtlsHandshakeLimitNs runs on the caller's clock alone).
  int64_t next_timer_ns() const { return next_timer_ns_; }
  void on_timer(int64_t now_ns);
  bool pop(std::vector<uint8_t>& datagram);  // next datagram to send (<= mtu); false: none

  DtlsState state() const { return state_; }
  DtlsFailure failure() const { return failure_; }
  std::string_view failure_detail() const { return failure_detail_; }  // for logs

  // Connected: the RFC 5764 §4.2 keys. inbound = the peer's write key and
  // salt (unprotect what it sends), outbound = ours. tag = 0. Empty (suite
  // defaults, length 0) until connected; never set after a failure.
  const SdesSession& keys() const { return keys_; }
  std::string_view srtp_profile() const { return srtp_profile_; }  // "SRTP_AEAD_AES_128_GCM"...
  std::string_view cipher() const { return cipher_; }              // TLS cipher suite name
  int64_t handshake_ns() const { return handshake_ns_; }  // start (or first datagram) to connected
  bool client() const { return client_; }

  // Frees OpenSSL's per-connection state (keys, names and queued datagrams
  // stay): an established call keeps no SSL object, only, on the server,
  // its last flight as sent (a datagram or two of ChangeCipherSpec and
  // Finished), resent when the client retransmits its Finished. The copy
  // is byte for byte: the client never read it, so its replay window has
  // not seen those record numbers. Releasing a session still handshaking
  // fails it (kProtocol).
  void release();

 private:
  friend struct DtlsCallbacks;  // OpenSSL's callbacks (dtls_session.cc)
  friend class DtlsContext;
  // For DtlsContext::create: the datagram BIO method, and the SSL_CTX
  // settings that belong to sessions (callbacks, verify mode, use_srtp).
  static bio_method_st* new_bio_method();
  static bool configure(ssl_ctx_st* ctx);
  bool open();  // makes the SSL object (handshaking, none yet); false: the session failed
  void drive(int64_t now_ns);
  void after_call(int ret, int64_t now_ns);
  void connected(int64_t now_ns);
  void fail(DtlsFailure f, std::string detail);
  void update_timer(int64_t now_ns);
  void free_ssl();

  DtlsContext& ctx_;
  ssl_st* ssl_ = nullptr;
  DtlsDatagramQueue queue_;
  std::vector<std::vector<uint8_t>> last_flight_;  // server, once connected
  DtlsFingerprint remote_{};
  SdesSession keys_;
  std::string_view srtp_profile_, cipher_;  // static strings (ours, OpenSSL's cipher table)
  std::string failure_detail_;
  int64_t started_ns_ = -1;
  int64_t next_timer_ns_ = INT64_MAX;
  int64_t handshake_ns_ = 0;
  int received_alert_ = -1;  // (level << 8) | description of the last alert read
  bool client_ = false;
  bool peer_verified_ = false;  // the certificate callback saw a matching certificate
  bool peer_mismatch_ = false;  // ... or one that did not match
  DtlsState state_ = DtlsState::kHandshaking;
  DtlsFailure failure_ = DtlsFailure::kNone;
};

}  // namespace vox::control::webrtc
