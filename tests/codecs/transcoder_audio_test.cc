// Golden audio tests for codecs/transcoder.h, two transcoders chained the way
// a call uses them (G.711 -> Opus -> G.711): a 1 kHz tone keeps its
// frequency and level, DTMF digits survive in-band, 5 % random loss leaves
// the output continuous with one concealed (or FEC-rebuilt) frame per lost
// packet, and DTMF crosses between RFC 4733 and in-band in every combination.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "audio_util.h"
#include "codecs/dtmf.h"
#include "codecs/rfc4733.h"
#include "codecs/transcoder.h"

namespace vox::codecs {
namespace {

using test::Harness;
using test::make;
using test::Sender;
using test::Sent;

TranscoderConfig g711_to_opus(int in_event_pt = kNoPayloadType, int out_event_pt = kNoPayloadType) {
  TranscoderConfig c = test::direction(AudioCodec::kPcmu, 0x0a0a0a0a, 500, 90000);
  c.in_event_pt = in_event_pt;
  c.out_event_pt = out_event_pt;
  return c;
}

TranscoderConfig opus_to_g711(int in_event_pt = kNoPayloadType, int out_event_pt = kNoPayloadType) {
  TranscoderConfig c = test::direction(AudioCodec::kOpus, 0x0b0b0b0b, 9, 777);
  c.in_event_pt = in_event_pt;
  c.out_event_pt = out_event_pt;
  return c;
}

InputPacket as_input(const Sent& s, int64_t arrival_ns) {
  return {s.ssrc, s.seq, s.timestamp, s.payload_type, s.marker, s.payload, arrival_ns};
}

// PCM through PCMU -> Opus -> PCMU, 20 ms packets; returns the PCMU side's
// decoded output. `first` and `second` see the packets.
std::vector<int16_t> through_chain(const std::vector<int16_t>& pcm, Transcoder& first,
                                   Transcoder& second) {
  Harness h1(first), h2(second);
  Sender s;
  for (size_t off = 0; off + 160 <= pcm.size(); off += 160) {
    const auto u = test::ulaw(std::span(pcm).subspan(off, 160));
    const int64_t now = s.now_ns;
    for (const Sent& o : h1.feed(s.next(0, u))) h2.feed(as_input(o, now + 1'000'000));
  }
  std::vector<int16_t> out;
  for (const Sent& o : h2.all) {
    if (o.payload_type != 0) continue;
    const auto d = test::from_ulaw(o.payload);
    out.insert(out.end(), d.begin(), d.end());
  }
  return out;
}

std::string detect_digits(const std::vector<int16_t>& pcm, std::vector<DtmfEdge>* edges = nullptr) {
  DtmfDetector det;
  std::vector<DtmfEdge> buf(DtmfDetector::max_edges(160));
  std::string s;
  for (size_t off = 0; off < pcm.size(); off += 160) {
    const size_t k = det.process(pcm.data() + off, std::min<size_t>(160, pcm.size() - off), buf);
    for (size_t i = 0; i < k; ++i) {
      if (buf[i].start) s += buf[i].digit;
      if (edges) edges->push_back(buf[i]);
    }
  }
  return s;
}

std::vector<int16_t> dial(const std::string& digits, int on_ms, int off_ms, int level = -10) {
  DtmfGenerator gen;
  std::vector<int16_t> pcm(size_t(8 * off_ms), 0);
  for (char c : digits) {
    std::vector<int16_t> on(size_t(8 * on_ms));
    gen.start(c, level);
    gen.generate(on.data(), on.size());
    gen.stop();
    pcm.insert(pcm.end(), on.begin(), on.end());
    pcm.insert(pcm.end(), size_t(8 * off_ms), 0);
  }
  return pcm;
}

TEST(TranscoderAudio, ToneKeepsItsFrequencyThroughPcmuOpusPcmu) {
  auto a = make(g711_to_opus());
  auto b = make(opus_to_g711());
  const auto out = through_chain(test::tone(1000, 10000, 8000 * 2), *a, *b);
  ASSERT_EQ(out.size(), 8000u * 2);
  const int16_t* x = out.data() + 1600;  // past the codecs' start-up
  const size_t n = out.size() - 1600;
  const double p = test::mean_power(x, n);
  EXPECT_GT(test::goertzel_power(x, n, 1000), 0.95 * p);  // energy concentrated at 1 kHz
  EXPECT_LT(test::goertzel_power(x, n, 500) + test::goertzel_power(x, n, 2000), 0.01 * p);
  EXPECT_NEAR(std::sqrt(2 * p), 10000, 10000 * 0.25);  // level within about 2 dB
  size_t crossings = 0;
  for (size_t i = 1; i < n; ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  EXPECT_NEAR(double(crossings) / (double(n) / 8000), 2000, 20);  // 2 per cycle
  EXPECT_EQ(a->counters().frames_encoded, 100u);
  EXPECT_EQ(b->counters().frames_decoded, 100u);
}

TEST(TranscoderAudio, InBandDtmfSurvivesPcmuOpusPcmu) {
  auto a = make(g711_to_opus());
  auto b = make(opus_to_g711());
  const auto out = through_chain(dial("159#", 100, 100), *a, *b);
  EXPECT_EQ(detect_digits(out), "159#");
}

TEST(TranscoderAudio, RandomLossIsConcealedWithContinuousOutput) {
  const size_t kPackets = 1000;
  const auto pcm = test::speech_like(160 * kPackets, 11);
  std::mt19937 rng(42);
  std::bernoulli_distribution lose(0.05);

  // Leg 1: PCMU -> Opus with 5 % of the PCMU packets lost (never the last,
  // whose arrival is what reveals a loss).
  auto c = g711_to_opus();
  c.far_side_fec = true;
  auto a = make(c);
  a->on_receiver_report(c.out_ssrc, 13);  // the Opus receiver reports 5 % loss: LBRR on
  Harness ha(*a);
  Sender s;
  size_t dropped = 0;
  for (size_t i = 0; i < kPackets; ++i) {
    const auto u = test::ulaw(std::span(pcm).subspan(160 * i, 160));
    const auto p = s.next(0, u);
    if (i > 0 && i + 1 < kPackets && lose(rng)) {
      ++dropped;
      continue;
    }
    ha.feed(p);
  }
  EXPECT_GT(dropped, 30u);
  EXPECT_EQ(a->counters().frames_concealed, dropped);
  ASSERT_EQ(ha.all.size(), kPackets);
  for (size_t i = 1; i < kPackets; ++i) {
    ASSERT_EQ(uint16_t(ha.all[i].seq - ha.all[i - 1].seq), 1) << i;
    ASSERT_EQ(ha.all[i].timestamp - ha.all[i - 1].timestamp, 960u) << i;
    ASSERT_FALSE(ha.all[i].marker) << i;
  }

  // Leg 2: that Opus stream (with FEC) -> PCMU, 5 % lost again: each loss is
  // rebuilt from FEC when the next packet carries it, concealed otherwise.
  auto b = make([] {
    auto d = opus_to_g711();
    d.far_side_fec = true;
    return d;
  }());
  Harness hb(*b);
  size_t dropped2 = 0;
  int64_t now = 0;
  for (size_t i = 0; i < kPackets; ++i) {
    now += 20'000'000;
    if (i > 0 && i + 1 < kPackets && lose(rng)) {
      ++dropped2;
      continue;
    }
    hb.feed(as_input(ha.all[i], now));
  }
  const auto& k = b->counters();
  EXPECT_GT(dropped2, 30u);
  EXPECT_EQ(k.frames_concealed + k.frames_fec_recovered, dropped2);
  EXPECT_GT(k.frames_fec_recovered, dropped2 / 2);
  ASSERT_EQ(hb.all.size(), kPackets);
  for (size_t i = 1; i < kPackets; ++i) {
    ASSERT_EQ(uint16_t(hb.all[i].seq - hb.all[i - 1].seq), 1) << i;
    ASSERT_EQ(hb.all[i].timestamp - hb.all[i - 1].timestamp, 160u) << i;
  }
  EXPECT_EQ(k.late_dropped, 0u);
}

TEST(TranscoderAudio, EventsPassThroughFromEightToFortyEightKilohertz) {
  auto t = make(g711_to_opus(101, 96));
  Harness h(*t);
  Sender audio;
  const auto silence = test::ulaw(std::vector<int16_t>(160, 0));
  for (int i = 0; i < 5; ++i) h.feed(audio.next(0, silence));
  const uint32_t event_ts = audio.ts;  // the event starts with the next audio frame
  const uint32_t out_audio_ts = h.all.back().timestamp + 960;
  std::vector<uint8_t> ev(4);
  for (int i = 1; i <= 8; ++i) {
    h.feed(audio.next(0, silence));
    const bool end = i >= 6;  // 5 updates, then the end sent three times
    const uint16_t dur = uint16_t(160 * std::min(i, 5));
    build_telephone_event({1, end, 10, dur}, ev.data(), 4);
    InputPacket p{audio.ssrc, audio.seq++, event_ts, 101, i == 1, ev, audio.now_ns};
    h.feed(p);
  }
  std::vector<Sent> events;
  for (const auto& o : h.all)
    if (o.payload_type == 96) events.push_back(o);
  ASSERT_EQ(events.size(), 8u);
  for (size_t i = 0; i < events.size(); ++i) {
    auto e = parse_telephone_event(events[i].payload.data(), events[i].payload.size());
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->event, 1);
    EXPECT_EQ(e->volume, 10);
    EXPECT_EQ(events[i].timestamp, out_audio_ts) << i;  // one timestamp for the event, 48 kHz
    EXPECT_EQ(events[i].marker, i == 0);
    EXPECT_EQ(e->duration, 960 * std::min<int>(int(i) + 1, 5)) << i;  // 160 units -> 960
    EXPECT_EQ(e->end, i >= 5);
  }
  // Audio and events share one gapless sequence.
  for (size_t i = 1; i < h.all.size(); ++i) EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
  EXPECT_EQ(t->counters().dtmf_events_passed, 1u);
  EXPECT_EQ(t->counters().frames_concealed, 0u);
}

TEST(TranscoderAudio, EventsPassThroughFromFortyEightToEightKilohertz) {
  auto t = make(opus_to_g711(101, 101));
  Harness h(*t);
  Sender audio;
  audio.clock_per_frame = 960;
  const auto pkts = [] {
    auto enc = NarrowbandOpusEncoder::create({});
    std::vector<std::vector<uint8_t>> v;
    std::vector<int16_t> pcm(160 * 20, 0);
    for (size_t off = 0; off < pcm.size(); off += 160) {
      std::vector<uint8_t> b(400);
      b.resize(*enc->encode(pcm.data() + off, 160, b.data(), b.size()));
      v.push_back(b);
    }
    return v;
  }();
  for (int i = 0; i < 4; ++i) h.feed(audio.next(111, pkts[size_t(i)]));
  const uint32_t event_ts = audio.ts - 960;  // began with the last audio packet
  const uint32_t out_ts = h.all.back().timestamp;
  std::vector<uint8_t> ev(4);
  for (int i = 1; i <= 6; ++i) {
    h.feed(audio.next(111, pkts[size_t(3 + i)]));
    const bool end = i >= 4;
    build_telephone_event({11, end, 8, uint16_t(965 * std::min(i, 3))}, ev.data(), 4);
    h.feed({audio.ssrc, audio.seq++, event_ts, 101, i == 1, ev, audio.now_ns});
  }
  std::vector<Sent> events;
  for (const auto& o : h.all)
    if (o.payload_type == 101) events.push_back(o);
  ASSERT_EQ(events.size(), 6u);
  for (size_t i = 0; i < events.size(); ++i) {
    auto e = parse_telephone_event(events[i].payload.data(), 4);
    EXPECT_EQ(e->event, 11);
    EXPECT_EQ(events[i].timestamp, out_ts);
    EXPECT_EQ(e->duration, std::lround(965.0 * std::min<int>(int(i) + 1, 3) / 6))
        << i;  // 48k -> 8k, rounded
    EXPECT_EQ(e->end, i >= 3);
    EXPECT_EQ(events[i].marker, i == 0);
  }
}

TEST(TranscoderAudio, LongEventIsSegmentedOnTheFasterClock) {
  // 2 s of '0' at 8 kHz is 96000 units at 48 kHz: more than 0xffff.
  auto t = make(g711_to_opus(101, 96));
  Harness h(*t);
  Sender audio;
  const auto silence = test::ulaw(std::vector<int16_t>(160, 0));
  h.feed(audio.next(0, silence));
  const uint32_t event_ts = audio.ts;
  const uint32_t out_ts = h.all.back().timestamp + 960;
  std::vector<uint8_t> ev(4);
  for (int i = 1; i <= 100; ++i) {
    h.feed(audio.next(0, silence));
    build_telephone_event({0, i == 100, 10, uint16_t(160 * i)}, ev.data(), 4);
    h.feed({audio.ssrc, audio.seq++, event_ts, 101, i == 1, ev, audio.now_ns});
  }
  std::vector<std::pair<uint32_t, TelephoneEvent>> events;
  for (const auto& o : h.all)
    if (o.payload_type == 96)
      events.push_back({o.timestamp, *parse_telephone_event(o.payload.data(), 4)});
  // 100 packets plus the one closing the first segment at 0xffff.
  ASSERT_EQ(events.size(), 101u);
  size_t first_segment = 0;
  for (const auto& [ts, e] : events) {
    if (ts == out_ts) {
      ++first_segment;
      EXPECT_LE(e.duration, 0xffff);
    } else {
      EXPECT_EQ(ts, out_ts + 0xffff);
    }
  }
  EXPECT_EQ(first_segment, 69u);  // 160*6*i <= 0xffff for i <= 68, then the closing packet
  EXPECT_EQ(events[68].second.duration, 0xffff);
  EXPECT_EQ(events.back().second.duration, 96000 - 0xffff);
  EXPECT_TRUE(events.back().second.end);
}

TEST(TranscoderAudio, InBandDigitsBecomeRfc4733Events) {
  auto t = make(g711_to_opus(kNoPayloadType, 101));
  Harness h(*t);
  Sender s;
  const auto pcm = dial("159#", 100, 100);  // tones at 100..200, 300..400, ... ms
  for (size_t off = 0; off + 160 <= pcm.size(); off += 160)
    h.feed(s.next(0, test::ulaw(std::span(pcm).subspan(off, 160))));
  EXPECT_EQ(t->counters().dtmf_events_detected, 4u);

  struct Ev {
    uint32_t ts;
    bool marker;
    TelephoneEvent e;
  };
  std::vector<Ev> events;
  for (const auto& o : h.all)
    if (o.payload_type == 101)
      events.push_back({o.timestamp, o.marker, *parse_telephone_event(o.payload.data(), 4)});
  const char* digits = "159#";
  size_t i = 0;
  for (int d = 0; d < 4; ++d) {
    ASSERT_LT(i, events.size());
    const Ev& start = events[i];
    EXPECT_TRUE(start.marker);
    EXPECT_EQ(dtmf_digit_for_event(start.e.event), digits[d]);
    // The tone began at 100 + 200 d ms: 48 kHz units after the first frame.
    const double want_ts = 90000 + 48.0 * (100 + 200 * d);
    EXPECT_NEAR(double(start.ts), want_ts, 6.0 * DtmfDetector::kBlock);
    EXPECT_NEAR(start.e.volume, 7, 3);
    // Updates with growing duration, then exactly three end packets.
    uint16_t last = 0;
    size_t ends = 0;
    const size_t first = i;
    for (; i < events.size() && events[i].ts == start.ts; ++i) {
      EXPECT_GE(events[i].e.duration, last);
      last = events[i].e.duration;
      if (i > first) {
        EXPECT_FALSE(events[i].marker);
      }
      if (ends > 0) {
        EXPECT_TRUE(events[i].e.end);  // nothing after the end but its repeats
      }
      ends += events[i].e.end;
    }
    EXPECT_EQ(ends, 3u) << digits[d];
    EXPECT_NEAR(last, 100 * 48, 6.0 * DtmfDetector::kBlock) << digits[d];  // 100 ms
  }
  EXPECT_EQ(i, events.size());
  for (size_t j = 1; j < h.all.size(); ++j) EXPECT_EQ(uint16_t(h.all[j].seq - h.all[j - 1].seq), 1);
}

// Event packets for one digit every 20 ms of `dur_ms`, plus three ends.
void send_event(Harness& h, Sender& s, uint8_t pt_audio, uint8_t pt_event, uint8_t event,
                int dur_ms, const std::vector<uint8_t>& audio, bool with_audio) {
  const uint32_t ts = s.ts;
  std::vector<uint8_t> ev(4);
  const int n = dur_ms / 20;
  for (int i = 1; i <= n + 2; ++i) {
    if (with_audio) {
      h.feed(s.next(pt_audio, audio));
    } else {
      s.ts += s.clock_per_frame;  // the sender mutes audio during the event
      s.now_ns += s.frame_ns;
    }
    const bool end = i >= n;
    build_telephone_event({event, end, 10, uint16_t(s.clock_per_frame * std::min(i, n))}, ev.data(),
                          4);
    h.feed({s.ssrc, s.seq++, ts, pt_event, i == 1, ev, s.now_ns});
  }
}

TEST(TranscoderAudio, EventsBecomeInBandTonesOnG711) {
  for (bool with_audio : {true, false}) {
    TranscoderConfig c;
    c.in_codec = AudioCodec::kPcmu;
    c.in_event_pt = 101;
    c.out_codec = AudioCodec::kPcmu;
    c.out_pt = 0;
    auto t = make(c);
    Harness h(*t);
    Sender s;
    const auto silence = test::ulaw(std::vector<int16_t>(160, 0));
    for (int i = 0; i < 10; ++i) h.feed(s.next(0, silence));
    for (uint8_t ev : {uint8_t(9), uint8_t(10), uint8_t(3)}) {
      send_event(h, s, 0, 101, ev, 120, silence, with_audio);
      for (int i = 0; i < 6; ++i) h.feed(s.next(0, silence));
    }
    std::vector<int16_t> out;
    for (const auto& o : h.all) {
      EXPECT_EQ(o.payload_type, 0);  // no event packets on this side
      const auto d = test::from_ulaw(o.payload);
      out.insert(out.end(), d.begin(), d.end());
    }
    std::vector<DtmfEdge> edges;
    EXPECT_EQ(detect_digits(out, &edges), "9*3") << "with audio: " << with_audio;
    ASSERT_EQ(edges.size(), 6u);
    for (size_t i = 0; i < 6; i += 2)
      EXPECT_NEAR(double(edges[i + 1].sample - edges[i].sample), 960,
                  2 * DtmfDetector::kBlock);  // 120 ms
    EXPECT_EQ(t->counters().dtmf_events_generated, 3u);
    for (size_t i = 1; i < h.all.size(); ++i) {
      EXPECT_EQ(uint16_t(h.all[i].seq - h.all[i - 1].seq), 1);
      // A muting sender leaves a silent stretch after each event (its end
      // repeats): a talkspurt boundary, not a shift.
      const uint32_t d = h.all[i].timestamp - h.all[i - 1].timestamp;
      if (with_audio) {
        EXPECT_EQ(d, 160u) << i;
      } else {
        EXPECT_EQ(d % 160, 0u) << i;
      }
    }
  }
}

TEST(TranscoderAudio, EventsBecomeInBandTonesThroughOpus) {
  // PCMU with telephone-event -> Opus without: the tones are encoded into
  // the Opus stream, and a decoder on the far side hears the digits.
  auto t = make(g711_to_opus(101, kNoPayloadType));
  Harness h(*t);
  Sender s;
  const auto silence = test::ulaw(std::vector<int16_t>(160, 0));
  for (int i = 0; i < 10; ++i) h.feed(s.next(0, silence));
  for (uint8_t ev : {uint8_t(1), uint8_t(5), uint8_t(9), uint8_t(11)}) {
    send_event(h, s, 0, 101, ev, 100, silence, true);
    for (int i = 0; i < 5; ++i) h.feed(s.next(0, silence));
  }
  auto dec = NarrowbandOpusDecoder::create();
  std::vector<int16_t> out;
  for (const auto& o : h.all) {
    ASSERT_EQ(o.payload_type, 111);
    int16_t pcm[960];
    const auto n = dec->decode(o.payload.data(), o.payload.size(), pcm, 960);
    ASSERT_TRUE(n.ok());
    out.insert(out.end(), pcm, pcm + *n);
  }
  EXPECT_EQ(detect_digits(out), "159#");
  EXPECT_EQ(t->counters().dtmf_events_generated, 4u);
}

TEST(TranscoderAudio, LostEndPacketsStillEndTheTone) {
  TranscoderConfig c;
  c.in_codec = AudioCodec::kPcmu;
  c.in_event_pt = 101;
  c.out_codec = AudioCodec::kPcmu;
  c.out_pt = 0;
  auto t = make(c);
  Harness h(*t);
  Sender s;
  const auto silence = test::ulaw(std::vector<int16_t>(160, 0));
  h.feed(s.next(0, silence));
  const uint32_t ts = s.ts;
  std::vector<uint8_t> ev(4);
  for (int i = 1; i <= 5; ++i) {  // 100 ms of updates, every end packet lost
    h.feed(s.next(0, silence));
    build_telephone_event({7, false, 10, uint16_t(160 * i)}, ev.data(), 4);
    h.feed({s.ssrc, s.seq++, ts, 101, i == 1, ev, s.now_ns});
  }
  for (int i = 0; i < 50; ++i) h.feed(s.next(0, silence));
  std::vector<int16_t> out;
  for (const auto& o : h.all) {
    const auto d = test::from_ulaw(o.payload);
    out.insert(out.end(), d.begin(), d.end());
  }
  std::vector<DtmfEdge> edges;
  EXPECT_EQ(detect_digits(out, &edges), "7");
  ASSERT_EQ(edges.size(), 2u);
  // The tone stops 200 ms after the last reported duration, not never.
  EXPECT_LT(edges[1].sample - edges[0].sample, 8u * 320);
}

}  // namespace
}  // namespace vox::codecs
