// Tests for codecs/dtmf.h: the generator's tones are the ITU-T Q.23 pairs,
// the SpanDSP detector finds every digit with start/end positions close to
// the truth, ignores speech and single tones, and a held digit gives one
// start and one end.
#include "codecs/dtmf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audio_util.h"

namespace vox::codecs {
namespace {

using test::goertzel_power;
using test::mean_power;

struct Detected {
  std::vector<DtmfEdge> edges;
  std::string digits() const {
    std::string s;
    for (const auto& e : edges)
      if (e.start) s += e.digit;
    return s;
  }
};

Detected detect_all(const std::vector<int16_t>& pcm, size_t chunk = 160) {
  DtmfDetector det;
  Detected d;
  std::vector<DtmfEdge> buf(DtmfDetector::max_edges(chunk));
  for (size_t off = 0; off < pcm.size(); off += chunk) {
    const size_t n = std::min(chunk, pcm.size() - off);
    const size_t k = det.process(pcm.data() + off, n, buf);
    d.edges.insert(d.edges.end(), buf.begin(), buf.begin() + k);
  }
  return d;
}

// digit on for on_ms, off for off_ms, each
std::vector<int16_t> dial(const std::string& digits, int on_ms, int off_ms, int level = -10) {
  DtmfGenerator gen;
  std::vector<int16_t> pcm(size_t(8 * off_ms), 0);
  for (char c : digits) {
    std::vector<int16_t> on(size_t(8 * on_ms));
    EXPECT_TRUE(gen.start(c, level));
    gen.generate(on.data(), on.size());
    gen.stop();
    pcm.insert(pcm.end(), on.begin(), on.end());
    pcm.insert(pcm.end(), size_t(8 * off_ms), 0);
  }
  return pcm;
}

TEST(DtmfGenerator, ProducesTheQ23FrequencyPair) {
  DtmfGenerator gen;
  ASSERT_TRUE(gen.start('9', -10));  // 852 Hz + 1477 Hz
  EXPECT_TRUE(gen.active());
  std::vector<int16_t> pcm(800);
  gen.generate(pcm.data(), pcm.size());
  const double p = mean_power(pcm.data(), pcm.size());
  const double low = goertzel_power(pcm.data(), pcm.size(), 852);
  const double high = goertzel_power(pcm.data(), pcm.size(), 1477);
  EXPECT_GT(low + high, 0.95 * p);
  EXPECT_GT(high, low);  // +2 dB twist on the high group
  EXPECT_LT(goertzel_power(pcm.data(), pcm.size(), 697), 0.01 * p);
  // -10 dBm0 low tone: amplitude 32636 / 10^(3.17/20) * 10^(-10/20) ≈ 7150.
  EXPECT_NEAR(std::sqrt(2 * low), 7150, 500);
  gen.stop();
  EXPECT_FALSE(gen.active());
  gen.generate(pcm.data(), pcm.size());
  EXPECT_EQ(mean_power(pcm.data(), pcm.size()), 0.0);
  EXPECT_FALSE(gen.start('x', -10));
}

TEST(DtmfGenerator, HoldsAToneUntilStopped) {
  DtmfGenerator gen;
  ASSERT_TRUE(gen.start('5', -12));
  std::vector<int16_t> pcm(8000 * 3);  // 3 s, far beyond a normal digit
  gen.generate(pcm.data(), pcm.size());
  EXPECT_TRUE(gen.active());
  EXPECT_GT(mean_power(pcm.data() + 8000 * 3 - 800, 800), 1e6);
}

TEST(DtmfDetector, DetectsAllSixteenDigitsInOrder) {
  const std::string all = "0123456789*#ABCD";
  const auto d = detect_all(dial(all, 60, 60));
  EXPECT_EQ(d.digits(), all);
  ASSERT_EQ(d.edges.size(), 2 * all.size());  // one start and one end each
  for (size_t i = 0; i < d.edges.size(); i += 2) {
    EXPECT_TRUE(d.edges[i].start);
    EXPECT_FALSE(d.edges[i + 1].start);
    EXPECT_EQ(d.edges[i].digit, d.edges[i + 1].digit);
  }
}

TEST(DtmfDetector, EdgePositionsMatchTheTone) {
  // 500 ms silence, '7' for 200 ms (samples 4000..5600), silence.
  std::vector<int16_t> pcm(4000, 0);
  DtmfGenerator gen;
  ASSERT_TRUE(gen.start('7', -10));
  std::vector<int16_t> on(1600);
  gen.generate(on.data(), on.size());
  pcm.insert(pcm.end(), on.begin(), on.end());
  pcm.insert(pcm.end(), 4000, 0);
  for (size_t chunk : {size_t(160), size_t(80), size_t(37)}) {
    const auto d = detect_all(pcm, chunk);
    ASSERT_EQ(d.edges.size(), 2u) << chunk;
    EXPECT_EQ(d.edges[0].digit, '7');
    EXPECT_NEAR(double(d.edges[0].sample), 4000, DtmfDetector::kBlock) << chunk;
    EXPECT_NEAR(double(d.edges[1].sample), 5600, DtmfDetector::kBlock) << chunk;
    EXPECT_NEAR(double(d.edges[0].level_dbm0), -7, 3);  // two -10/-8 dBm0 tones
  }
}

TEST(DtmfDetector, IgnoresSpeechAndSingleTones) {
  auto speech = test::speech_like(8000 * 4, 7);
  EXPECT_TRUE(detect_all(speech).edges.empty());
  auto t = test::tone(1000, 8000, 8000);
  EXPECT_TRUE(detect_all(t).edges.empty());
  auto low = test::tone(697, 8000, 8000);  // one DTMF row tone alone
  EXPECT_TRUE(detect_all(low).edges.empty());
}

TEST(DtmfDetector, ResetForgetsTheDigitInProgress) {
  DtmfDetector det;
  auto pcm = dial("3", 200, 0);
  std::vector<DtmfEdge> buf(DtmfDetector::max_edges(pcm.size()));
  EXPECT_EQ(det.process(pcm.data(), pcm.size(), buf), 1u);  // start, no end yet
  EXPECT_EQ(det.current_digit(), '3');
  EXPECT_EQ(det.position(), pcm.size());
  det.reset();
  EXPECT_EQ(det.current_digit(), '\0');
  EXPECT_EQ(det.position(), 0u);
  EXPECT_LT(DtmfDetector::state_size(), 1024u);
  EXPECT_LT(DtmfGenerator::state_size(), 1024u);
}

}  // namespace
}  // namespace vox::codecs
