// SrtpStream on libsrtp2: suite -> crypto policy mapping (RFC 4568 §6.2,
// RFC 6188, RFC 7714), session flags (RFC 4568 §6.3), libsrtp2 status ->
// SrtpError, and the previous-key fallback of an inbound re-key.
#include "dataplane/srtp_context.h"

#include <srtp2/srtp.h>
#include <string.h>  // explicit_bzero

#include <array>
#include <cstring>

#ifndef VOX_SRTP_OPENSSL
#error "VOX_SRTP_OPENSSL comes from the vox::srtp target (cmake/srtp.cmake)"
#endif

namespace vox::dataplane {

const char* srtp_backend_name() {
  return VOX_SRTP_OPENSSL ? "openssl" : "nss";
}
const char* srtp_library_version() {
  return srtp_get_version_string();
}

void SrtpKey::wipe() {
  explicit_bzero(key_salt.data(), key_salt.size());
  key_salt_length = 0;
  mki_value = 0;
}

namespace {

// Largest packet the previous key of an inbound re-key is tried on (copied
// on the stack first): RTP is packetised to fit the path MTU (RFC 3550 §10).
constexpr size_t kRekeyFallbackMaxLength = 2048;

// libsrtp2 keeps global tables (crypto kernel); srtp_init must run once
// before any session is created. A function-local static is initialised
// exactly once, thread-safely (C++11 §6.7). If something else in the
// process initialised libsrtp2 first, srtp_init answers bad_param (it tries
// to register its debug module again) with the kernel already up.
bool srtp_library_ready() {
  static const bool ready = [] {
    srtp_err_status_t st = srtp_init();
    return st == srtp_err_status_ok || st == srtp_err_status_bad_param;
  }();
  return ready;
}

SrtpError from_status(srtp_err_status_t s) {
  switch (s) {
    case srtp_err_status_auth_fail:
    case srtp_err_status_bad_mki:  // an MKI we never issued cannot authenticate
      return SrtpError::kAuthFailed;
    case srtp_err_status_replay_fail:
      return SrtpError::kReplayed;
    case srtp_err_status_replay_old:
    case srtp_err_status_pkt_idx_old:
      return SrtpError::kTooOld;
    case srtp_err_status_parse_err:
    case srtp_err_status_bad_param:
      return SrtpError::kMalformed;
    case srtp_err_status_key_expired:
      return SrtpError::kKeyExpired;
    default:
      return SrtpError::kCryptoFailure;
  }
}

// The RTP and RTCP policies of one suite with the negotiated session flags.
// Where a flag has no libsrtp2 policy of its own, the suite's cipher is kept
// (libsrtp2 derives session keys from the cipher's key length) and only the
// security services change.
bool set_policies(const SrtpKey& key, srtp_crypto_policy_t& rtp, srtp_crypto_policy_t& rtcp) {
  const SrtpSessionFlags& f = key.flags;
  switch (key.suite) {
    case SrtpSuite::kAeadAes256Gcm:
    case SrtpSuite::kAeadAes128Gcm: {
      // GCM is one AEAD operation: libsrtp2 always encrypts and authenticates
      // SRTP (RFC 7714 §8), so these two flags cannot be honoured.
      if (f.unencrypted_srtp || f.unauthenticated_srtp) return false;
      auto set = key.suite == SrtpSuite::kAeadAes256Gcm
                     ? srtp_crypto_policy_set_aes_gcm_256_16_auth
                     : srtp_crypto_policy_set_aes_gcm_128_16_auth;
      set(&rtp);
      set(&rtcp);
      break;
    }
    case SrtpSuite::kAes256CmHmacSha1_80:
      if (f.unauthenticated_srtp)
        srtp_crypto_policy_set_aes_cm_256_null_auth(&rtp);
      else
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtp);
      srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp);
      break;
    case SrtpSuite::kAesCm128HmacSha1_80:
    case SrtpSuite::kAesCm128HmacSha1_32:
      if (f.unauthenticated_srtp)
        srtp_crypto_policy_set_aes_cm_128_null_auth(&rtp);  // no tag at all (not a 0-length HMAC)
      else if (key.suite == SrtpSuite::kAesCm128HmacSha1_32)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp);
      else
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtp);
      // RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag with the _32 suite.
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&rtcp);
      break;
  }
  if (f.unencrypted_srtp && f.unauthenticated_srtp) return false;  // neither service: not SRTP
  if (f.unencrypted_srtp) rtp.sec_serv = sec_serv_auth;
  // SRTCP is always authenticated (RFC 3711 §3.4); the E bit says whether
  // it is also encrypted.
  if (f.unencrypted_srtcp) rtcp.sec_serv = sec_serv_auth;
  return true;
}

struct Created {
  srtp_ctx_t_* ctx;
  uint8_t rtp_trailer;
  uint8_t rtcp_trailer;
};

// Calls f(policy) with `key`'s policy for `ssrc` (ssrc_any_inbound or
// _outbound, or one SSRC) built on the stack, key copies wiped after.
template <typename F>
srtp_err_status_t with_policy(const SrtpKey& key, srtp_ssrc_t ssrc, F&& f) {
  srtp_policy_t policy{};
  if (!set_policies(key, policy.rtp, policy.rtcp)) return srtp_err_status_bad_param;
  policy.ssrc = ssrc;
  policy.window_size = 128;    // RFC 3711 §3.3.2 minimum 64; libsrtp2's default
  policy.allow_repeat_tx = 0;  // never reuse a keystream index on protect

  // libsrtp2 copies the key (and MKI) into the session, so locals suffice.
  std::array<uint8_t, kSrtpMaxKeySaltLength> key_copy = key.key_salt;
  std::array<uint8_t, kSrtpMaxMkiLength> mki{};
  srtp_master_key_t master{key_copy.data(), mki.data(), 0};
  srtp_master_key_t* masters[1] = {&master};
  if (key.mki_length > 0) {
    // RFC 4568 §6.1 "MKI:length": the value, big-endian, in `length` octets.
    uint64_t v = key.mki_value;
    for (size_t i = key.mki_length; i-- > 0; v >>= 8) mki[i] = uint8_t(v);
    master.mki_size = key.mki_length;
    policy.keys = masters;
    policy.num_master_keys = 1;
  } else {
    policy.key = key_copy.data();
  }
  const srtp_err_status_t st = f(policy);
  explicit_bzero(key_copy.data(), key_copy.size());
  return st;
}

Result<Created, SrtpError> create_session(const SrtpKey& key, SrtpDirection direction) {
  if (!key.valid()) return Err{SrtpError::kBadKey};
  if (!srtp_library_ready()) return Err{SrtpError::kInitFailed};
  const srtp_ssrc_t any{direction == SrtpDirection::kInbound ? ssrc_any_inbound : ssrc_any_outbound, 0};
  srtp_t session = nullptr;
  const srtp_err_status_t st =
      with_policy(key, any, [&](srtp_policy_t& policy) { return srtp_create(&session, &policy); });
  if (st != srtp_err_status_ok) {
    if (session) srtp_dealloc(session);
    return Err{st == srtp_err_status_bad_param ? SrtpError::kBadKey : SrtpError::kInitFailed};
  }
  const auto& info = srtp_suite_info(key.suite);
  uint8_t rtp_tag = key.flags.unauthenticated_srtp ? 0 : info.srtp_tag_length;
  return Created{session, rtp_tag, uint8_t(info.srtcp_tag_length + 4)};
}

}  // namespace

Result<SrtpStream, SrtpError> SrtpStream::create(const SrtpKey& key, SrtpDirection direction) {
  auto made = create_session(key, direction);
  if (!made) return Err{made.error()};
  SrtpStream s;
  s.ctx_ = made->ctx;
  s.key_ = key;
  s.use_mki_ = direction == SrtpDirection::kInbound && key.mki_length > 0;
  s.suite_ = key.suite;
  s.direction_ = direction;
  s.rtp_trailer_ = made->rtp_trailer;
  s.rtcp_trailer_ = made->rtcp_trailer;
  return s;
}

SrtpStream::SrtpStream(SrtpStream&& o) noexcept {
  *this = std::move(o);
}

SrtpStream& SrtpStream::operator=(SrtpStream&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = o.ctx_;
    previous_ = o.previous_;
    key_ = o.key_;
    o.key_.wipe();
    use_mki_ = o.use_mki_;
    previous_use_mki_ = o.previous_use_mki_;
    suite_ = o.suite_;
    direction_ = o.direction_;
    rtp_trailer_ = o.rtp_trailer_;
    rtcp_trailer_ = o.rtcp_trailer_;
    o.ctx_ = nullptr;
    o.previous_ = nullptr;
  }
  return *this;
}

SrtpStream::~SrtpStream() {
  release();
}

void SrtpStream::release() {
  // srtp_dealloc zeroes the session keys before freeing them.
  if (ctx_) srtp_dealloc(ctx_);
  if (previous_) srtp_dealloc(previous_);
  ctx_ = previous_ = nullptr;
  key_.wipe();
}

bool SrtpStream::start_at(uint32_t ssrc, uint32_t roc) {
  if (!ctx_) return false;
  const srtp_ssrc_t one{ssrc_specific, ssrc};
  if (with_policy(key_, one, [&](srtp_policy_t& p) { return srtp_add_stream(ctx_, &p); }) !=
      srtp_err_status_ok)
    return false;
  return srtp_set_stream_roc(ctx_, ssrc, roc) == srtp_err_status_ok;
}

Result<SrtpSuite, SrtpError> SrtpStream::rekey(const SrtpKey& key) {
  auto made = create_session(key, direction_);
  if (!made) return Err{made.error()};
  if (previous_) srtp_dealloc(previous_);
  previous_ = nullptr;
  if (direction_ == SrtpDirection::kInbound) {
    previous_ = ctx_;
    previous_use_mki_ = use_mki_;
  } else {
    srtp_dealloc(ctx_);
  }
  ctx_ = made->ctx;
  key_ = key;
  use_mki_ = direction_ == SrtpDirection::kInbound && key.mki_length > 0;
  suite_ = key.suite;
  rtp_trailer_ = made->rtp_trailer;
  rtcp_trailer_ = made->rtcp_trailer;
  return key.suite;
}

void SrtpStream::adopt_previous(SrtpStream&& old) {
  if (direction_ != SrtpDirection::kInbound || !old.ctx_ || &old == this) return;
  if (previous_) srtp_dealloc(previous_);  // a key two re-keys old retires
  previous_ = old.ctx_;
  previous_use_mki_ = old.use_mki_;
  old.ctx_ = nullptr;
  old.release();
}

// Lengths: libsrtp2 takes an int; a UDP payload is at most 65535 octets, so
// a larger `length` is malformed before it reaches the library.
Result<size_t, SrtpError> SrtpStream::protect_rtp(uint8_t* data, size_t length, size_t capacity) {
  if (length < 12 || length > 65535) [[unlikely]]  // RFC 3550 §5.1 fixed header
    return Err{SrtpError::kMalformed};
  if (capacity < length || capacity - length < rtp_trailer_) [[unlikely]]
    return Err{SrtpError::kNoTailroom};
  int len = int(length);
  srtp_err_status_t st = srtp_protect(ctx_, data, &len);
  if (st != srtp_err_status_ok) [[unlikely]]
    return Err{from_status(st)};
  return size_t(len);
}

Result<size_t, SrtpError> SrtpStream::protect_rtcp(uint8_t* data, size_t length, size_t capacity) {
  if (length < 8 || length > 65535) [[unlikely]]  // RFC 3550 §6.4: header + SSRC
    return Err{SrtpError::kMalformed};
  if (capacity < length || capacity - length < rtcp_trailer_) [[unlikely]]
    return Err{SrtpError::kNoTailroom};
  int len = int(length);
  srtp_err_status_t st = srtp_protect_rtcp(ctx_, data, &len);
  if (st != srtp_err_status_ok) [[unlikely]]
    return Err{from_status(st)};
  return size_t(len);
}

template <bool kRtcp>
Result<size_t, SrtpError> SrtpStream::unprotect(uint8_t* data, size_t length) {
  if (length < (kRtcp ? 8 : 12) || length > 65535) [[unlikely]]
    return Err{SrtpError::kMalformed};
  auto run = [&](srtp_ctx_t_* ctx, bool mki, int& len) {
    return kRtcp ? srtp_unprotect_rtcp_mki(ctx, data, &len, mki)
                 : srtp_unprotect_mki(ctx, data, &len, mki);
  };
  int len = int(length);
  if (!previous_) [[likely]] {
    srtp_err_status_t st = run(ctx_, use_mki_, len);
    if (st != srtp_err_status_ok) [[unlikely]]
      return Err{from_status(st)};
    return size_t(len);
  }
  // Just after an inbound re-key: the packet may still be under the old key
  // (sent before the switch, or reordered). GCM decrypts in place before it
  // checks the tag, so a failed attempt leaves the bytes changed: keep a copy
  // for the second attempt. Only packets of this short window pay for it,
  // and only packets that fit an Ethernet MTU get the second chance.
  std::array<uint8_t, kRekeyFallbackMaxLength> scratch;
  const bool can_retry = length <= scratch.size();
  if (can_retry) std::memcpy(scratch.data(), data, length);
  srtp_err_status_t st = run(ctx_, use_mki_, len);
  if (st == srtp_err_status_ok) {
    // The party uses the new key: the old one retires (once per re-key).
    srtp_dealloc(previous_);
    previous_ = nullptr;
    return size_t(len);
  }
  if (can_retry && (st == srtp_err_status_auth_fail || st == srtp_err_status_bad_mki)) {
    // A failed check leaves the sessions' replay state untouched, so trying
    // the old key is safe.
    std::memcpy(data, scratch.data(), length);
    len = int(length);
    srtp_err_status_t old = run(previous_, previous_use_mki_, len);
    if (old == srtp_err_status_ok) return size_t(len);
    if (old != srtp_err_status_auth_fail && old != srtp_err_status_bad_mki) st = old;
  }
  return Err{from_status(st)};
}

Result<size_t, SrtpError> SrtpStream::unprotect_rtp(uint8_t* data, size_t length) {
  return unprotect<false>(data, length);
}
Result<size_t, SrtpError> SrtpStream::unprotect_rtcp(uint8_t* data, size_t length) {
  return unprotect<true>(data, length);
}

}  // namespace vox::dataplane
