// One DTLS-SRTP association (RFC 5763/5764) over OpenSSL 3.0, through a
// BIO that hands OpenSSL one received datagram at a time and keeps each
// datagram OpenSSL writes whole, so pop() returns what goes in one UDP
// payload. The peer is authenticated by its certificate's digest alone
// (RFC 8122 §5, RFC 8827 §6.5): self-signed certificates are the norm.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

#include "control/webrtc/dtls.h"

namespace vox::control::webrtc {
namespace {

// EVP digest of each DtlsHash, in enum order.
const EVP_MD* (*const kHashMd[])() = {EVP_sha1, EVP_sha224, EVP_sha256, EVP_sha384, EVP_sha512};
static_assert(std::size(kHashMd) == size_t(DtlsHash::kCount));

// RFC 5764 §4.2: the exporter label for SRTP keys.
constexpr char kExporterLabel[] = "EXTRACTOR-dtls_srtp";
// RFC 6347 §4.2.4.1: double the timer up to at least 60 s.
constexpr unsigned kMaxTimeoutUs = 60'000'000;
// after_call() after a call other than SSL_do_handshake.
constexpr int kNoHandshakeCall = INT32_MIN;

DtlsDatagramQueue* queue_of(BIO* b) {
  return static_cast<DtlsDatagramQueue*>(BIO_get_data(b));
}

// Ends the datagram OpenSSL was filling.
void close_datagram(DtlsDatagramQueue& q) {
  if (q.open.empty()) return;
  q.out.push_back(std::move(q.open));
  q.open = {};
}

std::string first_openssl_error(bool* timeout) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (timeout != nullptr)
    *timeout = ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_READ_TIMEOUT_EXPIRED;
  if (e == 0) return "handshake failed";
  const char* reason = ERR_reason_error_string(e);
  return reason != nullptr ? reason : "handshake failed";
}

// Whether a datagram holds a handshake record of epoch 1 or later: the
// peer's Finished (RFC 6347 §4.1: type, version, epoch, sequence, length).
// A client that lost our last flight retransmits its own, ending in it.
bool holds_encrypted_handshake(std::span<const uint8_t> d) {
  constexpr size_t kHeader = 13;
  constexpr uint8_t kHandshake = 22;
  while (d.size() >= kHeader) {
    const size_t len = size_t(d[11]) << 8 | d[12];
    if (d[0] == kHandshake && (d[3] | d[4]) != 0) return true;
    d = d.subspan(std::min(d.size(), kHeader + len));
  }
  return false;
}

}  // namespace

// OpenSSL's callbacks, with access to the session they run for.
struct DtlsCallbacks {
  static DtlsSession* session(const SSL* ssl) {
    return static_cast<DtlsSession*>(SSL_get_app_data(ssl));
  }

  // --- The datagram BIO -------------------------------------------------
  // OpenSSL packs records into the datagram it is filling while
  // BIO_wpending() + the next record fits the MTU, then BIO_flush()es
  // (dtls1_do_write); it also flushes at the end of each flight and alert.
  static int write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    DtlsDatagramQueue* q = queue_of(b);
    if (q == nullptr || len < 0) return -1;
    q->open.insert(q->open.end(), data, data + len);
    return len;
  }
  // One received datagram per read, as a datagram socket: what does not
  // fit `len` is lost.
  static int read(BIO* b, char* out, int len) {
    BIO_clear_retry_flags(b);
    DtlsDatagramQueue* q = queue_of(b);
    if (q == nullptr || len < 0) return -1;
    if (q->in.empty()) {
      BIO_set_retry_read(b);
      return -1;
    }
    const size_t n = std::min(q->in.size(), size_t(len));
    std::memcpy(out, q->in.data(), n);
    q->in = {};
    return int(n);
  }
  static long ctrl(BIO* b, int cmd, long, void*) {
    DtlsDatagramQueue* q = queue_of(b);
    if (q == nullptr) return 0;
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        close_datagram(*q);
        return 1;
      case BIO_CTRL_WPENDING:
        return long(q->open.size());
      case BIO_CTRL_PENDING:
        return long(q->in.size());
      default:
        return 0;  // MTU queries (SSL_OP_NO_QUERY_MTU), timeouts, peer addresses
    }
  }
  static int destroy(BIO* b) {
    BIO_set_data(b, nullptr);
    BIO_set_init(b, 0);
    return 1;
  }

  // --- SSL callbacks ------------------------------------------------------
  // Replaces certificate chain verification: the certificate is the one the
  // peer's SDP names, or the handshake fails with bad_certificate.
  static int verify(X509_STORE_CTX* x, void*) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()));
    DtlsSession* s = ssl != nullptr ? session(ssl) : nullptr;
    X509* cert = X509_STORE_CTX_get0_cert(x);
    if (s == nullptr || cert == nullptr) {
      X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
      return 0;
    }
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (X509_digest(cert, kHashMd[size_t(s->remote_.hash)](), md, &len) != 1 ||
        len != s->remote_.length || CRYPTO_memcmp(md, s->remote_.digest.data(), len) != 0) {
      s->peer_mismatch_ = true;
      X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
      return 0;
    }
    s->peer_verified_ = true;
    X509_STORE_CTX_set_error(x, X509_V_OK);
    return 1;
  }
  static void info(const SSL* ssl, int where, int ret) {
    // SSL_CB_READ_ALERT is SSL_CB_ALERT | SSL_CB_READ: test both bits.
    if ((where & SSL_CB_ALERT) == 0 || (where & SSL_CB_READ) == 0) return;
    if (DtlsSession* s = session(ssl)) s->received_alert_ = ret;
  }
  static unsigned int timer(SSL* ssl, unsigned int previous_us) {
    const DtlsSession* s = session(ssl);
    if (previous_us == 0)
      return s != nullptr ? unsigned(s->ctx_.initial_timeout_ms()) * 1000u : 1000000u;
    return std::min(previous_us * 2, kMaxTimeoutUs);
  }
};

bio_method_st* DtlsSession::new_bio_method() {
  const int index = BIO_get_new_index();
  if (index < 0) return nullptr;
  BIO_METHOD* m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "vox datagram queue");
  if (m == nullptr) return nullptr;
  if (BIO_meth_set_write(m, &DtlsCallbacks::write) != 1 ||
      BIO_meth_set_read(m, &DtlsCallbacks::read) != 1 ||
      BIO_meth_set_ctrl(m, &DtlsCallbacks::ctrl) != 1 ||
      BIO_meth_set_destroy(m, &DtlsCallbacks::destroy) != 1) {
    BIO_meth_free(m);
    return nullptr;
  }
  return m;
}

bool DtlsSession::configure(ssl_ctx_st* ctx) {
  // No MTU discovery through the BIO (the MTU is configured), no session
  // resumption (each association is fresh, and the fingerprint must be
  // checked on every handshake), no renegotiation.
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Record buffers only while a record is in flight: a handshake waiting
  // for its peer's next flight holds none (~34 KB less per handshaking leg).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Mutual authentication (RFC 5763 §5: the server requests the client's
  // certificate); the fingerprint is the check, not a CA.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &DtlsCallbacks::verify, nullptr);
  SSL_CTX_set_info_callback(ctx, &DtlsCallbacks::info);
  return true;
}

DtlsSession::DtlsSession(DtlsContext& ctx, bool client, std::string_view remote_fingerprint)
    : ctx_(ctx), client_(client) {
  const auto f = parse_dtls_fingerprint(remote_fingerprint);
  if (!f) {
    fail(DtlsFailure::kBadFingerprint, "unparsable or unsupported a=fingerprint");
    return;
  }
  remote_ = *f;
}

// The SSL object is made when the handshake first needs it (the client's
// start, the server's first datagram): a leg still waiting for its peer
// (ringing, ICE) holds none, and the handshake's own memory comes and goes
// together instead of sitting among the legs set up meanwhile. A session
// still handshaking without an SSL object has not made it yet (a failure
// to make it fails the session).
bool DtlsSession::open() {
  ERR_clear_error();
  ssl_ = SSL_new(ctx_.ctx_);
  BIO* bio = ssl_ != nullptr ? BIO_new(ctx_.bio_method_) : nullptr;
  if (bio == nullptr) {
    fail(DtlsFailure::kProtocol, "cannot create the SSL object: " + first_openssl_error(nullptr));
    return false;
  }
  BIO_set_data(bio, &queue_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_
  SSL_set_app_data(ssl_, this);
  DTLS_set_timer_cb(ssl_, &DtlsCallbacks::timer);
  if (SSL_set_mtu(ssl_, ctx_.mtu()) <= 0) {  // returns the MTU set
    fail(DtlsFailure::kProtocol, "mtu refused");
    return false;
  }
  if (client_)
    SSL_set_connect_state(ssl_);
  else
    SSL_set_accept_state(ssl_);
  return true;
}

DtlsSession::~DtlsSession() {
  free_ssl();
  keys_.inbound.wipe();
  keys_.outbound.wipe();
}

void DtlsSession::free_ssl() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    ERR_clear_error();
  }
  queue_.in = {};
  std::vector<uint8_t>().swap(queue_.open);
}

void DtlsSession::start(int64_t now_ns) {
  if (state_ != DtlsState::kHandshaking || (ssl_ == nullptr && !open())) return;
  if (started_ns_ < 0) started_ns_ = now_ns;
  if (client_)
    drive(now_ns);
  else
    update_timer(now_ns);
}

void DtlsSession::on_datagram(std::span<const uint8_t> d, int64_t now_ns) {
  if (state_ == DtlsState::kFailed) return;
  if (state_ == DtlsState::kHandshaking && ssl_ == nullptr && !open()) return;
  if (ssl_ == nullptr) {  // released: only our last flight is left to give
    if (!last_flight_.empty() && holds_encrypted_handshake(d))
      queue_.out.insert(queue_.out.end(), last_flight_.begin(), last_flight_.end());
    return;
  }
  if (started_ns_ < 0) started_ns_ = now_ns;
  queue_.in = d;
  if (state_ == DtlsState::kHandshaking) {
    drive(now_ns);
  } else {
    // Connected: records after the handshake. A retransmitted last flight
    // of the peer makes OpenSSL resend ours; alerts end the association;
    // application data (no data channel here) is read and dropped.
    ERR_clear_error();
    uint8_t buf[2048];
    while (SSL_read(ssl_, buf, sizeof buf) > 0) {
    }
    after_call(kNoHandshakeCall, now_ns);
  }
  queue_.in = {};
}

void DtlsSession::on_timer(int64_t now_ns) {
  if (ssl_ == nullptr || state_ != DtlsState::kHandshaking) return;
  if (started_ns_ >= 0 && now_ns - started_ns_ >= kDtlsHandshakeLimitNs) {
    fail(DtlsFailure::kTimeout, "no handshake within 30 s");
    return;
  }
  if (now_ns < next_timer_ns_) return;
  ERR_clear_error();
  if (DTLSv1_handle_timeout(ssl_) < 0) {
    close_datagram(queue_);
    bool timeout = false;
    std::string why = first_openssl_error(&timeout);
    fail(timeout ? DtlsFailure::kTimeout : DtlsFailure::kProtocol, std::move(why));
    return;
  }
  after_call(kNoHandshakeCall, now_ns);
}

void DtlsSession::drive(int64_t now_ns) {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  after_call(r, now_ns);
}

// After any SSL call: end the datagram being written, act on alerts,
// errors and completion, and re-arm the timer. `ret`: SSL_do_handshake's.
void DtlsSession::after_call(int ret, int64_t now_ns) {
  close_datagram(queue_);
  if (received_alert_ >= 0) {
    const int alert = received_alert_;
    received_alert_ = -1;
    if ((alert >> 8) == SSL3_AL_FATAL || (alert & 0xff) == SSL_AD_CLOSE_NOTIFY) {
      fail(DtlsFailure::kAlert,
           std::string("received alert: ") + SSL_alert_desc_string_long(alert));
      return;
    }
  }
  if (state_ == DtlsState::kHandshaking && ret != kNoHandshakeCall) {
    if (ret == 1) {
      connected(now_ns);
      return;
    }
    const int e = SSL_get_error(ssl_, ret);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      bool timeout = false;
      std::string why = first_openssl_error(&timeout);
      if (peer_mismatch_)
        fail(DtlsFailure::kFingerprintMismatch,
             "peer certificate does not match its a=fingerprint");
      else
        fail(timeout ? DtlsFailure::kTimeout : DtlsFailure::kProtocol, std::move(why));
      return;
    }
  }
  ERR_clear_error();
  update_timer(now_ns);
}

void DtlsSession::connected(int64_t now_ns) {
  if (!peer_verified_ || peer_mismatch_) {
    fail(DtlsFailure::kFingerprintMismatch, "peer certificate not verified");
    return;
  }
  const SRTP_PROTECTION_PROFILE* p = SSL_get_selected_srtp_profile(ssl_);
  const DtlsSrtpProfile* profile = nullptr;
  for (const auto& k : kDtlsSrtpProfiles)
    if (p != nullptr && p->id == k.id) profile = &k;
  if (profile == nullptr) {
    fail(DtlsFailure::kNoSrtpProfile, "no common use_srtp profile");
    return;
  }
  const auto& info = srtp_suite_info(profile->suite);
  const size_t k = info.key_length, s = info.salt_length;
  // RFC 5764 §4.2: client_write_SRTP_master_key | server_write_SRTP_master_key
  // | client_write_SRTP_master_salt | server_write_SRTP_master_salt.
  uint8_t material[2 * dataplane::kSrtpMaxKeySaltLength];
  if (SSL_export_keying_material(ssl_, material, 2 * (k + s), kExporterLabel,
                                 sizeof kExporterLabel - 1, nullptr, 0, 0) != 1) {
    fail(DtlsFailure::kProtocol, "keying material export failed: " + first_openssl_error(nullptr));
    return;
  }
  SrtpKey client_write, server_write;
  for (SrtpKey* key : {&client_write, &server_write}) {
    key->suite = profile->suite;
    key->key_salt_length = uint8_t(k + s);
  }
  std::memcpy(client_write.key_salt.data(), material, k);
  std::memcpy(server_write.key_salt.data(), material + k, k);
  std::memcpy(client_write.key_salt.data() + k, material + 2 * k, s);
  std::memcpy(server_write.key_salt.data() + k, material + 2 * k + s, s);
  OPENSSL_cleanse(material, sizeof material);
  keys_.tag = 0;
  keys_.outbound = client_ ? client_write : server_write;
  keys_.inbound = client_ ? server_write : client_write;
  client_write.wipe();
  server_write.wipe();

  srtp_profile_ = profile->name;
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  cipher_ = c != nullptr ? SSL_CIPHER_get_name(c) : "";  // OpenSSL's static cipher table
  handshake_ns_ = now_ns - started_ns_;
  state_ = DtlsState::kConnected;
  // The server's last flight, for a peer that lost it after release()
  // (RFC 6347 §4.2.4). The client's last flight is answered: nothing to keep.
  if (!client_) last_flight_.assign(queue_.out.begin() + ptrdiff_t(queue_.head), queue_.out.end());
  next_timer_ns_ = INT64_MAX;
  ERR_clear_error();
}

void DtlsSession::fail(DtlsFailure f, std::string detail) {
  if (state_ == DtlsState::kFailed) return;
  state_ = DtlsState::kFailed;
  failure_ = f;
  failure_detail_ = std::move(detail);
  next_timer_ns_ = INT64_MAX;
  close_datagram(queue_);  // an alert OpenSSL wrote goes out
  free_ssl();
}

void DtlsSession::update_timer(int64_t now_ns) {
  if (ssl_ == nullptr || state_ != DtlsState::kHandshaking) {
    next_timer_ns_ = INT64_MAX;
    return;
  }
  int64_t t = INT64_MAX;
  timeval tv{};
  if (DTLSv1_get_timeout(ssl_, &tv) == 1)
    t = now_ns + int64_t(tv.tv_sec) * 1'000'000'000 + int64_t(tv.tv_usec) * 1000;
  if (started_ns_ >= 0) t = std::min(t, started_ns_ + kDtlsHandshakeLimitNs);
  next_timer_ns_ = t;
}

bool DtlsSession::pop(std::vector<uint8_t>& datagram) {
  if (queue_.head == queue_.out.size()) return false;
  datagram = std::move(queue_.out[queue_.head++]);
  if (queue_.head == queue_.out.size()) {
    queue_.out.clear();
    queue_.head = 0;
  }
  return true;
}

void DtlsSession::release() {
  if (state_ == DtlsState::kHandshaking) {
    fail(DtlsFailure::kProtocol, "released while handshaking");
  } else {
    free_ssl();
  }
  if (queue_.head == queue_.out.size()) {
    std::vector<std::vector<uint8_t>>().swap(queue_.out);
    queue_.head = 0;
  }
}

}  // namespace vox::control::webrtc
