// RFC 1071 checksum with 64-bit accumulation: the one's complement sum is
// independent of byte order (RFC 1071 §2(B)), so words are added in native
// order with end-around carry and the folded result is swapped once at the end.
#include "dataplane/net/checksum.h"

#include <bit>
#include <cstring>

namespace vox::dataplane::net {

namespace {

inline uint64_t add_carry(uint64_t acc, uint64_t v) {
  acc += v;
  return acc + (acc < v);  // end-around carry (RFC 1071 §2(A))
}

template <class T>
inline T load_native(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

uint16_t checksum_add(const uint8_t* p, size_t len, uint32_t sum) {
  uint64_t acc = 0;
  while (len >= 32) {
    acc = add_carry(acc, load_native<uint64_t>(p));
    acc = add_carry(acc, load_native<uint64_t>(p + 8));
    acc = add_carry(acc, load_native<uint64_t>(p + 16));
    acc = add_carry(acc, load_native<uint64_t>(p + 24));
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    acc = add_carry(acc, load_native<uint64_t>(p));
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    acc = add_carry(acc, load_native<uint32_t>(p));
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    acc = add_carry(acc, load_native<uint16_t>(p));
    p += 2;
    len -= 2;
  }
  if (len) {
    // The odd octet is the high half of a big-endian word padded with zero.
    const uint8_t pad[2] = {p[0], 0};
    acc = add_carry(acc, load_native<uint16_t>(pad));
  }
  // 64 -> 32 -> 16 bits, each fold with end-around carry.
  uint32_t s32 = uint32_t(acc) + uint32_t(acc >> 32);
  s32 += (s32 < uint32_t(acc));
  uint16_t s16 = checksum_fold(s32);
  if constexpr (std::endian::native == std::endian::little) s16 = __builtin_bswap16(s16);
  return checksum_fold(sum + s16);
}

}  // namespace vox::dataplane::net
