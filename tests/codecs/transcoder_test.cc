// Tests for codecs/transcoder.h, the RTP bookkeeping: one output per input
// without added delay, continuous sequence numbers and timestamps across
// loss, reordering, duplicates, SSRC changes, sequence/timestamp restarts and
// 16/32-bit wraparound, talkspurt markers, repacketization, DTX and CN, the
// drop counters, and the memory of a transcoded call.
#include "codecs/transcoder.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "audio_util.h"

namespace vox::codecs {
namespace {

using test::Harness;
using test::make;
using test::Sender;
using test::Sent;

constexpr uint32_t kOutSsrc = 0xabcdef01;

TranscoderConfig pcmu_to_opus() { return test::direction(AudioCodec::kPcmu, kOutSsrc, 100, 1000); }
TranscoderConfig opus_to_pcmu() { return test::direction(AudioCodec::kOpus, kOutSsrc, 7, 0); }

// 20 ms PCMU frames of speech-like audio.
std::vector<std::vector<uint8_t>> pcmu_frames(size_t n, uint32_t seed = 1, size_t frame = 160) {
  const auto pcm = test::speech_like(n * frame, seed);
  std::vector<std::vector<uint8_t>> v;
  for (size_t i = 0; i < n; ++i) v.push_back(test::ulaw(std::span(pcm).subspan(i * frame, frame)));
  return v;
}

std::vector<std::vector<uint8_t>> opus_frames(const std::vector<int16_t>& pcm,
                                              OpusEncoderConfig c = {}) {
  auto enc = NarrowbandOpusEncoder::create(c);
  std::vector<std::vector<uint8_t>> v;
  for (size_t off = 0; off + 160 <= pcm.size(); off += 160) {
    std::vector<uint8_t> b(kOpusMaxPacketBytes);
    b.resize(*enc->encode(pcm.data() + off, 160, b.data(), b.size()));
    v.push_back(std::move(b));
  }
  return v;
}

// Output audio continuity: each packet's seq follows the previous one and
// its timestamp is `step` later (or a multiple of it if gaps are allowed).
void expect_continuous(const std::vector<Sent>& out, uint32_t step) {
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_EQ(uint16_t(out[i].seq - out[i - 1].seq), 1) << i;
    EXPECT_EQ(out[i].timestamp - out[i - 1].timestamp, step) << i;
  }
}

// The payloads of `out`, end to end (the audio G.711 carried).
std::vector<uint8_t> joined_payloads(const std::vector<Sent>& out) {
  std::vector<uint8_t> all;
  for (const auto& o : out) all.insert(all.end(), o.payload.begin(), o.payload.end());
  return all;
}

TEST(Transcoder, RejectsBadConfiguration) {
  auto c = pcmu_to_opus();
  c.out_ptime_ms = 25;  // not an Opus frame size
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kBadPtime);
  c.out_codec = AudioCodec::kPcma;  // G.711 takes any whole ms from 10 to 60
  EXPECT_TRUE(Transcoder::create(c).ok());
  c.out_ptime_ms = 61;
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kBadPtime);
  c.out_ptime_ms = 9;
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kBadPtime);
  c = pcmu_to_opus();
  c.in_pt = 200;
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kBadPayloadType);
  c = pcmu_to_opus();
  c.out_event_pt = 111;  // same as the audio payload type
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kBadPayloadType);
  c = pcmu_to_opus();
  c.opus.bitrate = 1000;
  EXPECT_EQ(Transcoder::create(c).error(), TranscoderError::kOpusInit);
}

TEST(Transcoder, EmitsEachFrameAsSoonAsItArrives) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(50);
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto out = h.feed(s.next(0, frames[i]));
    ASSERT_EQ(out.size(), 1u) << i;  // no buffering: the frame leaves with its input
    EXPECT_EQ(out[0].ssrc, kOutSsrc);
    EXPECT_EQ(out[0].payload_type, 111);
    EXPECT_EQ(out[0].seq, uint16_t(100 + i));
    EXPECT_EQ(out[0].timestamp, 1000u + 960u * uint32_t(i));  // RFC 7587: 48 kHz clock
    EXPECT_EQ(out[0].marker, i == 0);
    EXPECT_EQ(*opus_packet_samples(out[0].payload.data(), out[0].payload.size(), 8000), 160u);
  }
  EXPECT_EQ(t->counters().frames_decoded, 50u);
  EXPECT_EQ(t->counters().frames_encoded, 50u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
  EXPECT_EQ(t->next_seq(), 150);
}

TEST(Transcoder, OpusInputGivesEightKilohertzTimestamps) {
  auto t = make(opus_to_pcmu());
  Harness h(*t);
  Sender s;
  s.clock_per_frame = 960;
  const auto pkts = opus_frames(test::speech_like(8000));
  for (const auto& p : pkts) {
    const auto out = h.feed(s.next(111, p));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload.size(), 160u);
  }
  expect_continuous(h.all, 160);
  EXPECT_EQ(h.all[0].timestamp, 0u);
}

TEST(Transcoder, RepacketizesG711) {
  // PCMU 20 ms -> PCMA 60 ms: one output per three inputs, bit-exact A-law.
  TranscoderConfig c;
  c.in_codec = AudioCodec::kPcmu;
  c.out_codec = AudioCodec::kPcma;
  c.out_pt = 8;
  c.out_ptime_ms = 60;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(9);
  std::vector<uint8_t> want;
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto out = h.feed(s.next(0, frames[i]));
    EXPECT_EQ(out.size(), i % 3 == 2 ? 1u : 0u) << i;
    for (uint8_t u : frames[i]) want.push_back(linear_to_alaw(ulaw_to_linear(u)));
  }
  ASSERT_EQ(h.all.size(), 3u);
  expect_continuous(h.all, 480);
  EXPECT_EQ(joined_payloads(h.all), want);

  // PCMU 60 ms -> PCMU 20 ms: three outputs per input.
  c.out_codec = AudioCodec::kPcmu;
  c.out_pt = 0;
  c.in_ptime_ms = 60;
  c.out_ptime_ms = 20;
  auto t2 = make(c);
  Harness h2(*t2);
  Sender s2;
  s2.clock_per_frame = 480;
  const auto big = pcmu_frames(2, 4, 480);
  EXPECT_EQ(h2.feed(s2.next(0, big[0])).size(), 3u);
  EXPECT_EQ(h2.feed(s2.next(0, big[1])).size(), 3u);
  expect_continuous(h2.all, 160);
  std::vector<uint8_t> want2;
  for (size_t i = 160; i < 320; ++i) want2.push_back(linear_to_ulaw(ulaw_to_linear(big[1][i])));
  EXPECT_EQ(h2.all[4].payload, want2);
}

TEST(Transcoder, RepacketizesG711ToAnyWholeMillisecond) {
  // PCMU 20 ms -> PCMU 25 ms (NG ptime 25, which rtpengine takes): four
  // outputs of 200 samples per five inputs of 160, the audio unchanged.
  TranscoderConfig c;
  c.in_codec = AudioCodec::kPcmu;
  c.out_codec = AudioCodec::kPcmu;
  c.out_pt = 0;
  c.out_ptime_ms = 25;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(5);
  std::vector<uint8_t> want;
  for (const auto& f : frames) {
    h.feed(s.next(0, f));
    for (uint8_t u : f) want.push_back(linear_to_ulaw(ulaw_to_linear(u)));
  }
  ASSERT_EQ(h.all.size(), 4u);
  expect_continuous(h.all, 200);
  EXPECT_EQ(joined_payloads(h.all), want);
}

TEST(Transcoder, RepacketizesToThirtyMillisecondOpus) {
  auto c = pcmu_to_opus();
  c.out_ptime_ms = 30;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  for (const auto& f : pcmu_frames(30)) h.feed(s.next(0, f));
  ASSERT_EQ(h.all.size(), 20u);  // 600 ms in 30 ms packets
  expect_continuous(h.all, 1440);
  for (const auto& o : h.all)
    EXPECT_EQ(*opus_packet_samples(o.payload.data(), o.payload.size(), 48000), 1440u);
}

TEST(Transcoder, ConcealsSequenceGapsWithContinuousOutput) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(40);
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto p = s.next(0, frames[i]);
    if (i == 10 || i == 20 || i == 21) continue;  // lost in the network
    const auto out = h.feed(p);
    EXPECT_EQ(out.size(), i == 11 ? 2u : i == 22 ? 3u : 1u) << i;
  }
  ASSERT_EQ(h.all.size(), 40u);
  expect_continuous(h.all, 960);
  EXPECT_EQ(t->counters().frames_concealed, 3u);
  EXPECT_EQ(t->counters().frames_decoded, 37u);
  for (size_t i = 1; i < h.all.size(); ++i) EXPECT_FALSE(h.all[i].marker) << i;
}

TEST(Transcoder, LateReorderedPacketIsDroppedNotEmittedTwice) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(10);
  std::vector<InputPacket> pkts;
  for (const auto& f : frames) pkts.push_back(s.next(0, f));
  std::swap(pkts[5], pkts[6]);  // 6 overtakes 5
  for (const auto& p : pkts) h.feed(p);
  EXPECT_EQ(h.all.size(), 10u);  // slot 5 concealed when 6 came; 5 itself dropped
  expect_continuous(h.all, 960);
  EXPECT_EQ(t->counters().frames_concealed, 1u);
  EXPECT_EQ(t->counters().late_dropped, 1u);
  // Duplicates, recent and old, are dropped too.
  EXPECT_TRUE(h.feed(pkts[9]).empty());
  EXPECT_TRUE(h.feed(pkts[2]).empty());
  EXPECT_EQ(t->counters().late_dropped, 3u);
  EXPECT_EQ(h.all.size(), 10u);
}

TEST(Transcoder, WrapsSequenceAndTimestampOnBothSides) {
  auto c = pcmu_to_opus();
  c.out_first_seq = 65534;
  c.out_first_ts = 0xffffffffu - 960 * 2 + 1;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  s.seq = 65533;
  s.ts = 0xffffffffu - 320 + 1;  // input wraps after two packets
  for (const auto& f : pcmu_frames(8)) ASSERT_EQ(h.feed(s.next(0, f)).size(), 1u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
  EXPECT_EQ(t->counters().late_dropped, 0u);
  EXPECT_EQ(t->counters().silence_gaps, 0u);
  EXPECT_EQ(t->counters().source_changes, 0u);
  expect_continuous(h.all, 960);
  EXPECT_EQ(h.all[2].seq, 0);
  EXPECT_LT(h.all[3].timestamp, h.all[0].timestamp);  // wrapped
}

TEST(Transcoder, NewInputSsrcKeepsOutputNumbering) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender a;
  const auto frames = pcmu_frames(20);
  for (size_t i = 0; i < 10; ++i) h.feed(a.next(0, frames[i]));
  // Re-INVITE: a new source, its own random seq and ts, 100 ms after the last
  // packet (80 ms of silence beyond the 20 ms the last packet covered).
  Sender b;
  b.ssrc = 0x99;
  b.seq = 40000;
  b.ts = 123456789;
  b.now_ns = a.now_ns + 80'000'000;
  for (size_t i = 10; i < 20; ++i) h.feed(b.next(0, frames[i]));
  ASSERT_EQ(h.all.size(), 20u);
  for (size_t i = 1; i < 20; ++i) EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
  EXPECT_EQ(h.all[10].timestamp - h.all[9].timestamp, 960u + 640u * 6);
  EXPECT_TRUE(h.all[10].marker);
  for (size_t i = 11; i < 20; ++i) EXPECT_EQ(h.all[i].timestamp - h.all[i - 1].timestamp, 960u);
  EXPECT_EQ(t->counters().source_changes, 1u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
  EXPECT_EQ(t->counters().late_dropped, 0u);
}

TEST(Transcoder, SequenceRestartIsAcceptedOnTheSecondPacket) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(12);
  for (size_t i = 0; i < 6; ++i) h.feed(s.next(0, frames[i]));
  s.seq += 20000;  // same SSRC, far jump (RFC 3550 A.1 MAX_DROPOUT is 3000)
  EXPECT_TRUE(h.feed(s.next(0, frames[6])).empty());
  EXPECT_EQ(t->counters().seq_jump_dropped, 1u);
  for (size_t i = 7; i < 12; ++i) EXPECT_EQ(h.feed(s.next(0, frames[i])).size(), 1u);
  EXPECT_EQ(t->counters().source_changes, 1u);
  ASSERT_EQ(h.all.size(), 11u);
  for (size_t i = 1; i < h.all.size(); ++i) EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
  EXPECT_TRUE(h.all[6].marker);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
}

TEST(Transcoder, SilenceGapOpensATalkspurt) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(10);
  for (size_t i = 0; i < 5; ++i) h.feed(s.next(0, frames[i]));
  s.ts += 3200;  // 400 ms of VAD silence: no packets, sequence unbroken
  s.now_ns += 400'000'000;
  for (size_t i = 5; i < 10; ++i) h.feed(s.next(0, frames[i], i == 5));
  ASSERT_EQ(h.all.size(), 10u);
  EXPECT_EQ(h.all[5].timestamp - h.all[4].timestamp, 960u + 3200u * 6);
  EXPECT_TRUE(h.all[5].marker);
  EXPECT_EQ(uint16_t(h.all[5].seq - h.all[4].seq), 1);
  EXPECT_EQ(t->counters().silence_gaps, 1u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
}

TEST(Transcoder, TimestampRestartFollowsElapsedTime) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(10);
  for (size_t i = 0; i < 5; ++i) h.feed(s.next(0, frames[i]));
  s.ts += 0x70000000;  // the sender's clock jumped by hours; 20 ms passed
  for (size_t i = 5; i < 10; ++i) h.feed(s.next(0, frames[i]));
  ASSERT_EQ(h.all.size(), 10u);
  expect_continuous(h.all, 960);
  EXPECT_TRUE(h.all[5].marker);
  EXPECT_EQ(t->counters().source_changes, 1u);
}

TEST(Transcoder, OpusDtxInputKeepsTheStreamGoing) {
  std::vector<int16_t> pcm = test::speech_like(8000);
  pcm.resize(8000 * 3, 0);  // 2 s of digital silence
  const auto tail = test::speech_like(8000, 9);
  pcm.insert(pcm.end(), tail.begin(), tail.end());
  OpusEncoderConfig oc;
  oc.dtx = true;
  const auto pkts = opus_frames(pcm, oc);

  // A DTX sender leaves out the packets of 2 octets or less (RFC 7587 §3.1.3).
  auto t = make(opus_to_pcmu());
  Harness h(*t);
  Sender s;
  s.clock_per_frame = 960;
  size_t sent = 0;
  for (const auto& p : pkts) {
    if (p.size() <= 2) {
      s.ts += 960;
      s.now_ns += 20'000'000;
      continue;
    }
    ++sent;
    h.feed(s.next(111, p));
  }
  ASSERT_LT(sent, pkts.size() - 50);  // DTX did leave packets out
  EXPECT_EQ(h.all.size(), sent);
  EXPECT_EQ(t->counters().decode_errors, 0u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
  EXPECT_GE(t->counters().silence_gaps, 1u);
  size_t markers = 0;
  for (size_t i = 1; i < h.all.size(); ++i) {
    EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
    const uint32_t d = h.all[i].timestamp - h.all[i - 1].timestamp;
    EXPECT_EQ(d % 160, 0u);
    EXPECT_GE(d, 160u);
    EXPECT_EQ(h.all[i].marker, d > 160) << i;
    markers += h.all[i].marker;
  }
  EXPECT_EQ(markers, t->counters().silence_gaps);
  // The last packet's timestamp is where the stream is in real time.
  EXPECT_EQ(h.all.back().timestamp, 160u * uint32_t(pkts.size() - 1));

  // A sender that does transmit the tiny packets: all decode, none lost.
  auto t2 = make(opus_to_pcmu());
  Harness h2(*t2);
  Sender s2;
  s2.clock_per_frame = 960;
  for (const auto& p : pkts) h2.feed(s2.next(111, p));
  EXPECT_EQ(h2.all.size(), pkts.size());
  expect_continuous(h2.all, 160);
  EXPECT_EQ(t2->counters().decode_errors, 0u);
}

TEST(Transcoder, OpusDtxOutputSkipsSilentFrames) {
  auto c = pcmu_to_opus();
  c.opus.dtx = true;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  std::vector<int16_t> pcm = test::speech_like(8000);
  pcm.resize(8000 * 3, 0);
  const auto tail = test::speech_like(8000, 9);
  pcm.insert(pcm.end(), tail.begin(), tail.end());
  for (size_t off = 0; off < pcm.size(); off += 160) {
    const auto u = test::ulaw(std::span(pcm).subspan(off, 160));
    h.feed(s.next(0, u));
  }
  const auto& k = t->counters();
  EXPECT_EQ(k.frames_encoded, 200u);
  EXPECT_GT(k.dtx_suppressed, 50u);
  EXPECT_EQ(h.all.size(), 200u - k.dtx_suppressed);
  bool saw_gap = false;
  for (size_t i = 1; i < h.all.size(); ++i) {
    EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
    const uint32_t d = h.all[i].timestamp - h.all[i - 1].timestamp;
    EXPECT_EQ(d % 960, 0u);
    if (d > 960) {
      saw_gap = true;
      EXPECT_TRUE(h.all[i].marker) << i;
    }
  }
  EXPECT_TRUE(saw_gap);
  EXPECT_EQ(h.all.back().timestamp, 1000u + 960u * 199);
}

TEST(Transcoder, ComfortNoiseAndUnknownPayloadTypes) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(10);
  for (size_t i = 0; i < 4; ++i) h.feed(s.next(0, frames[i]));
  const uint8_t cn[] = {40};  // RFC 3389: noise level only
  EXPECT_TRUE(h.feed(s.next(kComfortNoisePt, cn)).empty());
  s.ts += 800;  // CN covered 120 ms in total before speech resumed
  s.now_ns += 100'000'000;
  const uint8_t junk[] = {1, 2, 3};
  EXPECT_TRUE(h.feed(s.next(99, junk)).empty());
  for (size_t i = 4; i < 10; ++i) h.feed(s.next(0, frames[i]));
  EXPECT_EQ(t->counters().comfort_noise, 1u);
  EXPECT_EQ(t->counters().unknown_pt_dropped, 1u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);  // neither one is a lost audio packet
  EXPECT_EQ(t->counters().silence_gaps, 1u);
  ASSERT_EQ(h.all.size(), 10u);
  EXPECT_TRUE(h.all[4].marker);
  // Frame 3's own 20 ms, then the CN and junk packets' slots and 100 ms more.
  EXPECT_EQ(h.all[4].timestamp - h.all[3].timestamp, 960u + (160u * 2 + 800u) * 6);
}

TEST(Transcoder, MalformedOpusCountsAsLost) {
  auto t = make(opus_to_pcmu());
  Harness h(*t);
  Sender s;
  s.clock_per_frame = 960;
  const auto pkts = opus_frames(test::speech_like(8000));
  for (size_t i = 0; i < 20; ++i) {
    if (i == 8) {
      const uint8_t bad[] = {0x0b, 0x00};  // code 3 packet with no frames
      EXPECT_TRUE(h.feed(s.next(111, bad)).empty());
      continue;
    }
    h.feed(s.next(111, pkts[i]));
  }
  EXPECT_EQ(t->counters().decode_errors, 1u);
  EXPECT_EQ(t->counters().frames_concealed, 1u);
  ASSERT_EQ(h.all.size(), 20u);
  expect_continuous(h.all, 160);
}

TEST(Transcoder, FecRebuildsALostOpusPacket) {
  OpusEncoderConfig oc;
  oc.fec = true;
  oc.packet_loss_percent = 10;
  const auto pkts = opus_frames(test::speech_like(8000, 2), oc);
  size_t drop = 20;
  while (drop + 2 < pkts.size() &&
         !opus_packet_has_fec(pkts[drop + 1].data(), pkts[drop + 1].size()))
    ++drop;
  ASSERT_TRUE(opus_packet_has_fec(pkts[drop + 1].data(), pkts[drop + 1].size()));
  for (bool fec : {true, false}) {
    auto c = opus_to_pcmu();
    c.far_side_fec = fec;
    auto t = make(c);
    Harness h(*t);
    Sender s;
    s.clock_per_frame = 960;
    for (size_t i = 0; i < pkts.size(); ++i) {
      const auto p = s.next(111, pkts[i]);
      if (i != drop) h.feed(p);
    }
    EXPECT_EQ(t->counters().frames_fec_recovered, fec ? 1u : 0u);
    EXPECT_EQ(t->counters().frames_concealed, fec ? 0u : 1u);
    EXPECT_EQ(h.all.size(), pkts.size());
    expect_continuous(h.all, 160);
  }
}

TEST(Transcoder, FullOutputSpanIsCountedAndNumberingStaysGapless) {
  auto t = make(pcmu_to_opus());
  Harness h(*t);
  Sender s;
  const auto frames = pcmu_frames(6);
  h.feed(s.next(0, frames[0]));
  h.feed(s.next(0, frames[1]));
  EXPECT_EQ(t->process(s.next(0, frames[2]), {}), 0u);  // no slot to write to
  EXPECT_EQ(t->counters().output_overflow, 1u);
  for (size_t i = 3; i < 6; ++i) h.feed(s.next(0, frames[i]));
  ASSERT_EQ(h.all.size(), 5u);
  for (size_t i = 1; i < 5; ++i)
    EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);     // a receiver sees no loss
  EXPECT_EQ(h.all[2].timestamp - h.all[1].timestamp, 2 * 960u);  // but a time gap
  EXPECT_TRUE(h.all[2].marker);
}

TEST(Transcoder, CallMemoryIsUnderEightyKilobytes) {
  // The heaviest call: G.711 -> Opus detecting in-band DTMF for an Opus side
  // with telephone-event, Opus -> G.711 generating tones for a side without.
  auto up = pcmu_to_opus();
  up.out_event_pt = 101;
  auto down = opus_to_pcmu();
  down.in_event_pt = 101;
  auto a = make(up);
  auto b = make(down);
  const size_t call = a->memory_bytes() + b->memory_bytes();
  EXPECT_LE(call, 80u * 1024u);
  EXPECT_LT(sizeof(Transcoder), 2048u);
  EXPECT_GE(a->memory_bytes(), NarrowbandOpusEncoder::state_size() + G711Plc::state_size());
  EXPECT_GE(b->memory_bytes(), NarrowbandOpusDecoder::state_size());
  std::printf(
      "[ memory   ] sizeof(Transcoder) %zu, G.711->Opus %zu, Opus->G.711 %zu, call %zu bytes\n",
      sizeof(Transcoder), a->memory_bytes(), b->memory_bytes(), call);
}

}  // namespace
}  // namespace vox::codecs
