// Tests for codecs/opus_codec.h: configuration checks, a narrowband round
// trip keeps a tone's frequency, PLC and FEC fill a lost frame (FEC closer
// to the real audio than PLC), the LBRR flag reader agrees with the encoder
// settings, LBRR follows the expected loss set at run time, DTX yields tiny
// packets on silence, 30 ms packets, state sizes.
#include "codecs/opus_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "audio_util.h"

namespace vox::codecs {
namespace {

using test::goertzel_power;
using test::mean_power;

std::vector<std::vector<uint8_t>> encode_all(NarrowbandOpusEncoder& enc,
                                             const std::vector<int16_t>& pcm, size_t frame) {
  std::vector<std::vector<uint8_t>> pkts;
  for (size_t off = 0; off + frame <= pcm.size(); off += frame) {
    std::vector<uint8_t> buf(kOpusMaxPacketBytes);
    auto n = enc.encode(pcm.data() + off, frame, buf.data(), buf.size());
    EXPECT_TRUE(n.ok());
    buf.resize(n.ok() ? *n : 0);
    pkts.push_back(std::move(buf));
  }
  return pkts;
}

TEST(OpusCodec, RejectsBadConfiguration) {
  OpusEncoderConfig c;
  c.complexity = 11;
  EXPECT_EQ(NarrowbandOpusEncoder::create(c).error(), OpusError::kBadArgument);
  c = {};
  c.bitrate = 1000;
  EXPECT_EQ(NarrowbandOpusEncoder::create(c).error(), OpusError::kBadArgument);
  c = {};
  c.packet_loss_percent = 101;
  EXPECT_EQ(NarrowbandOpusEncoder::create(c).error(), OpusError::kBadArgument);
  auto enc = NarrowbandOpusEncoder::create({});
  ASSERT_TRUE(enc.ok());
  int16_t pcm[100] = {};
  uint8_t out[100];
  EXPECT_EQ(enc->encode(pcm, 100, out, sizeof(out)).error(), OpusError::kBadArgument);  // 12.5 ms
  EXPECT_TRUE(enc->set_complexity(9).ok());
  EXPECT_FALSE(enc->set_complexity(42).ok());
  EXPECT_TRUE(enc->set_bitrate(16000).ok());
  EXPECT_TRUE(enc->set_packet_loss_percent(5).ok());
  EXPECT_FALSE(enc->set_packet_loss_percent(101).ok());
}

TEST(OpusCodec, NarrowbandRoundTripKeepsATone) {
  auto enc = NarrowbandOpusEncoder::create({});
  auto dec = NarrowbandOpusDecoder::create();
  ASSERT_TRUE(enc.ok() && dec.ok());
  const auto sig = test::tone(1000, 8000, 8000);
  std::vector<int16_t> out;
  size_t bytes = 0;
  const auto pkts = encode_all(*enc, sig, 160);
  for (const auto& p : pkts) {
    bytes += p.size();
    auto samples = opus_packet_samples(p.data(), p.size(), 8000);
    ASSERT_TRUE(samples.ok());
    EXPECT_EQ(*samples, 160u);
    EXPECT_EQ(*opus_packet_samples(p.data(), p.size(), 48000), 960u);
    int16_t pcm[960];
    auto n = dec->decode(p.data(), p.size(), pcm, 960);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 160u);
    out.insert(out.end(), pcm, pcm + 160);
  }
  // VBR: a steady tone needs less than the 24 kbit/s (60 octets per 20 ms)
  // allowed, and never much more.
  EXPECT_LT(double(bytes) / double(pkts.size()), 60.0 * 1.2);
  // Skip the codec's start-up; the rest is a 1 kHz tone at about the same level.
  const int16_t* x = out.data() + 1600;
  const size_t n = out.size() - 1600;
  const double p = mean_power(x, n);
  EXPECT_NEAR(std::sqrt(2 * p), 8000, 1600);
  EXPECT_GT(goertzel_power(x, n, 1000), 0.9 * p);
}

TEST(OpusCodec, BitrateSetsThePacketSize) {
  const auto speech = test::speech_like(8000 * 2, 5);
  double avg[2];
  const int32_t rates[2] = {12000, 32000};
  for (int i = 0; i < 2; ++i) {
    OpusEncoderConfig c;
    c.bitrate = rates[i];
    auto enc = NarrowbandOpusEncoder::create(c);
    size_t bytes = 0;
    const auto pkts = encode_all(*enc, speech, 160);
    for (const auto& p : pkts) bytes += p.size();
    avg[i] = double(bytes) / double(pkts.size());
    EXPECT_LT(avg[i], rates[i] / 8.0 / 50.0 * 1.2) << rates[i];
  }
  EXPECT_GT(avg[1], 1.5 * avg[0]);
}

TEST(OpusCodec, InvalidPacketsAreErrors) {
  auto dec = NarrowbandOpusDecoder::create();
  ASSERT_TRUE(dec.ok());
  int16_t pcm[960];
  // Code 3 (TOC c=3) needs a frame count octet; M = 0 is invalid (RFC 6716 §3.2.5).
  const uint8_t bad[] = {0x0b, 0x00};
  auto r = dec->decode(bad, sizeof(bad), pcm, 960);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), OpusError::kInvalidPacket);
  auto s = opus_packet_samples(bad, sizeof(bad), 8000);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), OpusError::kInvalidPacket);
  auto z = dec->decode(bad, 0, pcm, 960);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error(), OpusError::kInvalidPacket);
  EXPECT_FALSE(opus_packet_has_fec(bad, sizeof(bad)));
}

// Decodes speech with packet `lost` missing, concealed either by PLC or by
// FEC from the following packet; returns the error against the clean decode
// over the lost frame.
double concealment_error(bool use_fec, size_t lost, const std::vector<std::vector<uint8_t>>& pkts) {
  auto clean = NarrowbandOpusDecoder::create();
  auto lossy = NarrowbandOpusDecoder::create();
  double err = 0;
  int16_t a[960], b[960];
  for (size_t i = 0; i < pkts.size(); ++i) {
    EXPECT_TRUE(clean->decode(pkts[i].data(), pkts[i].size(), a, 960).ok());
    if (i == lost) {
      if (use_fec)
        EXPECT_EQ(*lossy->decode_fec(pkts[i + 1].data(), pkts[i + 1].size(), b, 160), 160u);
      else
        EXPECT_EQ(*lossy->conceal(b, 160), 160u);
      for (int k = 0; k < 160; ++k) err += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
    } else {
      EXPECT_TRUE(lossy->decode(pkts[i].data(), pkts[i].size(), b, 960).ok());
    }
  }
  return err;
}

TEST(OpusCodec, FecBeatsPlcOnALostSpeechFrame) {
  OpusEncoderConfig c;
  c.fec = true;
  c.packet_loss_percent = 10;  // no LBRR without an expected loss
  auto enc = NarrowbandOpusEncoder::create(c);
  ASSERT_TRUE(enc.ok());
  const auto pkts = encode_all(*enc, test::speech_like(8000 * 2, 3), 160);
  double plc = 0, fec = 0;
  for (size_t lost : {20u, 33u, 47u, 61u, 80u}) {
    plc += concealment_error(false, lost, pkts);
    fec += concealment_error(true, lost, pkts);
  }
  EXPECT_LT(fec, 0.5 * plc);
}

// opus_packet_has_fec() against libopus itself: decoding FEC from a packet
// without LBRR falls back to exactly the PLC output, and with LBRR does not.
TEST(OpusCodec, FecFlagAgreesWithTheDecoder) {
  OpusEncoderConfig c;
  c.fec = true;
  c.packet_loss_percent = 10;
  auto enc = NarrowbandOpusEncoder::create(c);
  const auto pkts = encode_all(*enc, test::speech_like(8000 * 2, 3), 160);
  size_t flagged = 0;
  for (size_t lost = 1; lost + 1 < pkts.size(); ++lost) {
    auto a = NarrowbandOpusDecoder::create();
    auto b = NarrowbandOpusDecoder::create();
    int16_t x[960], y[960];
    for (size_t i = 0; i < lost; ++i) {
      ASSERT_TRUE(a->decode(pkts[i].data(), pkts[i].size(), x, 960).ok());
      ASSERT_TRUE(b->decode(pkts[i].data(), pkts[i].size(), y, 960).ok());
    }
    ASSERT_TRUE(a->decode_fec(pkts[lost + 1].data(), pkts[lost + 1].size(), x, 160).ok());
    ASSERT_TRUE(b->conceal(y, 160).ok());
    const bool flag = opus_packet_has_fec(pkts[lost + 1].data(), pkts[lost + 1].size());
    flagged += flag;
    EXPECT_EQ(flag, !std::equal(x, x + 160, y)) << "packet " << lost + 1;
  }
  // LBRR rides on frames the encoder's VAD calls speech: most, not all.
  EXPECT_GT(flagged, (pkts.size() - 2) / 2);

  auto plain = NarrowbandOpusEncoder::create({});
  for (const auto& p : encode_all(*plain, test::speech_like(8000, 3), 160))
    EXPECT_FALSE(opus_packet_has_fec(p.data(), p.size()));
}

// libopus adds LBRR only while told to expect loss, and the hint can change
// between packets; a packet's LBRR protects the frame before it, so each
// change shows one packet late.
TEST(OpusCodec, LbrrFollowsTheExpectedLossSetAtRunTime) {
  OpusEncoderConfig c;
  c.fec = true;
  auto enc = NarrowbandOpusEncoder::create(c);
  ASSERT_TRUE(enc.ok());
  const auto pcm = test::speech_like(160 * 150, 4);
  std::vector<bool> lbrr;
  for (size_t i = 0; i < 150; ++i) {
    if (i == 50 || i == 100) {
      ASSERT_TRUE(enc->set_packet_loss_percent(i == 50 ? 10 : 0).ok());
    }
    uint8_t buf[kOpusMaxPacketBytes];
    auto n = enc->encode(pcm.data() + 160 * i, 160, buf, sizeof(buf));
    ASSERT_TRUE(n.ok());
    lbrr.push_back(opus_packet_has_fec(buf, *n));
  }
  auto count = [&](size_t from, size_t to) {
    return std::count(lbrr.begin() + long(from), lbrr.begin() + long(to), true);
  };
  EXPECT_EQ(count(0, 50), 0);
  EXPECT_GT(count(51, 100), 30);
  EXPECT_EQ(count(101, 150), 0);
}

TEST(OpusCodec, PlcProducesAudioThenFades) {
  auto enc = NarrowbandOpusEncoder::create({});
  auto dec = NarrowbandOpusDecoder::create();
  const auto pkts = encode_all(*enc, test::tone(440, 8000, 8000), 160);
  int16_t pcm[960];
  for (const auto& p : pkts) ASSERT_TRUE(dec->decode(p.data(), p.size(), pcm, 960).ok());
  ASSERT_EQ(*dec->conceal(pcm, 160), 160u);
  const double first = mean_power(pcm, 160);
  EXPECT_GT(first, 1e5);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(*dec->conceal(pcm, 160), 160u);
  EXPECT_LT(mean_power(pcm, 160), 0.01 * first);
}

TEST(OpusCodec, DtxSendsTinyPacketsOnSilence) {
  OpusEncoderConfig c;
  c.dtx = true;
  auto enc = NarrowbandOpusEncoder::create(c);
  std::vector<int16_t> silence(8000, 0);
  const auto pkts = encode_all(*enc, silence, 160);
  size_t tiny = 0;
  for (const auto& p : pkts) tiny += p.size() <= 2;
  EXPECT_GT(tiny, pkts.size() / 2);
  // A DTX packet still decodes (to comfort noise / silence) for its duration.
  auto dec = NarrowbandOpusDecoder::create();
  int16_t pcm[960];
  for (const auto& p : pkts) EXPECT_EQ(*dec->decode(p.data(), p.size(), pcm, 960), 160u);
}

TEST(OpusCodec, ThirtyMillisecondPacketsCarryThreeFrames) {
  auto enc = NarrowbandOpusEncoder::create({});
  auto dec = NarrowbandOpusDecoder::create();
  const auto pkts = encode_all(*enc, test::tone(1000, 8000, 2400), 240);
  ASSERT_EQ(pkts.size(), 10u);
  for (const auto& p : pkts) {
    EXPECT_EQ(p[0] & 0x03, 3);  // TOC code 3: arbitrary frame count (RFC 6716 §3.2.5)
    EXPECT_EQ(*opus_packet_samples(p.data(), p.size(), 8000), 240u);
    int16_t pcm[960];
    EXPECT_EQ(*dec->decode(p.data(), p.size(), pcm, 960), 240u);
  }
}

TEST(OpusCodec, StateSizes) {
  // libopus 1.3.1 mono: 43572 + 18228 = 61.8 KB (TARGETS.md).
  EXPECT_GT(NarrowbandOpusEncoder::state_size(), 30000u);
  EXPECT_LT(NarrowbandOpusEncoder::state_size(), 50000u);
  EXPECT_GT(NarrowbandOpusDecoder::state_size(), 10000u);
  EXPECT_LT(NarrowbandOpusDecoder::state_size(), 25000u);
  auto a = NarrowbandOpusEncoder::create({});
  NarrowbandOpusEncoder b = std::move(a).value();  // moves keep one owner
  int16_t pcm[160] = {};
  uint8_t out[200];
  EXPECT_TRUE(b.encode(pcm, 160, out, sizeof(out)).ok());
}

}  // namespace
}  // namespace vox::codecs
