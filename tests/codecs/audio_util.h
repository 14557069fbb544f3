// Test helpers for the codec tests: signal generators (tones, DTMF-free
// speech-like sound), measurements (Goertzel power at one frequency, mean
// power), and a harness that runs RTP-like packets through a Transcoder and
// keeps copies of what comes out; the PCMU <-> Opus configurations they build.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "codecs/g711.h"
#include "codecs/transcoder.h"

namespace vox::codecs::test {

inline std::vector<int16_t> tone(double hz, double amplitude, size_t n, double rate = 8000.0) {
  std::vector<int16_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = int16_t(std::lround(amplitude * std::sin(2 * std::numbers::pi * hz * double(i) / rate)));
  return v;
}

// Speech-like: a glottal pulse train (pitch gliding 100..180 Hz) through two
// formant resonances that move like vowels do (F1 350..850 Hz, F2 900..2300
// Hz), with a 4 Hz syllabic envelope and a little noise.
inline std::vector<int16_t> speech_like(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 300.0);
  std::vector<int16_t> v(n);
  double phase = 0, y1 = 0, y2 = 0, z1 = 0, z2 = 0;
  const double r = 0.96;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / 8000.0;
    const double pitch = 140 + 40 * std::sin(2 * std::numbers::pi * 0.7 * t);
    const double f1 = 600 + 250 * std::sin(2 * std::numbers::pi * 2.3 * t);
    const double f2 = 1600 + 700 * std::sin(2 * std::numbers::pi * 1.7 * t + 1.0);
    const double w1 = 2 * std::numbers::pi * f1 / 8000, w2 = 2 * std::numbers::pi * f2 / 8000;
    phase += pitch / 8000.0;
    double x = 0;
    if (phase >= 1.0) {
      phase -= 1.0;
      x = 3000.0;
    }
    const double a = x + 2 * r * std::cos(w1) * y1 - r * r * y2;
    y2 = y1;
    y1 = a;
    const double b = a + 2 * r * std::cos(w2) * z1 - r * r * z2;
    z2 = z1;
    z1 = b;
    const double env = 0.55 + 0.45 * std::sin(2 * std::numbers::pi * 4.0 * t);
    const double s = 0.8 * b * env + noise(rng);
    v[i] = int16_t(std::clamp(s, -32000.0, 32000.0));
  }
  return v;
}

inline double mean_power(const int16_t* x, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; ++i) e += double(x[i]) * x[i];
  return n ? e / double(n) : 0;
}

// Power of the component at `hz` (a sinusoid of amplitude A gives A^2 / 2,
// like mean_power of the sinusoid alone), by the Goertzel recurrence.
inline double goertzel_power(const int16_t* x, size_t n, double hz, double rate = 8000.0) {
  const double w = 2 * std::numbers::pi * hz / rate;
  const double c = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double s = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const double mag2 = s1 * s1 + s2 * s2 - c * s1 * s2;
  return 2.0 * mag2 / (double(n) * double(n));
}

// One direction between PCMU (PT 0) and Opus (PT 111): `in` decides
// which, the output numbered from ssrc, first_seq, first_ts.
inline TranscoderConfig direction(AudioCodec in, uint32_t ssrc, uint16_t first_seq = 0,
                                  uint32_t first_ts = 0) {
  const bool to_opus = in == AudioCodec::kPcmu;
  TranscoderConfig c;
  c.in_codec = in;
  c.in_pt = to_opus ? 0 : 111;
  c.out_codec = to_opus ? AudioCodec::kOpus : AudioCodec::kPcmu;
  c.out_pt = to_opus ? 111 : 0;
  c.out_ssrc = ssrc;
  c.out_first_seq = first_seq;
  c.out_first_ts = first_ts;
  return c;
}

// A transcoder for `c`, or null with a test failure.
inline std::unique_ptr<Transcoder> make(const TranscoderConfig& c) {
  auto t = Transcoder::create(c);
  EXPECT_TRUE(t.ok());
  return t.ok() ? std::move(t).value() : nullptr;
}

// A packet that came out of a Transcoder, copied.
struct Sent {
  uint32_t ssrc;
  uint16_t seq;
  uint32_t timestamp;
  uint8_t payload_type;
  bool marker;
  std::vector<uint8_t> payload;
};

class Harness {
 public:
  explicit Harness(Transcoder& t)
      : t_(t), bytes_(Transcoder::kMaxOutputPackets * 1500), slots_(Transcoder::kMaxOutputPackets) {
    for (size_t i = 0; i < slots_.size(); ++i)
      slots_[i].buffer = std::span<uint8_t>(bytes_.data() + 1500 * i, 1500);
  }
  std::vector<Sent> feed(const InputPacket& in) {
    const size_t n = t_.process(in, slots_);
    std::vector<Sent> out;
    for (size_t i = 0; i < n; ++i) {
      const OutputPacket& o = slots_[i];
      out.push_back({o.ssrc, o.seq, o.timestamp, o.payload_type, o.marker,
                     std::vector<uint8_t>(o.buffer.begin(), o.buffer.begin() + o.size)});
      all.push_back(out.back());
    }
    return out;
  }
  std::vector<Sent> all;  // everything sent so far

 private:
  Transcoder& t_;
  std::vector<uint8_t> bytes_;
  std::vector<OutputPacket> slots_;
};

// A sender of 20 ms (by default) packets: numbers them and stamps them.
struct Sender {
  uint32_t ssrc = 0x11223344;
  uint16_t seq = 1000;
  uint32_t ts = 5000;
  int64_t now_ns = 1'000'000'000;
  uint32_t clock_per_frame = 160;  // RTP clock units per packet
  int64_t frame_ns = 20'000'000;

  // Returns the packet and advances (seq, ts, time) by one packet.
  InputPacket next(uint8_t pt, std::span<const uint8_t> payload, bool marker = false) {
    InputPacket p{ssrc, seq, ts, pt, marker, payload, now_ns};
    ++seq;
    ts += clock_per_frame;
    now_ns += frame_ns;
    return p;
  }
};

inline std::vector<uint8_t> ulaw(std::span<const int16_t> pcm) {
  std::vector<uint8_t> v(pcm.size());
  ulaw_encode(pcm.data(), v.data(), pcm.size());
  return v;
}
inline std::vector<int16_t> from_ulaw(std::span<const uint8_t> u) {
  std::vector<int16_t> v(u.size());
  ulaw_decode(u.data(), v.data(), u.size());
  return v;
}

}  // namespace vox::codecs::test
