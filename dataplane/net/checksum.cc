// RFC 1071 checksum with 64-bit accumulation: the one's complement sum is
// independent of byte order (RFC 1071 §2(B)), so words are added in native
// order, carries folded back in at the end (RFC 1071 §2(A)), and the
// folded result is swapped once.
#include "dataplane/net/checksum.h"

#include <bit>
#include <cstring>

namespace vox::dataplane::net {

namespace {

template <class T>
inline T load_native(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

uint64_t checksum_partial(const uint8_t* p, size_t len) {
  // 32-bit words into 64-bit lanes: 2^32 words fit before a lane could
  // carry out, so the adds are independent (no end-around-carry chain) and
  // the compiler vectorizes the loop; the lanes meet once at the end.
  uint64_t lane[4] = {};
  while (len >= 16) {
    for (int k = 0; k < 4; ++k) lane[k] += load_native<uint32_t>(p + 4 * k);
    p += 16;
    len -= 16;
  }
  while (len >= 4) {
    lane[0] += load_native<uint32_t>(p);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    lane[1] += load_native<uint16_t>(p);
    p += 2;
    len -= 2;
  }
  if (len) {
    // The odd octet is the high half of a big-endian word padded with zero.
    const uint8_t pad[2] = {p[0], 0};
    lane[2] += load_native<uint16_t>(pad);
  }
  return lane[0] + lane[1] + lane[2] + lane[3];
}

uint16_t checksum_add(const uint8_t* p, size_t len, uint32_t sum) {
  uint16_t s16 = checksum_fold64(checksum_partial(p, len));
  if constexpr (std::endian::native == std::endian::little) s16 = __builtin_bswap16(s16);
  return checksum_fold(sum + s16);
}

}  // namespace vox::dataplane::net
