// STUN parsing, integrity and writing (RFC 8489). HMACs come from
// OpenSSL 3's EVP_MAC, fed the adjusted header and the rest of the message
// in two pieces, so neither verifying nor writing copies the message.
#include "control/webrtc/stun.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>

#include "base/bytes.h"

namespace vox::control::webrtc {
namespace {

constexpr uint32_t kFingerprintXor = 0x5354554e;  // RFC 8489 §14.7
constexpr size_t kSha1Length = 20;
constexpr size_t kSha256Length = 32;
constexpr size_t kMaxUsername = 512;  // "MUST be less than 513 bytes" (§14.3)
constexpr size_t kMaxReason = 763;    // "MUST be less than 128 characters (... 763 bytes)" (§14.8)

// The message type interleaves the class bits C1 C0 into the 12-bit method
// (RFC 8489 §5, Figure 3): M11..M7 C1 M6..M4 C0 M3..M0.
uint16_t method_of(uint16_t type) {
  return uint16_t((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
}
StunClass class_of(uint16_t type) { return StunClass(((type >> 4) & 1) | ((type >> 7) & 2)); }
uint16_t message_type(uint16_t method, StunClass cls) {
  const unsigned c = unsigned(cls);
  return uint16_t((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                  ((c & 1) << 4) | ((c & 2) << 7));
}

size_t padded(size_t n) { return (n + 3) & ~size_t(3); }

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// HMAC under `key` with `digest` ("SHA1", "SHA256") of the message's first
// `end` octets, its header's length field replaced so that the message
// would end `attr_total` octets after `end` (RFC 8489 §14.5, §14.6).
bool hmac_prefix(const char* digest, std::string_view key, const uint8_t* msg, size_t end,
                 size_t attr_total, uint8_t* out, size_t out_size) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr || end < kStunHeaderLength || end + attr_total - kStunHeaderLength > 0xFFFF)
    return false;
  uint8_t header[kStunHeaderLength];
  std::memcpy(header, msg, kStunHeaderLength);
  store_be16(header + 2, uint16_t(end + attr_total - kStunHeaderLength));
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return false;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  size_t len = 0;
  // An empty key is legal for HMAC but EVP_MAC_init wants a non-null pointer.
  static const uint8_t kNoKey = 0;
  const auto* k = key.empty() ? &kNoKey : reinterpret_cast<const uint8_t*>(key.data());
  const bool ok = EVP_MAC_init(ctx, k, key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, header, sizeof header) == 1 &&
                  EVP_MAC_update(ctx, msg + kStunHeaderLength, end - kStunHeaderLength) == 1 &&
                  EVP_MAC_final(ctx, out, &len, out_size) == 1 && len == out_size;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

// XOR-MAPPED-ADDRESS (RFC 8489 §14.2): family 1 (IPv4) or 2 (IPv6); port
// XORed with the cookie's top half, the address with the cookie (and, for
// IPv6, the transaction ID).
std::optional<Endpoint> read_xor_address(const uint8_t* v, size_t len, const uint8_t* header) {
  if (len < 4) return std::nullopt;
  Endpoint e;
  e.port = uint16_t(load_be16(v + 2) ^ (kStunMagicCookie >> 16));
  if (v[1] == 0x01 && len == 8) {
    e.addr = IpAddr::from_v4(load_be32(v + 4) ^ kStunMagicCookie);
  } else if (v[1] == 0x02 && len == 20) {
    for (size_t i = 0; i < 16; ++i) e.addr.bytes[i] = uint8_t(v[4 + i] ^ header[4 + i]);
  } else {
    return std::nullopt;
  }
  return e;
}

// Comprehension-required attributes this parser understands (RFC 8489
// §18.3.1, RFC 8445 §16.1): ones it reads, and ones that only matter to
// long-term credentials or legacy clients, which it may safely skip.
bool understood(uint16_t type) {
  using namespace stun_attr;
  switch (type) {
    case kMappedAddress: case kUsername: case kMessageIntegrity: case kErrorCode:
    case kUnknownAttributes: case kRealm: case kNonce: case kMessageIntegritySha256:
    case kPasswordAlgorithm: case kUserhash: case kXorMappedAddress: case kPriority:
    case kUseCandidate:
      return true;
    default:
      return false;
  }
}

std::string_view as_text(const uint8_t* v, size_t len) {
  return {reinterpret_cast<const char*>(v), len};
}

// One attribute before the integrity attributes; false: malformed.
bool read_attribute(StunMessage& m, uint16_t type, const uint8_t* v, size_t len,
                    const uint8_t* header) {
  using namespace stun_attr;
  switch (type) {
    case kUsername:
      if (len > kMaxUsername) return false;
      if (m.username.empty()) m.username = as_text(v, len);
      return true;
    case kSoftware:
      if (m.software.empty()) m.software = as_text(v, len);
      return true;
    case kRealm:
      if (m.realm.empty()) m.realm = as_text(v, len);
      return true;
    case kNonce:
      if (m.nonce.empty()) m.nonce = as_text(v, len);
      return true;
    case kPriority:
      if (len != 4) return false;
      if (!m.priority) m.priority = load_be32(v);
      return true;
    case kUseCandidate:
      if (len != 0) return false;
      m.use_candidate = true;
      return true;
    case kIceControlling:
    case kIceControlled: {
      if (len != 8) return false;
      auto& field = type == kIceControlling ? m.ice_controlling : m.ice_controlled;
      if (!field) field = load_be64(v);
      return true;
    }
    case kXorMappedAddress: {
      auto e = read_xor_address(v, len, header);
      if (!e) return false;
      if (!m.xor_mapped) m.xor_mapped = e;
      return true;
    }
    case kErrorCode: {
      // 21 reserved bits, class (3-6) in 3 bits, number (0-99) (§14.8).
      if (len < 4 || len > 4 + kMaxReason) return false;
      const unsigned cls = v[2] & 0x07, number = v[3];
      if (cls < 3 || cls > 6 || number > 99) return false;
      if (m.error_code == 0) {
        m.error_code = uint16_t(cls * 100 + number);
        m.error_reason = as_text(v + 4, len - 4);
      }
      return true;
    }
    case kUnknownAttributes:
      if (len % 2 != 0) return false;
      if (m.unknown_attributes.empty()) m.unknown_attributes = as_text(v, len);
      return true;
    default:
      if (type < 0x8000 && !understood(type) && m.unknown_count < m.unknown.size())
        m.unknown[m.unknown_count++] = type;
      return true;
  }
}

}  // namespace

bool looks_like_stun(std::span<const uint8_t> p) {
  return p.size() >= kStunHeaderLength && (p[0] & 0xC0) == 0 &&
         load_be32(p.data() + 4) == kStunMagicCookie;
}

uint32_t crc32(std::span<const uint8_t> data) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Result<StunMessage, StunError> parse_stun(std::span<const uint8_t> packet) {
  const uint8_t* p = packet.data();
  const size_t size = packet.size();
  if (size < kStunHeaderLength) return Err{StunError::kTooShort};
  if ((p[0] & 0xC0) != 0) return Err{StunError::kNotStun};  // §5
  if (load_be32(p + 4) != kStunMagicCookie) return Err{StunError::kBadCookie};
  const size_t length = load_be16(p + 2);
  // The length excludes the header, and attributes are padded to 4 (§5):
  // over UDP the message is the whole datagram (§6.3).
  if (length % 4 != 0 || kStunHeaderLength + length != size) return Err{StunError::kBadLength};

  StunMessage m;
  const uint16_t type = load_be16(p);
  m.method = method_of(type);
  m.cls = class_of(type);
  std::memcpy(m.transaction.data(), p + 8, m.transaction.size());

  // 0: before any integrity attribute; 1: after MESSAGE-INTEGRITY;
  // 2: after MESSAGE-INTEGRITY-SHA256. Past one, only the later ones count.
  int integrity_seen = 0;
  size_t at = kStunHeaderLength;
  while (at < size) {
    if (size - at < 4) return Err{StunError::kTruncatedAttribute};
    const uint16_t attr = load_be16(p + at);
    const size_t len = load_be16(p + at + 2);
    if (padded(len) > size - at - 4) return Err{StunError::kTruncatedAttribute};  // §14
    const uint8_t* v = p + at + 4;
    if (attr == stun_attr::kFingerprint) {
      if (len != 4) return Err{StunError::kBadAttribute};
      if (at + 8 != size) return Err{StunError::kFingerprintNotLast};  // §14.7
      // Last, so the header's length already ends after it, as the CRC wants.
      if ((crc32(packet.first(at)) ^ kFingerprintXor) != load_be32(v))
        return Err{StunError::kBadFingerprint};
      m.fingerprint = true;
    } else if (attr == stun_attr::kMessageIntegrity && integrity_seen == 0) {
      if (len != kSha1Length) return Err{StunError::kBadAttribute};  // §14.5
      m.integrity_at = int(at);
      integrity_seen = 1;
    } else if (attr == stun_attr::kMessageIntegritySha256 && integrity_seen < 2) {
      // At least 16 octets, a multiple of 4, at most 32 (§14.6).
      if (len < 16 || len > kSha256Length || len % 4 != 0) return Err{StunError::kBadAttribute};
      m.integrity_sha256_at = int(at);
      integrity_seen = 2;
    } else if (integrity_seen == 0) {
      if (!read_attribute(m, attr, v, len, p)) return Err{StunError::kBadAttribute};
    }  // else after integrity: ignored (§14.5)
    at += 4 + padded(len);
  }
  return m;
}

bool verify_integrity(std::span<const uint8_t> packet, const StunMessage& m,
                      std::string_view key) {
  const bool sha256 = m.integrity_sha256_at >= 0;
  const int at = sha256 ? m.integrity_sha256_at : m.integrity_at;
  if (at < int(kStunHeaderLength) || size_t(at) + 4 > packet.size()) return false;
  const uint8_t* p = packet.data();
  const size_t len = load_be16(p + at + 2);
  if (sha256 ? (len < 16 || len > kSha256Length || len % 4 != 0) : len != kSha1Length) return false;
  if (size_t(at) + 4 + len > packet.size()) return false;
  uint8_t mac[kSha256Length];
  if (!hmac_prefix(sha256 ? "SHA256" : "SHA1", key, p, size_t(at), 4 + len, mac,
                   sha256 ? kSha256Length : kSha1Length))
    return false;
  // The SHA-256 value may be truncated to its leading octets (§14.6).
  return CRYPTO_memcmp(mac, p + at + 4, len) == 0;
}

// --- StunWriter ------------------------------------------------------------

StunWriter::StunWriter(std::span<uint8_t> buffer, uint16_t method, StunClass cls,
                       const StunTransaction& transaction)
    : buf_(buffer) {
  if (buf_.size() < kStunHeaderLength) {
    overflow_ = true;
    return;
  }
  store_be16(buf_.data(), message_type(method, cls));
  store_be32(buf_.data() + 4, kStunMagicCookie);
  std::memcpy(buf_.data() + 8, transaction.data(), transaction.size());
  set_length(kStunHeaderLength);
}

void StunWriter::set_length(size_t end) {
  end_ = end;
  store_be16(buf_.data() + 2, uint16_t(end - kStunHeaderLength));
}

uint8_t* StunWriter::append(uint16_t type, size_t value_length) {
  const size_t total = 4 + padded(value_length);
  if (overflow_ || value_length > 0xFFFF || total > buf_.size() - end_ ||
      end_ + total - kStunHeaderLength > 0xFFFF) {
    overflow_ = true;
    return nullptr;
  }
  uint8_t* a = buf_.data() + end_;
  store_be16(a, type);
  store_be16(a + 2, uint16_t(value_length));
  std::memset(a + 4 + value_length, 0, padded(value_length) - value_length);
  set_length(end_ + total);
  return a + 4;
}

void StunWriter::add_attribute(uint16_t type, std::span<const uint8_t> value) {
  if (uint8_t* v = append(type, value.size()); v != nullptr && !value.empty())
    std::memcpy(v, value.data(), value.size());
}

void StunWriter::add_username(std::string_view u) {
  add_attribute(stun_attr::kUsername, {reinterpret_cast<const uint8_t*>(u.data()), u.size()});
}

void StunWriter::add_software(std::string_view s) {
  add_attribute(stun_attr::kSoftware, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

void StunWriter::add_priority(uint32_t priority) {
  if (uint8_t* v = append(stun_attr::kPriority, 4)) store_be32(v, priority);
}

void StunWriter::add_use_candidate() { append(stun_attr::kUseCandidate, 0); }

void StunWriter::add_ice_controlling(uint64_t tie_breaker) {
  if (uint8_t* v = append(stun_attr::kIceControlling, 8)) store_be64(v, tie_breaker);
}

void StunWriter::add_ice_controlled(uint64_t tie_breaker) {
  if (uint8_t* v = append(stun_attr::kIceControlled, 8)) store_be64(v, tie_breaker);
}

void StunWriter::add_xor_mapped(const Endpoint& e) {
  const bool v4 = e.addr.is_v4();
  uint8_t* v = append(stun_attr::kXorMappedAddress, v4 ? 8 : 20);
  if (v == nullptr) return;
  v[0] = 0;
  v[1] = v4 ? 0x01 : 0x02;
  store_be16(v + 2, uint16_t(e.port ^ (kStunMagicCookie >> 16)));
  if (v4) {
    store_be32(v + 4, e.addr.v4() ^ kStunMagicCookie);
  } else {
    // Cookie then transaction ID: octets 4..19 of the header (§14.2).
    for (size_t i = 0; i < 16; ++i) v[4 + i] = uint8_t(e.addr.bytes[i] ^ buf_[4 + i]);
  }
}

void StunWriter::add_error(uint16_t code, std::string_view reason) {
  if (code < 300 || code > 699 || reason.size() > kMaxReason) {
    overflow_ = true;  // not a message anyone should send
    return;
  }
  uint8_t* v = append(stun_attr::kErrorCode, 4 + reason.size());
  if (v == nullptr) return;
  v[0] = v[1] = 0;
  v[2] = uint8_t(code / 100);
  v[3] = uint8_t(code % 100);
  std::memcpy(v + 4, reason.data(), reason.size());
}

void StunWriter::add_unknown(std::span<const uint16_t> types) {
  uint8_t* v = append(stun_attr::kUnknownAttributes, 2 * types.size());
  if (v == nullptr) return;
  for (size_t i = 0; i < types.size(); ++i) store_be16(v + 2 * i, types[i]);
}

size_t StunWriter::finish(std::string_view key, bool sha256, bool fingerprint) {
  if (overflow_) return 0;
  uint8_t* const msg = buf_.data();
  if (!key.empty()) {
    const size_t at = end_;
    uint8_t* v = append(stun_attr::kMessageIntegrity, kSha1Length);
    if (v == nullptr || !hmac_prefix("SHA1", key, msg, at, 4 + kSha1Length, v, kSha1Length))
      return 0;
    if (sha256) {
      const size_t at256 = end_;
      v = append(stun_attr::kMessageIntegritySha256, kSha256Length);
      if (v == nullptr ||
          !hmac_prefix("SHA256", key, msg, at256, 4 + kSha256Length, v, kSha256Length))
        return 0;
    }
  }
  if (fingerprint) {
    const size_t at = end_;
    uint8_t* v = append(stun_attr::kFingerprint, 4);
    if (v == nullptr) return 0;
    store_be32(v, crc32({msg, at}) ^ kFingerprintXor);  // length already includes it
  }
  return end_;
}

}  // namespace vox::control::webrtc
