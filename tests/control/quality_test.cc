// The E-model MOS, a stream's quality from the dataplane's figures, and the
// histograms /metrics draws from them.
#include "control/quality.h"

#include <gtest/gtest.h>

namespace vox::control {
namespace {

TEST(Emodel, CleanAndLossyG711) {
  EXPECT_NEAR(emodel_mos({0, 0, 0, VoiceCodec::kG711}), 4.40, 0.01);
  EXPECT_NEAR(emodel_mos({0.05, 0, 0, VoiceCodec::kG711}), 3.90, 0.01);
  EXPECT_NEAR(emodel_mos({0.10, 0, 0, VoiceCodec::kG711}), 3.39, 0.01);
  EXPECT_NEAR(emodel_r({0, 0, 0, VoiceCodec::kG711}), 92.72, 0.01);
}

TEST(Emodel, DelayAndJitterCostLessThanLoss) {
  const double clean = emodel_mos({0, 0, 0, VoiceCodec::kG711});
  const double far = emodel_mos({0, 0, 400, VoiceCodec::kG711});  // 200 ms one way
  const double jittery = emodel_mos({0, 30, 0, VoiceCodec::kG711});
  EXPECT_LT(far, clean);
  EXPECT_LT(jittery, clean);
  EXPECT_GT(jittery, emodel_mos({0.05, 0, 0, VoiceCodec::kG711}));
  // Past 177.3 ms one way the delay impairment steepens (G.107).
  EXPECT_GT(emodel_r({0, 0, 300, VoiceCodec::kG711}) - emodel_r({0, 0, 400, VoiceCodec::kG711}),
            emodel_r({0, 0, 0, VoiceCodec::kG711}) - emodel_r({0, 0, 100, VoiceCodec::kG711}));
  EXPECT_LT(emodel_mos({0, 0, 0, VoiceCodec::kOpus}), clean);  // its lookahead
}

TEST(Emodel, MosClampsAtTheEnds) {
  EXPECT_EQ(mos_from_r(-5), 1.0);
  EXPECT_EQ(mos_from_r(120), 4.5);
  EXPECT_NEAR(emodel_mos({1.0, 0, 0, VoiceCodec::kG711}), 1.0, 0.5);
}

dataplane::FlowSnapshot flow(uint64_t received, uint64_t expected, uint64_t jitter_ns, uint32_t rate) {
  dataplane::FlowSnapshot f;
  f.reception.received = received;
  f.reception.expected = expected;
  f.reception.lost = int64_t(expected) - int64_t(received);
  f.reception.jitter_ns = jitter_ns;
  f.reception.rate = rate;
  return f;
}

TEST(StreamQuality, FromTheDataplanesFigures) {
  dataplane::FlowSnapshot rtp = flow(950, 1000, 5'000'000, 8000);
  dataplane::FlowSnapshot rtcp;
  rtcp.reported.blocks = 3;
  rtcp.reported.fraction_lost = 13;
  rtcp.reported.cumulative_lost = 40;
  rtcp.reported.jitter = 80;
  rtcp.reported.rtt_us = 60'000;
  rtcp.reported.rtt_samples = 2;
  rtcp.reported.xr_mos_q10 = 41;
  const StreamQuality q = stream_quality(rtp, rtcp);
  EXPECT_EQ(q.lost, 50u);
  EXPECT_DOUBLE_EQ(q.loss, 0.05);
  EXPECT_DOUBLE_EQ(q.jitter_ms, 5.0);
  ASSERT_TRUE(q.rtt_ms);
  EXPECT_DOUBLE_EQ(*q.rtt_ms, 60.0);
  EXPECT_NEAR(q.mos, emodel_mos({0.05, 5, 60, VoiceCodec::kG711}), 1e-9);
  ASSERT_TRUE(q.reported);
  EXPECT_NEAR(q.reported->fraction_lost, 13 / 256.0, 1e-9);
  EXPECT_DOUBLE_EQ(q.reported->jitter_ms, 10.0);  // 80 ticks at 8 kHz
  EXPECT_DOUBLE_EQ(*q.reported->xr_mos, 4.1);
}

TEST(StreamQuality, NothingReceivedHasNoMosDuplicatesNoNegativeLoss) {
  EXPECT_EQ(stream_quality(flow(0, 0, 0, 0), {}).mos, 0.0);
  EXPECT_FALSE(stream_quality(flow(0, 0, 0, 0), {}).reported);
  const StreamQuality dup = stream_quality(flow(102, 100, 0, 48000), {});
  EXPECT_EQ(dup.lost, 0u);
  EXPECT_EQ(dup.loss, 0.0);
  EXPECT_FALSE(dup.rtt_ms);
  EXPECT_NEAR(dup.mos, emodel_mos({0, 0, 0, VoiceCodec::kOpus}), 1e-9);
}

TEST(QualityHistograms, OneObservationPerStreamThatReceived) {
  QualityHistograms h;
  h.add(stream_quality(flow(0, 0, 0, 0), {}));  // nothing received: not observed
  h.add(stream_quality(flow(1000, 1000, 1'500'000, 8000), {}));
  h.add(stream_quality(flow(950, 1000, 0, 8000), {}));
  EXPECT_EQ(h.mos.count, 2u);
  EXPECT_EQ(h.rtt_seconds.count, 0u);
  // 0.05 loss falls in the bucket bounded by 0.05; no loss in the one of 0.
  EXPECT_EQ(h.loss_ratio.buckets[0], 1u);
  EXPECT_EQ(h.loss_ratio.buckets[5], 1u);
  // 1.5 ms of jitter: the bucket of 0.002 s.
  EXPECT_EQ(h.jitter_seconds.buckets[1], 1u);
  EXPECT_NEAR(h.mos.sum, emodel_mos({0, 1.5, 0, VoiceCodec::kG711}) + emodel_mos({0.05, 0, 0, VoiceCodec::kG711}),
              1e-9);
}

}  // namespace
}  // namespace vox::control

namespace vox::control {
namespace {

StreamQuality at(uint64_t received, uint64_t expected, double jitter_ms = 0) {
  StreamQuality q;
  q.rate = 8000;
  q.received = received;
  q.expected = expected;
  q.jitter_ms = jitter_ms;
  return q;
}

TEST(QualityTrack, SamplesIntervalsAndWeighsThemByPackets) {
  QualityTrack t;
  t.sample(at(0, 0), 100);  // nothing expected yet: no sample
  EXPECT_EQ(t.samples, 0u);
  t.sample(at(950, 1000), 105);  // 5 % lost in this interval
  t.sample(at(960, 1010), 110);  // a short one with nothing lost
  t.sample(at(960, 1010), 115);  // silence: no sample
  ASSERT_EQ(t.samples, 2u);
  EXPECT_NEAR(t.lowest->loss, 0.05, 1e-9);
  EXPECT_EQ(t.lowest->at_unix, 105);
  EXPECT_EQ(t.highest->loss, 0.0);
  EXPECT_NEAR(t.highest->mos, emodel_mos({0, 0, 0, VoiceCodec::kG711}), 1e-9);
  // Weighted: 1000 packets at 5 %, 10 at 0 %.
  EXPECT_NEAR(t.average().loss, 0.05 * 1000 / 1010, 1e-9);
  EXPECT_LT(t.average().mos, emodel_mos({0.045, 0, 0, VoiceCodec::kG711}));
}

}  // namespace
}  // namespace vox::control
