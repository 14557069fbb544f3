// Tests for codecs/g711.h against ITU-T G.711: table values from the
// Recommendation, the ITU-T G.191 software tool library reference coder
// (re-expressed below), the digital milliwatt, monotonicity and error bounds.
#include "codecs/g711.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numbers>
#include <vector>

namespace vox::codecs {
namespace {

// --- ITU-T G.191 STL g711.c reference, one sample at a time -----------------
// Negative inputs use the one's complement (~x), which is what makes the
// quantizer symmetric about -0.5 as G.711 intends.
uint8_t ref_ulaw_compress(int16_t x) {
  int absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33;
  if (absno > 0x1fff) absno = 0x1fff;
  int segno = 1;
  for (int i = absno >> 6; i != 0; i >>= 1) ++segno;
  const int high = 8 - segno;
  const int low = 0x0f - ((absno >> segno) & 0x0f);
  int out = (high << 4) | low;
  if (x >= 0) out |= 0x80;
  return uint8_t(out);
}
int16_t ref_ulaw_expand(uint8_t u) {
  const int sign = u < 0x80 ? -1 : 1;
  const int m = ~u;
  const int exponent = (m >> 4) & 7;
  const int step = 4 << (exponent + 1);
  return int16_t(sign * ((0x80 << exponent) + step * (m & 0x0f) + step / 2 - 4 * 33));
}
uint8_t ref_alaw_compress(int16_t x) {
  int ix = x < 0 ? (~x) >> 4 : x >> 4;
  if (ix > 15) {
    int iexp = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      ++iexp;
    }
    ix -= 16;
    ix += iexp << 4;
  }
  if (x >= 0) ix |= 0x80;
  return uint8_t(ix ^ 0x55);
}
int16_t ref_alaw_expand(uint8_t a) {
  int ix = (a ^ 0x55) & 0x7f;
  const int iexp = ix >> 4;
  int mant = ix & 0x0f;
  if (iexp > 0) mant += 16;
  mant = (mant << 4) + 8;
  if (iexp > 1) mant <<= (iexp - 1);
  return int16_t(a > 127 ? mant : -mant);
}

// Quantization step (16-bit scale) of the segment a code belongs to.
int ulaw_step(uint8_t u) { return 8 << ((~u >> 4) & 7); }
int alaw_step(uint8_t a) {
  const int seg = ((a ^ 0x55) >> 4) & 7;
  return seg == 0 ? 16 : 16 << (seg - 1);
}

TEST(G711, UlawKnownValues) {
  EXPECT_EQ(ulaw_to_linear(0xff), 0);
  EXPECT_EQ(ulaw_to_linear(0x7f), 0);  // "negative zero"
  EXPECT_EQ(ulaw_to_linear(0x00), -32124);
  EXPECT_EQ(ulaw_to_linear(0x80), 32124);
  EXPECT_EQ(ulaw_to_linear(0xfe), 8);
  EXPECT_EQ(ulaw_to_linear(0x7e), -8);
  EXPECT_EQ(ulaw_to_linear(0xef), 132);  // first value of segment 1
  EXPECT_EQ(linear_to_ulaw(0), 0xff);
  EXPECT_EQ(linear_to_ulaw(32767), 0x80);
  EXPECT_EQ(linear_to_ulaw(-32768), 0x00);
}

TEST(G711, AlawKnownValues) {
  EXPECT_EQ(alaw_to_linear(0xd5), 8);
  EXPECT_EQ(alaw_to_linear(0x55), -8);
  EXPECT_EQ(alaw_to_linear(0xaa), 32256);
  EXPECT_EQ(alaw_to_linear(0x2a), -32256);
  EXPECT_EQ(linear_to_alaw(0), 0xd5);
  EXPECT_EQ(linear_to_alaw(-1), 0x55);
  EXPECT_EQ(linear_to_alaw(32767), 0xaa);
  EXPECT_EQ(linear_to_alaw(-32768), 0x2a);
}

TEST(G711, DecodeMatchesG191ForAllCodes) {
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(ulaw_to_linear(uint8_t(c)), ref_ulaw_expand(uint8_t(c))) << c;
    EXPECT_EQ(alaw_to_linear(uint8_t(c)), ref_alaw_expand(uint8_t(c))) << c;
  }
}

TEST(G711, EncodeMatchesG191ForAllInputs) {
  for (int x = -32768; x <= 32767; ++x) {
    ASSERT_EQ(linear_to_ulaw(int16_t(x)), ref_ulaw_compress(int16_t(x))) << x;
    ASSERT_EQ(linear_to_alaw(int16_t(x)), ref_alaw_compress(int16_t(x))) << x;
  }
}

TEST(G711, DecodeIsMonotonic) {
  // µ-law: 0x00..0x7f rise from -32124 to 0; 0x80..0xff fall from 32124 to 0.
  for (int c = 1; c < 128; ++c) {
    EXPECT_LT(ulaw_to_linear(uint8_t(c - 1)), ulaw_to_linear(uint8_t(c))) << c;
    EXPECT_GT(ulaw_to_linear(uint8_t(0x80 + c - 1)), ulaw_to_linear(uint8_t(0x80 + c))) << c;
  }
  // A-law: magnitude rises with (code ^ 0x55) & 0x7f; sign bit set = positive.
  for (int m = 1; m < 128; ++m) {
    EXPECT_LT(alaw_to_linear(uint8_t((0x80 | (m - 1)) ^ 0x55)), alaw_to_linear(uint8_t((0x80 | m) ^ 0x55)));
    EXPECT_GT(alaw_to_linear(uint8_t((m - 1) ^ 0x55)), alaw_to_linear(uint8_t(m ^ 0x55)));
  }
}

TEST(G711, EncodeOfDecodeIsIdentity) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t u = uint8_t(c);
    // 0x7f and 0xff both decode to 0, which encodes as +0 (0xff).
    const uint8_t want_u = u == 0x7f ? 0xff : u;
    EXPECT_EQ(linear_to_ulaw(ulaw_to_linear(u)), want_u) << c;
    EXPECT_EQ(linear_to_alaw(alaw_to_linear(u)), u) << c;
  }
}

TEST(G711, RoundTripErrorBoundedForAll16BitInputs) {
  int prev_u = -32768, prev_a = -32768;
  for (int x = -32768; x <= 32767; ++x) {
    const uint8_t u = linear_to_ulaw(int16_t(x));
    const uint8_t a = linear_to_alaw(int16_t(x));
    const int yu = ulaw_to_linear(u);
    const int ya = alaw_to_linear(a);
    // Beyond the outermost decision level the coder saturates at the
    // largest code; inside, the error is at most half a step of the segment
    // the value was quantized into.
    if (std::abs(x) >= 32124) {
      EXPECT_EQ(std::abs(yu), 32124) << x;
    } else {
      ASSERT_LE(std::abs(yu - x), ulaw_step(u) / 2) << "ulaw x=" << x << " y=" << yu;
    }
    if (x >= 32256 || x < -32256) {
      EXPECT_EQ(std::abs(ya), 32256) << x;
    } else {
      ASSERT_LE(std::abs(ya - x), alaw_step(a) / 2) << "alaw x=" << x << " y=" << ya;
    }
    // Non-decreasing: a larger input never decodes to a smaller value.
    ASSERT_GE(yu, prev_u) << x;
    ASSERT_GE(ya, prev_a) << x;
    prev_u = yu;
    prev_a = ya;
  }
}

// ITU-T G.711 Table 5: the µ-law "digital milliwatt", 1 kHz at 0 dBm0 as an
// 8-sample sequence repeated.
TEST(G711, UlawDigitalMilliwatt) {
  const uint8_t dmw[8] = {0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e};
  int16_t pcm[8];
  ulaw_decode(dmw, pcm, 8);
  const int16_t want[8] = {-8828, -20860, -20860, -8828, 8828, 20860, 20860, 8828};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(pcm[i], want[i]) << i;
  // And an ideal 0 dBm0 1 kHz sine (phase pi/8) encodes back to the sequence.
  // +3.17 dBm0 is the sine whose peak reaches the µ-law overload point,
  // 8159 in G.711's 14-bit scale = 32636 here.
  const double amplitude = 32636.0 / std::pow(10.0, 3.17 / 20.0);
  int16_t sine[8];
  for (int i = 0; i < 8; ++i)
    sine[i] = int16_t(std::lround(-amplitude * std::sin(2 * std::numbers::pi * (i + 0.5) / 8)));
  uint8_t out[8];
  ulaw_encode(sine, out, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], dmw[i]) << i << " sample " << sine[i];
}

TEST(G711, FrameFunctionsMatchSampleFunctions) {
  std::vector<int16_t> in(160);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int16_t(int(i * 409) - 32768);
  std::vector<uint8_t> u(160), a(160);
  ulaw_encode(in.data(), u.data(), in.size());
  alaw_encode(in.data(), a.data(), in.size());
  std::vector<int16_t> du(160), da(160);
  ulaw_decode(u.data(), du.data(), u.size());
  alaw_decode(a.data(), da.data(), a.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(u[i], linear_to_ulaw(in[i]));
    EXPECT_EQ(a[i], linear_to_alaw(in[i]));
    EXPECT_EQ(du[i], ulaw_to_linear(u[i]));
    EXPECT_EQ(da[i], alaw_to_linear(a[i]));
  }
}

}  // namespace
}  // namespace vox::codecs
