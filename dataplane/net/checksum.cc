// RFC 1071 checksum with 64-bit accumulation: the one's complement sum is
// independent of byte order (RFC 1071 §2(B)), so words are added in native
// order, carries folded back in at the end (RFC 1071 §2(A)), and the
// folded result is swapped once.
#include "dataplane/net/checksum.h"

#include "base/bytes.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>

namespace vox::dataplane::net {

uint64_t checksum_partial(const uint8_t* p, size_t len) {
  uint64_t sum = 0;
#if defined(__SSE2__)
  // PMADDWD adds neighbouring 16-bit words into 32-bit lanes in one step,
  // but reads them as signed: each word is biased by -0x8000 first (XOR of
  // its top bit), so every 16-octet block takes 0x10000 off each lane, given
  // back in one add at the end. A lane's true sum is at most 0x1fffe per
  // block, under 2^31 for up to kRoundBlocks blocks, so the 32-bit lanes
  // hold it exactly (wrapping in between is harmless); then they meet the
  // 64-bit sum.
  constexpr size_t kRoundBlocks = 0x3ffc;
  const __m128i zero = _mm_setzero_si128();
  const __m128i bias = _mm_set1_epi16(int16_t(-0x8000));
  const __m128i ones = _mm_set1_epi16(1);
  auto block = [&](const uint8_t* q) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    return _mm_madd_epi16(_mm_xor_si128(x, bias), ones);
  };
  while (len >= 16) {
    const size_t blocks = std::min(len / 16, kRoundBlocks);
    len -= blocks * 16;
    // Four independent accumulators, 64 octets a step; then what is left
    // of the round (0 to 3 blocks) straight-line.
    __m128i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (size_t k = blocks / 4; k; --k, p += 64) {
      a0 = _mm_add_epi32(a0, block(p));
      a1 = _mm_add_epi32(a1, block(p + 16));
      a2 = _mm_add_epi32(a2, block(p + 32));
      a3 = _mm_add_epi32(a3, block(p + 48));
    }
    if (blocks & 2) {
      a0 = _mm_add_epi32(a0, block(p));
      a1 = _mm_add_epi32(a1, block(p + 16));
      p += 32;
    }
    if (blocks & 1) {
      a2 = _mm_add_epi32(a2, block(p));
      p += 16;
    }
    const __m128i a = _mm_add_epi32(_mm_add_epi32(_mm_add_epi32(a0, a1), _mm_add_epi32(a2, a3)),
                                    _mm_set1_epi32(int32_t(blocks << 16)));
    // Four 32-bit lanes, widened to 64 bits before they meet.
    const __m128i w = _mm_add_epi64(_mm_unpacklo_epi32(a, zero), _mm_unpackhi_epi32(a, zero));
    sum += uint64_t(_mm_cvtsi128_si64(w)) + uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(w, w)));
  }
  // Under 16 octets left: straight-line by the bits of len.
  if (len & 8) {
    sum += uint64_t(load_wire32(p)) + load_wire32(p + 4);
    p += 8;
  }
  if (len & 4) {
    sum += load_wire32(p);
    p += 4;
  }
#else
  // 32-bit words into a 64-bit sum: 2^32 words fit before it could carry out.
  for (; len >= 4; p += 4, len -= 4) sum += load_wire32(p);
#endif
  if (len & 2) {
    sum += load_wire16(p);
    p += 2;
  }
  if (len & 1) {
    // The odd octet is the high half of a big-endian word padded with zero.
    const uint8_t pad[2] = {p[0], 0};
    sum += load_wire16(pad);
  }
  return sum;
}

uint16_t checksum_add(const uint8_t* p, size_t len, uint32_t sum) {
  uint16_t s16 = checksum_fold64(checksum_partial(p, len));
  if constexpr (std::endian::native == std::endian::little) s16 = __builtin_bswap16(s16);
  return checksum_fold(sum + s16);
}

}  // namespace vox::dataplane::net
