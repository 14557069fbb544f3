// The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the
// UDP/ICMPv6 pseudo-header sums (RFC 768, RFC 8200 §8.1). Sums are one's
// complement sums of big-endian 16-bit words, folded to 16 bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace vox::dataplane::net {

inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;

// Folds a 32-bit running sum to 16 bits with end-around carry (RFC 1071 §4.1).
inline uint16_t checksum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Folds a 64-bit running sum of native-order words (32-bit halves each a
// pair of 16-bit words) to 16 bits, end-around carries included.
inline uint16_t checksum_fold64(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return checksum_fold(uint32_t(sum));
}

// The sum of len octets at p as native-order words, unfolded (below 2^47
// for any IP datagram, so the caller may add more words before
// checksum_fold64). An odd trailing octet is padded as checksum_add does.
// For sums that only meet a byte-order-free test (== 0xffff) or patch a
// field in place, with no swap at all.
uint64_t checksum_partial(const uint8_t* p, size_t len);

// Adds len octets at p to a folded running sum. An odd trailing octet is
// padded with a zero octet (RFC 1071 §1), so only the last chunk of a
// chained computation may have odd length. Returns a folded sum (<= 0xffff).
uint16_t checksum_add(const uint8_t* p, size_t len, uint32_t sum = 0);

// The checksum field value for a running sum: its one's complement.
inline uint16_t checksum_finish(uint32_t sum) { return uint16_t(~checksum_fold(sum)); }

// RFC 1071 checksum of a buffer (e.g. an IPv4 header with its checksum field
// zeroed). A buffer that includes a correct checksum sums to 0xffff.
inline uint16_t internet_checksum(const uint8_t* p, size_t len) {
  return checksum_finish(checksum_add(p, len));
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). `delta` is the sum of ~m + m'
// over the changed words (see checksum_delta*), so several changed fields are
// applied with one call. Never produces 0xffff from a valid non-zero sum.
inline uint16_t checksum_adjust(uint16_t check, uint32_t delta) {
  return uint16_t(~checksum_fold(uint32_t(uint16_t(~check)) + delta));
}
inline uint32_t checksum_delta16(uint16_t old_word, uint16_t new_word) {
  return uint32_t(uint16_t(~old_word)) + new_word;
}
// Unfolded sum of a short field whose size is known at compile time (an
// address, a port pair): inlined to a few adds, no loop, no call.
template <size_t N>
inline uint32_t checksum_sum_words(const uint8_t* p) {
  static_assert(N % 2 == 0 && N <= 64, "short even-length fields only");
  uint32_t s = 0;
  for (size_t i = 0; i < N; i += 2) s += load_be16(p + i);
  return s;
}
// Delta for a changed N-octet field: the sum of ~m + m' over its words.
template <size_t N>
inline uint32_t checksum_delta(const uint8_t* old_bytes, const uint8_t* new_bytes) {
  static_assert(N % 2 == 0 && N <= 64, "short even-length fields only");
  uint32_t s = 0;
  for (size_t i = 0; i < N; i += 2)
    s += uint32_t(uint16_t(~load_be16(old_bytes + i))) + load_be16(new_bytes + i);
  return s;
}

// Pseudo-header sums: IPv4 per RFC 768 (src, dst, zero, protocol, UDP length),
// IPv6 per RFC 8200 §8.1 (src, dst, 32-bit upper-layer length, next header).
inline uint16_t pseudo_header_sum_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t protocol,
                                     uint16_t length) {
  return checksum_fold(checksum_sum_words<4>(src4) + checksum_sum_words<4>(dst4) + protocol +
                       length);
}
inline uint16_t pseudo_header_sum_v6(const uint8_t* src16, const uint8_t* dst16,
                                     uint8_t next_header, uint32_t length) {
  return checksum_fold(checksum_sum_words<16>(src16) + checksum_sum_words<16>(dst16) +
                       (length >> 16) + (length & 0xffff) + next_header);
}

// UDP checksum of a datagram whose checksum field is zero. A computed 0 is
// sent as 0xffff, since 0 means "no checksum" over IPv4 (RFC 768).
inline uint16_t udp_checksum_v4(const uint8_t* src4, const uint8_t* dst4, const uint8_t* udp,
                                size_t len) {
  const uint16_t c =
      checksum_finish(checksum_add(udp, len, pseudo_header_sum_v4(src4, dst4, kIpProtoUdp,
                                                                  uint16_t(len))));
  return c == 0 ? 0xffff : c;
}
inline uint16_t udp_checksum_v6(const uint8_t* src16, const uint8_t* dst16, const uint8_t* udp,
                                size_t len) {
  const uint16_t c = checksum_finish(
      checksum_add(udp, len, pseudo_header_sum_v6(src16, dst16, kIpProtoUdp, uint32_t(len))));
  return c == 0 ? 0xffff : c;
}

}  // namespace vox::dataplane::net
