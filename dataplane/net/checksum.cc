// RFC 1071 checksum with 64-bit accumulation: the one's complement sum is
// independent of byte order (RFC 1071 §2(B)), so words are added in native
// order, carries folded back in at the end (RFC 1071 §2(A)), and the
// folded result is swapped once.
#include "dataplane/net/checksum.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  uint64_t sum = 0;
#if defined(__SSE2__)
  // 16-bit words zero-extended into 32-bit lanes, 32 octets a round into
  // four independent accumulators. Below 2^14 rounds a lane stays under
  // 2^30, so the four still add up in 32 bits before meeting the 64-bit sum.
  const __m128i zero = _mm_setzero_si128();
  auto widen = [&](__m128i a) {  // four 32-bit lanes, added as 64-bit
    const __m128i w = _mm_add_epi64(_mm_unpacklo_epi32(a, zero), _mm_unpackhi_epi32(a, zero));
    return uint64_t(_mm_cvtsi128_si64(w)) + uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(w, w)));
  };
  while (len >= 16) {
    __m128i acc[4] = {zero, zero, zero, zero};
    for (size_t rounds = 0; len >= 32 && rounds < 0x3fff; ++rounds, p += 32, len -= 32) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      acc[0] = _mm_add_epi32(acc[0], _mm_unpacklo_epi16(x, zero));
      acc[1] = _mm_add_epi32(acc[1], _mm_unpackhi_epi16(x, zero));
      acc[2] = _mm_add_epi32(acc[2], _mm_unpacklo_epi16(y, zero));
      acc[3] = _mm_add_epi32(acc[3], _mm_unpackhi_epi16(y, zero));
    }
    if (len >= 16 && len < 32) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      acc[0] = _mm_add_epi32(acc[0], _mm_unpacklo_epi16(x, zero));
      acc[1] = _mm_add_epi32(acc[1], _mm_unpackhi_epi16(x, zero));
      p += 16;
      len -= 16;
    }
    sum += widen(_mm_add_epi32(_mm_add_epi32(acc[0], acc[1]), _mm_add_epi32(acc[2], acc[3])));
  }
#endif
  // 32-bit words into a 64-bit sum: 2^32 words fit before it could carry out.
  for (; len >= 4; p += 4, len -= 4) sum += load_native<uint32_t>(p);
  if (len >= 2) {
    sum += load_native<uint16_t>(p);
    p += 2;
    len -= 2;
  }
  if (len) {
    // The odd octet is the high half of a big-endian word padded with zero.
    const uint8_t pad[2] = {p[0], 0};
    sum += load_native<uint16_t>(pad);
  }
  return sum;
}

uint16_t checksum_add(const uint8_t* p, size_t len, uint32_t sum) {
  uint16_t s16 = checksum_fold64(checksum_partial(p, len));
  if constexpr (std::endian::native == std::endian::little) s16 = __builtin_bswap16(s16);
  return checksum_fold(sum + s16);
}

}  // namespace vox::dataplane::net
