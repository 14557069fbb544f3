// The relay's DTLS identity: a certificate and key (made at start or read
// from PEM files), its a=fingerprint, and the SSL_CTX all sessions share.
// Also the a=fingerprint syntax (RFC 8122 §5, RFC 4572 §5).
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>
#include <memory>

#include "control/webrtc/dtls.h"

namespace vox::control::webrtc {
namespace {

// Digest octets of each DtlsHash, in enum order.
constexpr uint8_t kHashLength[] = {20, 28, 32, 48, 64};
static_assert(std::size(kHashLength) == size_t(DtlsHash::kCount));

constexpr int kMinMtu = 256;    // OpenSSL's smallest DTLS MTU (dtls1_min_mtu)
constexpr int kMaxMtu = 65507;  // largest UDP payload over IPv4

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// The first queued OpenSSL error as one line; empties the queue.
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(e);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Err<std::string> fail(std::string what) {
  return Err<std::string>{std::move(what)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The self-signed certificate WebRTC endpoints use (RFC 8827 §6.5: the
// fingerprint, not a CA, authenticates it).
Result<std::pair<Owned<X509>, Owned<EVP_PKEY>>, std::string> make_identity() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return fail("dtls: cannot generate an ECDSA P-256 key: " + openssl_error());
  Owned<X509> cert(X509_new());
  uint8_t serial[8];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1)
    return fail("dtls: cannot make a certificate: " + openssl_error());
  serial[0] = uint8_t((serial[0] & 0x7f) | 0x01);  // positive and 64 bits long (RFC 5280 §4.1.2.2)
  Owned<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  constexpr long kDay = 86400;
  if (!bn || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kDay) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 29 * kDay) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("voxrelay"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1 ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
    return fail("dtls: cannot make a certificate: " + openssl_error());
  return std::pair{std::move(cert), std::move(key)};
}

}  // namespace

std::optional<DtlsFingerprint> parse_dtls_fingerprint(std::string_view value) {
  value = trim(value);
  const size_t sp = value.find_first_of(" \t");
  if (sp == std::string_view::npos) return std::nullopt;
  const std::string_view name = value.substr(0, sp);
  const std::string_view hex = trim(value.substr(sp));
  DtlsFingerprint f;
  bool known = false;
  for (const auto& e : kDtlsHashNames.entries)
    if (iequals(name, e.name)) f.hash = e.value, known = true;
  if (!known) return std::nullopt;
  f.length = kHashLength[size_t(f.hash)];
  // 2HEXDIG *(":" 2HEXDIG), exactly the digest's length (RFC 8122 §5).
  if (hex.size() != size_t(f.length) * 3 - 1) return std::nullopt;
  for (size_t i = 0; i < f.length; ++i) {
    const int hi = hex_value(hex[i * 3]), lo = hex_value(hex[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i + 1 < f.length && hex[i * 3 + 2] != ':') return std::nullopt;
    f.digest[i] = uint8_t(hi << 4 | lo);
  }
  return f;
}

std::string render_dtls_fingerprint(const DtlsFingerprint& f) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = to_string(f.hash);
  out += ' ';
  for (size_t i = 0; i < f.length; ++i) {
    if (i > 0) out += ':';
    out += kHex[f.digest[i] >> 4];
    out += kHex[f.digest[i] & 15];
  }
  return out;
}

Result<std::unique_ptr<DtlsContext>, std::string> DtlsContext::create(const DtlsOptions& o) {
  if (o.mtu < kMinMtu || o.mtu > kMaxMtu)
    return fail("dtls: mtu " + std::to_string(o.mtu) + " outside " + std::to_string(kMinMtu) +
                ".." + std::to_string(kMaxMtu));
  if (o.initial_timeout_ms < 1 || o.initial_timeout_ms > 60000)
    return fail("dtls: initial timeout " + std::to_string(o.initial_timeout_ms) +
                " ms outside 1..60000");
  if (o.cert_file.empty() && !o.key_file.empty())
    return fail("dtls: key file " + o.key_file + " given without a certificate file");
  for (size_t i = 0; i <= o.srtp_profiles.size();) {
    size_t colon = o.srtp_profiles.find(':', i);
    if (colon == std::string::npos) colon = o.srtp_profiles.size();
    const std::string_view p = std::string_view(o.srtp_profiles).substr(i, colon - i);
    bool known = false;
    for (const auto& k : kDtlsSrtpProfiles) known = known || k.name == p;
    if (!known) return fail("dtls: unsupported SRTP profile '" + std::string(p) + "'");
    i = colon + 1;
  }

  ERR_clear_error();
  Owned<SSL_CTX> ctx(SSL_CTX_new(DTLS_method()));
  if (!ctx) return fail("dtls: cannot create the SSL context: " + openssl_error());
  // DTLS 1.2 only: RFC 8842 §5 (1.0 is obsolete, 1.3 not yet deployed in WebRTC).
  if (SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION) != 1)
    return fail("dtls: cannot select DTLS 1.2: " + openssl_error());
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), o.ciphers.c_str()) != 1)
    return fail("dtls: bad cipher list '" + o.ciphers + "': " + openssl_error());
  if (SSL_CTX_set1_groups_list(ctx.get(), "X25519:P-256") != 1)
    return fail("dtls: cannot set the ECDHE groups: " + openssl_error());
  // Returns 0 on success (srtp.h).
  if (SSL_CTX_set_tlsext_use_srtp(ctx.get(), o.srtp_profiles.c_str()) != 0)
    return fail("dtls: bad SRTP profiles '" + o.srtp_profiles + "': " + openssl_error());
  if (!DtlsSession::configure(ctx.get()))
    return fail("dtls: cannot configure the SSL context: " + openssl_error());

  if (o.cert_file.empty()) {
    auto id = make_identity();
    if (!id.ok()) return fail(id.error());
    if (SSL_CTX_use_certificate(ctx.get(), id->first.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), id->second.get()) != 1)
      return fail("dtls: cannot use the generated certificate: " + openssl_error());
  } else {
    const std::string& key_file = o.key_file.empty() ? o.cert_file : o.key_file;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1)
      return fail("dtls: cannot load certificate " + o.cert_file + ": " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail("dtls: cannot load key " + key_file + ": " + openssl_error());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      return fail("dtls: key " + key_file + " does not match certificate " + o.cert_file);
  }

  DtlsFingerprint f;
  unsigned int len = 0;
  X509* leaf = SSL_CTX_get0_certificate(ctx.get());
  if (leaf == nullptr || X509_digest(leaf, EVP_sha256(), f.digest.data(), &len) != 1 ||
      len != kHashLength[size_t(DtlsHash::kSha256)])
    return fail("dtls: cannot hash the certificate: " + openssl_error());
  f.length = uint8_t(len);

  std::unique_ptr<DtlsContext> c(new DtlsContext());
  c->bio_method_ = DtlsSession::new_bio_method();
  if (c->bio_method_ == nullptr) return fail("dtls: cannot create the datagram BIO method");
  c->ctx_ = ctx.release();
  c->fingerprint_ = render_dtls_fingerprint(f);
  c->mtu_ = o.mtu;
  c->initial_timeout_ms_ = o.initial_timeout_ms;
  return c;
}

DtlsContext::~DtlsContext() {
  SSL_CTX_free(ctx_);
  BIO_meth_free(bio_method_);
}

}  // namespace vox::control::webrtc
