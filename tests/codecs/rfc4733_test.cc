// Tests for codecs/rfc4733.h: the RFC 4733 §2.3 event block against
// hand-checked bytes, the §3.2 DTMF table, clock rescaling between 8 kHz and
// 48 kHz (RFC 7587) with 32-bit wraparound, and long-event segments.
#include "codecs/rfc4733.h"

#include <gtest/gtest.h>

namespace vox::codecs {
namespace {

TEST(Rfc4733, ParsesEventBlock) {
  // Digit 5, E=1, R=0, volume 10, duration 800 (100 ms at 8 kHz).
  const uint8_t p[] = {0x05, 0x8a, 0x03, 0x20};
  auto e = parse_telephone_event(p, sizeof(p));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->event, 5);
  EXPECT_TRUE(e->end);
  EXPECT_EQ(e->volume, 10);
  EXPECT_EQ(e->duration, 800);
}

TEST(Rfc4733, IgnoresReservedBitAndRejectsShortPayload) {
  const uint8_t p[] = {0x0b, 0x4f, 0xff, 0xff};  // '#', E=0, R=1, volume 15, max duration
  auto e = parse_telephone_event(p, sizeof(p));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->event, 11);
  EXPECT_FALSE(e->end);
  EXPECT_EQ(e->volume, 15);
  EXPECT_EQ(e->duration, 0xffff);
  auto bad = parse_telephone_event(p, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), TelephoneEventError::kTooShort);
}

TEST(Rfc4733, BuildsEventBlock) {
  uint8_t out[4];
  ASSERT_EQ(build_telephone_event({9, true, 7, 0x1234}, out, sizeof(out)), 4u);
  EXPECT_EQ(out[0], 0x09);
  EXPECT_EQ(out[1], 0x87);
  EXPECT_EQ(out[2], 0x12);
  EXPECT_EQ(out[3], 0x34);
  // Volume is 6 bits: clamped, never spilling into R or E.
  ASSERT_EQ(build_telephone_event({1, false, 200, 0}, out, sizeof(out)), 4u);
  EXPECT_EQ(out[1], 0x3f);
  EXPECT_EQ(build_telephone_event({1, false, 0, 0}, out, 3), 0u);
}

TEST(Rfc4733, RoundTripsEveryEventCode) {
  for (int ev = 0; ev < 256; ev += 7) {
    uint8_t out[4];
    const TelephoneEvent in{uint8_t(ev), (ev & 1) != 0, uint8_t(ev % 64), uint16_t(ev * 257)};
    ASSERT_EQ(build_telephone_event(in, out, 4), 4u);
    auto e = parse_telephone_event(out, 4);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->event, in.event);
    EXPECT_EQ(e->end, in.end);
    EXPECT_EQ(e->volume, in.volume);
    EXPECT_EQ(e->duration, in.duration);
  }
}

TEST(Rfc4733, DtmfEventTable) {
  const char* digits = "0123456789*#ABCD";
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(dtmf_event_for_digit(digits[i]), i);
    EXPECT_EQ(dtmf_digit_for_event(uint8_t(i)), digits[i]);
  }
  EXPECT_EQ(dtmf_event_for_digit('c'), 14);
  EXPECT_EQ(dtmf_event_for_digit('x'), -1);
  EXPECT_EQ(dtmf_digit_for_event(16), '\0');  // flash: not a DTMF digit
}

TEST(Rfc4733, RescalesBetweenNarrowbandAndOpusClocks) {
  EXPECT_EQ(rescale_clock(800, 8000, 48000), 4800);
  EXPECT_EQ(rescale_clock(4800, 48000, 8000), 800);
  EXPECT_EQ(rescale_clock(5, 48000, 8000), 1);  // 0.83 rounds to 1
  EXPECT_EQ(rescale_clock(2, 48000, 8000), 0);  // 0.33 rounds to 0
  EXPECT_EQ(rescale_clock(-160, 8000, 48000), -960);
  EXPECT_EQ(rescale_clock(-5, 48000, 8000), -1);
  EXPECT_EQ(rescale_clock(123, 8000, 8000), 123);
}

TEST(Rfc4733, ConvertsTimestampsAcrossWraparound) {
  // 160 units (20 ms) after an 8 kHz reference just below 2^32, mapped onto
  // a 48 kHz clock whose reference is also about to wrap.
  EXPECT_EQ(convert_timestamp(0x00000060u, 0xffffffc0u, 0xfffffe00u, 8000, 48000),
            0xfffffe00u + 960u);
  EXPECT_EQ(convert_timestamp(0xffffffc0u - 160, 0xffffffc0u, 100, 8000, 48000),
            uint32_t(100 - 960));
  EXPECT_EQ(convert_timestamp(12000, 6000, 1000, 48000, 8000), 2000u);
}

TEST(Rfc4733, LongEventSegments) {
  auto s = event_segment(1000, 0);
  EXPECT_EQ(s.index, 0u);
  EXPECT_EQ(s.duration, 0);
  s = event_segment(1000, 0xffff);
  EXPECT_EQ(s.index, 0u);
  EXPECT_EQ(s.timestamp, 1000u);
  EXPECT_EQ(s.duration, 0xffff);
  s = event_segment(1000, 0xffff + 960);
  EXPECT_EQ(s.index, 1u);
  EXPECT_EQ(s.timestamp, 1000u + 0xffff);
  EXPECT_EQ(s.duration, 960);
  s = event_segment(0xffffff00u, 3 * 0xffffull + 1);
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.timestamp, uint32_t(0xffffff00u + 3 * 0xffffu));
  EXPECT_EQ(s.duration, 1);
}

}  // namespace
}  // namespace vox::codecs
