// Tests for codecs/transcoder.h, Opus in-band FEC driven by RTCP loss
// reports: no LBRR before the receiver reports loss (even with
// useinbandfec=1), LBRR once it does, none again after loss-free reports,
// never without useinbandfec, reports about other SSRCs ignored, and the
// smoothing rule itself.
#include <gtest/gtest.h>

#include <vector>

#include "audio_util.h"
#include "codecs/transcoder.h"

namespace vox::codecs {
namespace {

using test::Harness;
using test::make;
using test::Sender;

constexpr uint32_t kOutSsrc = 0x5eed0001;

TranscoderConfig pcmu_to_opus(bool far_side_fec) {
  TranscoderConfig c = test::direction(AudioCodec::kPcmu, kOutSsrc);
  c.far_side_fec = far_side_fec;
  return c;
}

// Feeds 20 ms PCMU frames of speech-like sound, one Opus packet out each.
class Talker {
 public:
  explicit Talker(Transcoder& t) : h_(t), pcm_(test::speech_like(160 * 1000, 5)) {}

  // Sends n frames; returns how many of their Opus packets carry LBRR,
  // not counting the first `settle` (LBRR in packet k protects frame k-1,
  // so a change in the encoder shows one packet late).
  size_t send(size_t n, size_t settle = 0) {
    size_t with_fec = 0;
    for (size_t i = 0; i < n; ++i, ++next_) {
      const auto u = test::ulaw(std::span(pcm_).subspan(160 * (next_ % 1000), 160));
      const auto out = h_.feed(s_.next(0, u));
      EXPECT_EQ(out.size(), 1u);
      if (i >= settle && !out.empty())
        with_fec += opus_packet_has_fec(out[0].payload.data(), out[0].payload.size());
    }
    return with_fec;
  }

 private:
  Harness h_;
  Sender s_;
  std::vector<int16_t> pcm_;
  size_t next_ = 0;
};

TEST(TranscoderFec, NoLbrrBeforeTheReceiverReportsLoss) {
  auto t = make(pcmu_to_opus(true));
  Talker talk(*t);
  EXPECT_EQ(talk.send(100), 0u);
  EXPECT_EQ(t->expected_loss_percent(), 0);
  EXPECT_EQ(t->counters().frames_encoded_fec, 0u);
  EXPECT_EQ(t->counters().receiver_reports, 0u);
}

TEST(TranscoderFec, ReportedLossTurnsLbrrOnAndLossFreeReportsTurnItOff) {
  auto t = make(pcmu_to_opus(true));
  Talker talk(*t);
  EXPECT_EQ(talk.send(20), 0u);

  t->on_receiver_report(kOutSsrc + 1, 25);  // about someone else's stream
  EXPECT_EQ(t->expected_loss_percent(), 0);
  EXPECT_EQ(t->counters().receiver_reports, 0u);
  EXPECT_EQ(talk.send(20), 0u);

  t->on_receiver_report(kOutSsrc, 25);  // 25/256 = 9.8 %, rounded up
  EXPECT_EQ(t->expected_loss_percent(), 10);
  EXPECT_EQ(t->counters().receiver_reports, 1u);
  // LBRR rides on frames the encoder's VAD calls speech: most, not all.
  EXPECT_GT(talk.send(50, 2), 30u);
  EXPECT_EQ(t->counters().frames_encoded_fec, 50u);

  // Loss-free reports halve the smoothed loss each: 12, 6, 3, 1, 0 /256.
  for (int want : {5, 3, 2, 1, 0}) {
    t->on_receiver_report(kOutSsrc, 0);
    EXPECT_EQ(t->expected_loss_percent(), want);
  }
  EXPECT_EQ(t->counters().receiver_reports, 6u);
  EXPECT_EQ(talk.send(50, 1), 0u);
  EXPECT_EQ(t->counters().frames_encoded_fec, 50u);  // no more since
}

TEST(TranscoderFec, NeverLbrrWithoutUseInbandFec) {
  auto t = make(pcmu_to_opus(false));
  Talker talk(*t);
  t->on_receiver_report(kOutSsrc, 64);
  // The loss still reaches libopus (robustness), FEC does not turn on.
  EXPECT_EQ(t->expected_loss_percent(), 25);
  EXPECT_EQ(t->counters().receiver_reports, 1u);
  EXPECT_EQ(talk.send(100), 0u);
  EXPECT_EQ(t->counters().frames_encoded_fec, 0u);
}

TEST(TranscoderFec, SmoothingJumpsUpDecaysByHalfAndIsCapped) {
  auto t = make(pcmu_to_opus(true));
  t->on_receiver_report(kOutSsrc, 1);  // the least loss a report can carry
  EXPECT_EQ(t->expected_loss_percent(), 1);
  t->on_receiver_report(kOutSsrc, 40);  // up at once: 40/256 = 15.6 %
  EXPECT_EQ(t->expected_loss_percent(), 16);
  t->on_receiver_report(kOutSsrc, 10);  // lower loss: down by half at most, to 20
  EXPECT_EQ(t->expected_loss_percent(), 8);
  t->on_receiver_report(kOutSsrc, 15);  // above half of 20: followed
  EXPECT_EQ(t->expected_loss_percent(), 6);
  t->on_receiver_report(kOutSsrc, 255);
  EXPECT_EQ(t->expected_loss_percent(), kMaxExpectedLossPercent);
  int reports = 0;
  while (t->expected_loss_percent() > 0 && reports < 20) {
    t->on_receiver_report(kOutSsrc, 0);
    ++reports;
  }
  EXPECT_EQ(reports, 8);  // 127, 63, 31, 15, 7, 3, 1, 0
}

TEST(TranscoderFec, ReportsAreIgnoredWithoutAnOpusOutput) {
  TranscoderConfig c = test::direction(AudioCodec::kOpus, kOutSsrc);
  c.far_side_fec = true;
  auto t = make(c);
  t->on_receiver_report(kOutSsrc, 100);
  EXPECT_EQ(t->expected_loss_percent(), 0);
  EXPECT_EQ(t->counters().receiver_reports, 0u);
}

}  // namespace
}  // namespace vox::codecs
