// Tests for codecs/g711_plc.h: concealment continues a periodic signal at its
// pitch, fades to silence after 50 ms of loss (SpanDSP's documented decay),
// leaves clean frames alone and blends the first frame after a loss.
#include "codecs/g711_plc.h"

#include <gtest/gtest.h>

#include <vector>

#include "audio_util.h"

namespace vox::codecs {
namespace {

using test::goertzel_power;
using test::mean_power;
using test::tone;

TEST(G711Plc, ConcealmentContinuesThePitch) {
  // 200 Hz (period 40 samples, inside SpanDSP's 40..120 pitch search).
  const auto sig = tone(200, 8000, 8000);
  G711Plc plc;
  std::vector<int16_t> frame(160);
  for (size_t f = 0; f < 10; ++f) {
    std::copy(sig.begin() + 160 * f, sig.begin() + 160 * (f + 1), frame.begin());
    plc.receive(frame.data(), frame.size());
  }
  std::vector<int16_t> fill(160);
  plc.conceal(fill.data(), fill.size());
  // The synthetic frame is still a 200 Hz tone of about the same level.
  const double p = mean_power(fill.data(), fill.size());
  EXPECT_GT(p, 0.3 * 8000.0 * 8000.0 / 2);
  EXPECT_GT(goertzel_power(fill.data(), fill.size(), 200), 0.8 * p);
  // And it starts in phase with where the signal would have continued.
  double err = 0, ref = 0;
  for (size_t i = 0; i < 40; ++i) {
    const double d = double(fill[i]) - sig[1600 + i];
    err += d * d;
    ref += double(sig[1600 + i]) * sig[1600 + i];
  }
  EXPECT_LT(err, 0.25 * ref);
}

TEST(G711Plc, FadesToSilenceAfterFiftyMilliseconds) {
  const auto sig = tone(150, 10000, 1600);
  G711Plc plc;
  std::vector<int16_t> frame(sig);
  plc.receive(frame.data(), frame.size());
  std::vector<int16_t> fill(80);
  plc.conceal(fill.data(), fill.size());  // 0-10 ms
  const double first = mean_power(fill.data(), fill.size());
  for (int i = 0; i < 4; ++i) plc.conceal(fill.data(), fill.size());  // to 50 ms
  plc.conceal(fill.data(), fill.size());                              // 50-60 ms
  EXPECT_GT(first, 1e6);
  EXPECT_EQ(mean_power(fill.data(), fill.size()), 0.0);
}

TEST(G711Plc, ReceivePassesCleanAudioAndBlendsAfterLoss) {
  const auto sig = tone(180, 6000, 4000);
  G711Plc plc;
  std::vector<int16_t> frame(160);
  for (size_t f = 0; f < 5; ++f) {
    std::copy(sig.begin() + 160 * f, sig.begin() + 160 * (f + 1), frame.begin());
    plc.receive(frame.data(), frame.size());
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), sig.begin() + 160 * f)) << "frame " << f;
  }
  std::vector<int16_t> fill(160);
  plc.conceal(fill.data(), fill.size());
  // The frame after the loss is blended into the synthetic signal at its start.
  std::copy(sig.begin() + 960, sig.begin() + 1120, frame.begin());
  plc.receive(frame.data(), frame.size());
  EXPECT_FALSE(std::equal(frame.begin(), frame.begin() + 10, sig.begin() + 960));
  EXPECT_TRUE(std::equal(frame.begin() + 60, frame.end(), sig.begin() + 1020));
  EXPECT_GT(G711Plc::state_size(), 1000u);
}

}  // namespace
}  // namespace vox::codecs
