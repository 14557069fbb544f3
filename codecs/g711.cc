// G.711 µ-law / A-law. Decoding is a 256-entry table; encoding a 16K-entry
// table indexed by the 14-bit (µ-law) / 13-bit (A-law) magnitude, both
// built once at start-up from the segment definitions of ITU-T G.711.
#include "codecs/g711.h"

#include <array>

namespace vox::codecs {

namespace {

constexpr int kUlawBias = 0x84;  // G.711 µ-law bias (132)

constexpr int16_t ulaw_decode_formula(uint8_t u) {
  u = uint8_t(~u);
  int t = ((u & 0x0f) << 3) + kUlawBias;
  t <<= (u & 0x70) >> 4;
  return int16_t((u & 0x80) ? (kUlawBias - t) : (t - kUlawBias));
}

constexpr int16_t alaw_decode_formula(uint8_t a) {
  a ^= 0x55;
  int t = (a & 0x0f) << 4;
  int seg = (a & 0x70) >> 4;
  if (seg == 0) t += 8;
  else if (seg == 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return int16_t((a & 0x80) ? t : -t);
}

constexpr uint8_t ulaw_encode_formula(int pcm) {
  // pcm: 16-bit linear. Clip to the µ-law range, add bias, find segment.
  int mask = 0xff;
  if (pcm < 0) {
    // One's complement, as in the ITU-T G.191 reference coder: the quantizer
    // is symmetric about -0.5, so -1 encodes as (negative) zero, not -8.
    pcm = -pcm - 1;
    mask = 0x7f;
  }
  if (pcm > 32635) pcm = 32635;
  pcm += kUlawBias;
  int seg = 7;
  for (int v = 0x4000; !(pcm & v) && seg > 0; v >>= 1) --seg;
  uint8_t u = uint8_t((seg << 4) | ((pcm >> (seg + 3)) & 0x0f));
  return uint8_t(u ^ mask);
}

constexpr uint8_t alaw_encode_formula(int pcm) {
  int mask = 0xd5;  // sign bit set (positive) with even-bit inversion
  if (pcm < 0) {
    pcm = -pcm - 1;
    mask = 0x55;
  }
  if (pcm > 32767) pcm = 32767;
  int seg = 0;
  for (int v = pcm >> 8; v > 0; v >>= 1) ++seg;
  if (seg > 7) seg = 7;
  uint8_t a = uint8_t(seg << 4);
  a |= (seg < 2) ? uint8_t((pcm >> 4) & 0x0f) : uint8_t((pcm >> (seg + 3)) & 0x0f);
  return uint8_t(a ^ mask);
}

struct Tables {
  std::array<int16_t, 256> ulaw_dec{};
  std::array<int16_t, 256> alaw_dec{};
  std::array<uint8_t, 16384> ulaw_enc{};  // indexed by pcm >> 2 (14 bits, signed offset)
  std::array<uint8_t, 8192> alaw_enc{};   // indexed by pcm >> 3 (13 bits, signed offset)
  Tables() {
    for (int i = 0; i < 256; ++i) {
      ulaw_dec[i] = ulaw_decode_formula(uint8_t(i));
      alaw_dec[i] = alaw_decode_formula(uint8_t(i));
    }
    for (int i = 0; i < 16384; ++i) ulaw_enc[i] = ulaw_encode_formula((i - 8192) << 2);
    for (int i = 0; i < 8192; ++i) alaw_enc[i] = alaw_encode_formula((i - 4096) << 3);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

int16_t ulaw_to_linear(uint8_t u) { return tables().ulaw_dec[u]; }
int16_t alaw_to_linear(uint8_t a) { return tables().alaw_dec[a]; }
uint8_t linear_to_ulaw(int16_t pcm) { return tables().ulaw_enc[(pcm >> 2) + 8192]; }
uint8_t linear_to_alaw(int16_t pcm) { return tables().alaw_enc[(pcm >> 3) + 4096]; }

void ulaw_decode(const uint8_t* in, int16_t* out, size_t n) {
  const auto& t = tables().ulaw_dec;
  for (size_t i = 0; i < n; ++i) out[i] = t[in[i]];
}
void alaw_decode(const uint8_t* in, int16_t* out, size_t n) {
  const auto& t = tables().alaw_dec;
  for (size_t i = 0; i < n; ++i) out[i] = t[in[i]];
}
void ulaw_encode(const int16_t* in, uint8_t* out, size_t n) {
  const auto& t = tables().ulaw_enc;
  for (size_t i = 0; i < n; ++i) out[i] = t[(in[i] >> 2) + 8192];
}
void alaw_encode(const int16_t* in, uint8_t* out, size_t n) {
  const auto& t = tables().alaw_enc;
  for (size_t i = 0; i < n; ++i) out[i] = t[(in[i] >> 3) + 4096];
}

}  // namespace vox::codecs
