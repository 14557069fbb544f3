// A libsrtp2 session set up directly (no voxrelay code in between): the
// reference the SRTP benchmarks compare the relay's own path with.
#pragma once

#include <srtp2/srtp.h>

#include "dataplane/srtp_suite.h"

namespace vox::bench {

struct RawSrtpSession {
  srtp_t ctx = nullptr;
  // AEAD_AES_128_GCM or AES_CM_128_HMAC_SHA1_80 (any other suite: the
  // latter), for any SSRC of `type`, replay window 128 as SrtpStream uses.
  RawSrtpSession(dataplane::SrtpSuite suite, dataplane::SrtpKey key, srtp_ssrc_type_t type) {
    static const bool ready = srtp_init() == srtp_err_status_ok;
    (void)ready;
    srtp_policy_t policy{};
    if (suite == dataplane::SrtpSuite::kAeadAes128Gcm) {
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    }
    policy.ssrc.type = type;
    policy.key = key.key_salt.data();
    policy.window_size = 128;
    if (srtp_create(&ctx, &policy) != srtp_err_status_ok) ctx = nullptr;
  }
  ~RawSrtpSession() {
    if (ctx) srtp_dealloc(ctx);
  }
  RawSrtpSession(const RawSrtpSession&) = delete;
  RawSrtpSession& operator=(const RawSrtpSession&) = delete;
};

}  // namespace vox::bench
