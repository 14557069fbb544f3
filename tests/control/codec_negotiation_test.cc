// Tests for control/codec_negotiation.cc and codec_request.cc: the NG codec
// options (dictionary and flag forms), the offer to the answerer, the
// per-direction plans from the answer, the NG error texts, and a golden SDP
// round trip (tests/data/codec/NAME.in.sdp -> NAME.out.sdp) through
// SdpMediaRewrite::codecs.
#include "control/codec_negotiation.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vox::control {
namespace {

SdpCodec codec(uint8_t pt, std::string enc, uint32_t clock, uint8_t ch = 1, std::string fmtp = "") {
  SdpCodec c;
  c.payload_type = pt;
  c.encoding = std::move(enc);
  c.clock_rate = clock;
  c.channels = ch;
  c.fmtp = std::move(fmtp);
  return c;
}

const SdpCodec kPcmu = codec(0, "PCMU", 8000);
const SdpCodec kPcma = codec(8, "PCMA", 8000);
const SdpCodec kEvents8k = codec(101, "telephone-event", 8000, 1, "0-16");
const std::string kNarrowbandOpus =
    "useinbandfec=1; maxplaybackrate=8000; sprop-maxcapturerate=8000";

// A typical PSTN-side offer: PCMU, PCMA, telephone-event/8000.
std::vector<SdpCodec> g711_offer() {
  return {kPcmu, kPcma, kEvents8k};
}

NgValue strings(const std::vector<std::string>& list) {
  NgValue v = NgValue::list();
  for (const auto& s : list) v.push(NgValue::str(s));
  return v;
}

// {"codec": {op: [names...]}, "flags": [...]}
NgValue request(const std::vector<std::pair<std::string, std::vector<std::string>>>& codec_ops,
                const std::vector<std::string>& flags = {}) {
  NgValue r = NgValue::dict();
  r.set("command", "offer");
  if (!codec_ops.empty()) {
    NgValue c = NgValue::dict();
    for (const auto& [op, names] : codec_ops) c.set(op, strings(names));
    r.set("codec", std::move(c));
  }
  if (!flags.empty()) r.set("flags", strings(flags));
  return r;
}

CodecRequest parsed(const NgValue& r) {
  auto req = parse_codec_request(r);
  EXPECT_TRUE(req.ok()) << (req.ok() ? "" : req.error());
  return req.ok() ? *req : CodecRequest{};
}

std::string parse_error(const NgValue& r) {
  auto req = parse_codec_request(r);
  EXPECT_FALSE(req.ok());
  return req.ok() ? "" : req.error();
}

CodecPlan offer_plan(const std::vector<SdpCodec>& offered, const CodecRequest& req, int ptime = 0) {
  auto p = plan_offer(offered, req, ptime);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error());
  return p.ok() ? *p : CodecPlan{};
}

AnswerPlan answer_plan(const CodecPlan& plan, const std::vector<SdpCodec>& answered,
                       const CodecRequest& req = {}, int ptime = 0) {
  auto a = plan_answer(plan, answered, req, ptime);
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error());
  return a.ok() ? *a : AnswerPlan{};
}

std::vector<uint8_t> pts_of(const std::vector<SdpCodec>& codecs) {
  std::vector<uint8_t> out;
  for (const auto& c : codecs) out.push_back(c.payload_type);
  return out;
}

// ---- codecs as SDP describes them -------------------------------------------------

TEST(CodecSdp, CodecsOfUsesRtpmapAndStaticDefaults) {
  auto sdp = parse_sdp(
      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "m=audio 5000 RTP/AVP 0 8 9 18 3 13 111 101 97\r\n"
      "a=rtpmap:111 OPUS/48000/2\r\n"
      "a=fmtp:111 useinbandfec=1; usedtx=1\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\n"
      "a=fmtp:18 annexb=no\r\n"
      "a=ptime:30\r\n");
  ASSERT_TRUE(sdp.ok());
  auto c = codecs_of(sdp->media[0]);
  ASSERT_EQ(c.size(), 9u);
  EXPECT_EQ(c[0], kPcmu);
  EXPECT_EQ(c[1], kPcma);
  EXPECT_EQ(c[2], codec(9, "G722", 8000));  // RFC 3551 §4.5.2: 8000 in RTP
  EXPECT_EQ(c[3], codec(18, "G729", 8000, 1, "annexb=no"));
  EXPECT_EQ(c[4], codec(3, "GSM", 8000));
  EXPECT_EQ(c[5], codec(13, "CN", 8000));
  EXPECT_EQ(c[6], codec(111, "OPUS", 48000, 2, "useinbandfec=1; usedtx=1"));  // spelling kept
  EXPECT_EQ(c[7], codec(101, "telephone-event", 8000, 1, "0-15"));
  EXPECT_EQ(c[8], codec(97, "", 0));  // dynamic without rtpmap: unknown
  EXPECT_EQ(codec_kind(c[6]), CodecKind::kOpus);
  EXPECT_TRUE(can_transcode(c[6]));
  EXPECT_FALSE(can_transcode(c[2]));
  EXPECT_TRUE(is_supplemental(c[5]));
  EXPECT_TRUE(is_supplemental(c[7]));
  EXPECT_EQ(ptime_of(sdp->media[0]), 30);
  EXPECT_EQ(fmtp_parameter(c[6].fmtp, "usedtx"), "1");
  EXPECT_EQ(fmtp_parameter("minptime=10;useinbandfec=1", "useinbandfec"), "1");
  EXPECT_FALSE(fmtp_parameter(c[6].fmtp, "stereo"));
  EXPECT_EQ(c[6].rtpmap(), "OPUS/48000/2");
  EXPECT_EQ(kPcmu.rtpmap(), "PCMU/8000");
  EXPECT_TRUE(c[6].same_format(codec(96, "opus", 48000, 2)));
  EXPECT_FALSE(c[6].same_format(codec(96, "opus", 48000, 1)));
}

// ---- the request ------------------------------------------------------------------

TEST(CodecRequest, SpecFieldsAndMatching) {
  auto s = parse_codec_spec("opus/48000/2/32000");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->name, "opus");
  EXPECT_EQ(s->clock_rate, 48000u);
  EXPECT_EQ(s->channels, 2);
  EXPECT_EQ(s->bitrate, 32000);
  auto ilbc = parse_codec_spec("iLBC/8000/1///mode--30");
  ASSERT_TRUE(ilbc.ok());
  EXPECT_EQ(ilbc->fmtp, "mode=30");
  auto opt = parse_codec_spec("opus/48000/2////complexity=3");
  ASSERT_TRUE(opt.ok());
  EXPECT_EQ(opt->options, "complexity=3");
  EXPECT_FALSE(parse_codec_spec("opus/abc").ok());
  EXPECT_FALSE(parse_codec_spec("/8000").ok());

  const SdpCodec opus = codec(96, "opus", 48000, 2);
  EXPECT_TRUE(parse_codec_spec("pcmu")->matches(kPcmu));  // names are case-insensitive
  EXPECT_TRUE(parse_codec_spec("opus")->matches(opus));
  EXPECT_TRUE(parse_codec_spec("opus/48000/2")->matches(opus));
  EXPECT_FALSE(parse_codec_spec("opus/48000")->matches(opus));  // rtpengine: that is mono
  EXPECT_FALSE(parse_codec_spec("opus/16000")->matches(opus));
  EXPECT_TRUE(parse_codec_spec("101")->matches(kEvents8k));  // by payload type
  EXPECT_TRUE(parse_codec_spec("all")->matches(kPcma));
}

// (i) The flag shorthand and the dictionary give the same request.
TEST(CodecRequest, FlagShorthandEqualsDictionary) {
  const CodecRequest dict =
      parsed(request({{"strip", {"G729"}},
                      {"offer", {"PCMU"}},
                      {"mask", {"PCMA"}},
                      {"consume", {"G722"}},
                      {"accept", {"opus/48000/2"}},
                      {"transcode", {"opus/48000/2/24000", "telephone-event"}},
                      {"set", {"opus/48000/2/32000"}},
                      {"except", {"telephone-event"}}},
                     {"single-codec", "always-transcode"}));
  const CodecRequest flags = parsed(
      request({}, {"codec-strip-G729", "codec-offer-PCMU", "codec-mask-PCMA", "codec-consume-G722",
                   "codec-accept-opus/48000/2", "codec-transcode-opus/48000/2/24000",
                   "codec-transcode-telephone-event", "codec-set-opus/48000/2/32000",
                   "codec-except-telephone-event", "single codec", "always transcode"}));
  EXPECT_EQ(dict, flags);
  EXPECT_TRUE(flags.single_codec);
  EXPECT_TRUE(flags.always_transcode);
  ASSERT_EQ(flags.transcode.size(), 2u);
  EXPECT_EQ(flags.transcode[1].name, "telephone-event");
  // A single string instead of a list.
  NgValue single = request({});
  NgValue c = NgValue::dict();
  c.set("transcode", "opus");
  single.set("codec", std::move(c));
  EXPECT_EQ(parsed(single).transcode, parsed(request({}, {"codec-transcode-opus"})).transcode);
  // Spaces and underscores are hyphens in NG flag names.
  EXPECT_EQ(parsed(request({}, {"codec strip PCMA"})).strip,
            parsed(request({{"strip", {"PCMA"}}})).strip);
  EXPECT_EQ(parsed(request({}, {"CODEC_MASK_PCMA"})).mask,
            parsed(request({{"mask", {"PCMA"}}})).mask);
  // "transcode-opus": the short form rtpengine takes (OpenSIPS's docs).
  EXPECT_EQ(parsed(request({}, {"transcode-opus"})), parsed(request({{"transcode", {"opus"}}})));
}

TEST(CodecRequest, PtimeKeys) {
  NgValue r = request({});
  r.set("ptime", int64_t(30));
  r.set("ptime-reverse", "40");  // proxies send integers or strings
  CodecRequest req = parsed(r);
  EXPECT_EQ(req.ptime, 30);
  EXPECT_EQ(req.ptime_reverse, 40);
  NgValue spaced = request({});
  spaced.set("ptime reverse", int64_t(20));
  EXPECT_EQ(parsed(spaced).ptime_reverse, 20);
}

// (g) request errors are NG error-reason texts.
TEST(CodecRequest, Errors) {
  EXPECT_EQ(parse_error(request({{"transcode", {"G729"}}})),
            "Unsupported codec for transcoding: G729 (voxrelay transcodes PCMU, PCMA, opus and "
            "telephone-event)");
  EXPECT_EQ(parse_error(request({}, {"codec-transcode-AMR-WB"})),
            "Unsupported codec for transcoding: AMR-WB (voxrelay transcodes PCMU, PCMA, opus and "
            "telephone-event)");
  EXPECT_EQ(parse_error(request({{"transcode", {"opus/16000"}}})).substr(0, 45),
            "Unsupported codec for transcoding: opus/16000");
  EXPECT_EQ(parse_error(request({{"transcode", {"PCMU/8000/2"}}})).substr(0, 46),
            "Unsupported codec for transcoding: PCMU/8000/2");
  EXPECT_EQ(parse_error(request({{"transcode", {"all"}}})).substr(0, 38),
            "Unsupported codec for transcoding: all");
  EXPECT_EQ(parse_error(request({{"set", {"opus/48000/2/1000"}}})),
            "Invalid codec bitrate: opus/48000/2/1000 (opus takes 6000 to 510000 bit/s)");
  EXPECT_EQ(parse_error(request({{"strip", {"PCMU/x"}}})), "Invalid codec specification: PCMU/x");
  NgValue bad_dict = request({});  // ignored (the NG layer logs it), as rtpengine does
  bad_dict.set("codec", "PCMU");
  EXPECT_TRUE(parse_codec_request(bad_dict).ok());
  NgValue bad_ptime = request({});
  bad_ptime.set("ptime", int64_t(25));  // any whole ms G.711 can be packetized in
  EXPECT_EQ(parse_codec_request(bad_ptime)->ptime, 25);
  bad_ptime.set("ptime", int64_t(7));
  EXPECT_EQ(parse_error(bad_ptime), "Unsupported ptime: 7 (voxrelay packetizes 10 to 60 ms)");
  bad_ptime.set("ptime", "twenty");
  EXPECT_EQ(parse_error(bad_ptime), "Invalid ptime: twenty");
  // Unknown codec-* flags and other flags are not errors.
  EXPECT_TRUE(parse_codec_request(request({}, {"codec-frobnicate-PCMU", "trust-address"})).ok());
}

// ---- offer / answer golden cases ---------------------------------------------------

TEST(CodecOffer, NoOptionsOffersTheSameList) {
  auto plan = offer_plan(g711_offer(), {});
  EXPECT_EQ(plan.to_answerer, g711_offer());
  EXPECT_TRUE(plan.added.empty());
  ASSERT_EQ(plan.offerer.size(), 3u);
  EXPECT_FALSE(plan.offerer[1].masked);
}

// (a) PCMU+PCMA+te/8000, mask PCMA, transcode opus; the answerer picks Opus.
TEST(CodecOffer, MaskPcmaTranscodeOpus) {
  auto plan = offer_plan(g711_offer(),
                         parsed(request({}, {"codec-mask-PCMA", "codec-transcode-opus"})), 20);
  const std::vector<SdpCodec> want = {kPcmu, codec(96, "opus", 48000, 2, kNarrowbandOpus),
                                      kEvents8k, codec(97, "telephone-event", 48000, 1, "0-16")};
  EXPECT_EQ(plan.to_answerer, want);
  EXPECT_EQ(plan.added, (std::vector<uint8_t>{96, 97}));
  ASSERT_EQ(plan.offerer.size(), 3u);  // PCMA stays a transcoding source
  EXPECT_EQ(plan.offerer[1].codec, kPcma);
  EXPECT_TRUE(plan.offerer[1].masked);
  EXPECT_FALSE(plan.offerer[1].accepted);

  // The answerer takes Opus with its own fmtp and te/48000.
  const SdpCodec b_opus = codec(96, "opus", 48000, 2, "minptime=10;useinbandfec=1");
  auto a = answer_plan(plan, {b_opus, codec(97, "telephone-event", 48000, 1, "0-16")}, {}, 20);
  EXPECT_TRUE(a.transcoding());
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));  // the offerer's PTs

  const StreamPlan& ab = a.offerer_to_answerer;
  EXPECT_TRUE(ab.transcode);
  EXPECT_EQ(ab.in, kPcmu);
  EXPECT_EQ(ab.in_kind, CodecKind::kPcmu);
  EXPECT_EQ(ab.in_event_pt, 101);
  EXPECT_EQ(ab.out, b_opus);
  EXPECT_EQ(ab.out_kind, CodecKind::kOpus);
  EXPECT_EQ(ab.out.clock_rate, 48000u);
  EXPECT_EQ(ab.out_event_pt, 97);
  EXPECT_EQ(ab.in_ptime_ms, 20);
  EXPECT_EQ(ab.out_ptime_ms, 20);
  EXPECT_TRUE(ab.far_side_fec);  // from the answerer's fmtp, not ours
  EXPECT_FALSE(ab.far_side_dtx);
  EXPECT_FALSE(ab.opus_bitrate);

  const StreamPlan& ba = a.answerer_to_offerer;
  EXPECT_TRUE(ba.transcode);
  EXPECT_EQ(ba.in.payload_type, 96);
  EXPECT_EQ(ba.in_kind, CodecKind::kOpus);
  EXPECT_EQ(ba.in_event_pt, 97);
  EXPECT_EQ(ba.out, kPcmu);
  EXPECT_EQ(ba.out_event_pt, 101);
  EXPECT_TRUE(ba.far_side_fec);
  EXPECT_EQ(a.offerer_sdp_ptime, 20);
}

// (b) Same offer; the answerer picks PCMU: plain passthrough.
TEST(CodecAnswer, PassthroughWhenTheAnswererPicksAnOfferedCodec) {
  auto plan =
      offer_plan(g711_offer(), parsed(request({}, {"codec-mask-PCMA", "codec-transcode-opus"})));
  auto a = answer_plan(plan, {kPcmu, kEvents8k});
  EXPECT_FALSE(a.transcoding());
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));
  EXPECT_EQ(a.offerer_to_answerer.in, kPcmu);
  EXPECT_EQ(a.offerer_to_answerer.out, kPcmu);
  EXPECT_FALSE(a.offerer_to_answerer.rewrites_pt());
  EXPECT_EQ(a.offerer_to_answerer.in_event_pt, 101);
  EXPECT_EQ(a.offerer_to_answerer.out_event_pt, 101);
  EXPECT_EQ(a.answerer_to_offerer.in_event_pt, 101);
  EXPECT_FALSE(a.offerer_sdp_ptime);

  // Without telephone-event in the answer, the offerer is not offered it either.
  auto plain = answer_plan(plan, {kPcmu});
  EXPECT_FALSE(plain.transcoding());
  EXPECT_EQ(plain.to_offerer, (std::vector<SdpCodec>{kPcmu}));
  EXPECT_EQ(plain.offerer_to_answerer.in_event_pt, kNoEvents);
}

// (c) always-transcode (= accept all): the offerer is answered in its first
// codec whatever the answerer picks.
TEST(CodecAnswer, AlwaysTranscode) {
  auto plan =
      offer_plan(g711_offer(), parsed(request({}, {"always-transcode", "codec-transcode-opus"})));
  EXPECT_TRUE(plan.always_transcode);
  for (const auto& oc : plan.offerer) EXPECT_TRUE(oc.accepted);
  EXPECT_EQ(pts_of(plan.to_answerer), (std::vector<uint8_t>{0, 8, 96, 101, 97}));

  auto pcma = answer_plan(plan, {kPcma, kEvents8k});
  EXPECT_TRUE(pcma.transcoding());
  EXPECT_EQ(pcma.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));
  EXPECT_EQ(pcma.offerer_to_answerer.in, kPcmu);
  EXPECT_EQ(pcma.offerer_to_answerer.out, kPcma);
  EXPECT_EQ(pcma.answerer_to_offerer.in_event_pt, 101);
  EXPECT_EQ(pcma.answerer_to_offerer.out_event_pt, 101);

  auto opus = answer_plan(plan, {codec(96, "opus", 48000, 2)});
  EXPECT_TRUE(opus.transcoding());
  EXPECT_EQ(opus.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));  // DTMF converted
  EXPECT_EQ(opus.offerer_to_answerer.out_event_pt, kNoEvents);  // the answerer gets DTMF as tones

  // Same codec on both sides: nothing to transcode.
  auto pcmu = answer_plan(plan, {kPcmu, kEvents8k});
  EXPECT_FALSE(pcmu.transcoding());
  EXPECT_EQ(pcmu.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));

  // Without the flag, PCMA is simply passed through.
  auto no_flag = offer_plan(g711_offer(), parsed(request({}, {"codec-transcode-opus"})));
  auto passed = answer_plan(no_flag, {kPcma, kEvents8k});
  EXPECT_FALSE(passed.transcoding());
  EXPECT_EQ(passed.to_offerer, (std::vector<SdpCodec>{kPcma, kEvents8k}));
}

// (d) strip all + offer: only what is named, in the order named.
TEST(CodecOffer, StripAllThenOffer) {
  const std::vector<SdpCodec> offered = {kPcma, kPcmu, codec(18, "G729", 8000, 1, "annexb=no"),
                                         kEvents8k};
  auto pcmu = offer_plan(offered, parsed(request({{"strip", {"all"}}, {"offer", {"PCMU"}}})));
  EXPECT_EQ(pcmu.to_answerer, (std::vector<SdpCodec>{kPcmu}));
  EXPECT_EQ(pcmu.offerer.size(), 1u);  // stripped codecs are gone for good
  auto reordered =
      offer_plan(offered, parsed(request({}, {"codec-strip-all", "codec-offer-PCMU",
                                              "codec-offer-PCMA", "codec-offer-telephone-event"})));
  EXPECT_EQ(reordered.to_answerer, (std::vector<SdpCodec>{kPcmu, kPcma, kEvents8k}));
  // `offer` alone re-adds only what was stripped: present codecs stay put.
  EXPECT_EQ(offer_plan(offered, parsed(request({{"offer", {"PCMU"}}}))).to_answerer, offered);
  // strip all + transcode of an offered codec restores it (no transcoding).
  auto restored =
      offer_plan(offered, parsed(request({{"strip", {"all"}}, {"transcode", {"PCMU"}}})));
  EXPECT_EQ(restored.to_answerer, (std::vector<SdpCodec>{kPcmu}));
  EXPECT_TRUE(restored.added.empty());
  // strip full + transcode: a new instance, transcoded.
  auto full = offer_plan(
      {kPcma, kPcmu},
      parsed(request({{"strip", {"full"}}, {"except", {"PCMA"}}, {"transcode", {"PCMU"}}})));
  EXPECT_EQ(full.to_answerer, (std::vector<SdpCodec>{kPcma, codec(96, "PCMU", 8000)}));
  EXPECT_EQ(full.added, (std::vector<uint8_t>{96}));
}

// (e) except: the survivors of strip all / mask all, in the original order.
TEST(CodecOffer, Except) {
  const std::vector<SdpCodec> offered = {codec(18, "G729", 8000), kPcma, kPcmu, kEvents8k};
  auto kept = offer_plan(
      offered,
      parsed(request({{"strip", {"all"}}, {"except", {"PCMU", "PCMA", "telephone-event"}}})));
  EXPECT_EQ(kept.to_answerer, (std::vector<SdpCodec>{kPcma, kPcmu, kEvents8k}));
  EXPECT_EQ(kept.offerer.size(), 3u);
  // mask all + except: the rest stays usable from the offerer.
  auto masked = offer_plan(
      offered, parsed(request({}, {"codec-mask-all", "codec-except-PCMU",
                                   "codec-except-telephone-event", "codec-transcode-opus"})));
  EXPECT_EQ(pts_of(masked.to_answerer), (std::vector<uint8_t>{0, 96, 101, 97}));
  ASSERT_EQ(masked.offerer.size(), 4u);
  EXPECT_TRUE(masked.offerer[0].masked);
  EXPECT_TRUE(masked.offerer[1].masked);
  EXPECT_FALSE(masked.offerer[2].masked);
  // except alone changes nothing (rtpengine: it only qualifies "all").
  EXPECT_EQ(offer_plan(offered, parsed(request({{"except", {"PCMU"}}}))).to_answerer, offered);
}

// (f) set / transcode carry Opus encoder options.
TEST(CodecAnswer, OpusEncoderOptions) {
  const SdpCodec b_opus = codec(96, "opus", 48000, 2, "useinbandfec=0");
  auto with_set = offer_plan(
      g711_offer(),
      parsed(request({{"transcode", {"opus/48000/2/16000"}}, {"set", {"opus/48000/2/32000"}}})));
  auto a = answer_plan(with_set, {b_opus});
  EXPECT_EQ(a.offerer_to_answerer.opus_bitrate, 32000);  // set wins over transcode
  EXPECT_FALSE(a.offerer_to_answerer.far_side_fec);      // useinbandfec=0
  EXPECT_FALSE(a.answerer_to_offerer.opus_bitrate);      // that direction encodes G.711

  auto from_transcode =
      offer_plan(g711_offer(), parsed(request({}, {"codec-transcode-opus/48000/2/16000"})));
  EXPECT_EQ(answer_plan(from_transcode, {b_opus}).offerer_to_answerer.opus_bitrate, 16000);

  // A mono spec still applies: SDP always says /2 for Opus.
  auto mono = offer_plan(
      g711_offer(), parsed(request({{"transcode", {"opus"}}, {"set", {"opus/48000/1/12000"}}})));
  EXPECT_EQ(answer_plan(mono, {b_opus}).offerer_to_answerer.opus_bitrate, 12000);

  auto complexity =
      offer_plan(g711_offer(), parsed(request({{"transcode", {"opus/48000/2////complexity=2"}}})));
  EXPECT_EQ(answer_plan(complexity, {b_opus}).offerer_to_answerer.opus_complexity, 2);
  auto ffmpeg = offer_plan(
      g711_offer(), parsed(request({{"transcode", {"opus/48000/2////compression_level--7"}}})));
  EXPECT_EQ(answer_plan(ffmpeg, {b_opus}).offerer_to_answerer.opus_complexity, 7);

  // The receiver's maxaveragebitrate caps the bitrate (RFC 7587 §6.1).
  const SdpCodec capped = codec(96, "opus", 48000, 2, "maxaveragebitrate=20000; usedtx=1");
  auto c = answer_plan(with_set, {capped});
  EXPECT_EQ(c.offerer_to_answerer.opus_bitrate, 20000);
  EXPECT_TRUE(c.offerer_to_answerer.far_side_dtx);
  auto uncapped =
      answer_plan(offer_plan(g711_offer(), parsed(request({{"transcode", {"opus"}}}))), {capped});
  EXPECT_EQ(uncapped.offerer_to_answerer.opus_bitrate, 20000);
}

// (g) offer and answer errors.
TEST(CodecErrors, OfferAndAnswer) {
  // Options that leave no media codec: rtpengine restores the offered list
  // (keeping ptime), and so does voxrelay.
  const auto plain = plan_offer(g711_offer(), parsed(request({})));
  ASSERT_TRUE(plain.ok());
  using Ops = std::vector<std::pair<std::string, std::vector<std::string>>>;
  for (const Ops& ops : {Ops{{"strip", {"all"}}}, Ops{{"strip", {"PCMU", "PCMA"}}}, Ops{{"mask", {"all"}}}}) {
    NgValue req = request(ops);
    req.set("ptime", int64_t(30));
    auto restored = plan_offer(g711_offer(), parsed(req));
    ASSERT_TRUE(restored.ok()) << ops[0].first;
    EXPECT_EQ(restored->to_answerer, plain->to_answerer) << ops[0].first;
    EXPECT_TRUE(restored->added.empty());
    EXPECT_EQ(restored->ptime, 30);
  }
  // An offer of telephone-event alone has no media codec to restore.
  auto only_events = plan_offer({kEvents8k}, parsed(request({})));
  ASSERT_FALSE(only_events.ok());
  EXPECT_EQ(only_events.error(), "No codec left to offer (all codecs stripped or masked)");

  auto no_source =
      plan_offer({codec(18, "G729", 8000)}, parsed(request({{"transcode", {"opus"}}})));
  ASSERT_FALSE(no_source.ok());
  EXPECT_EQ(no_source.error(),
            "No codec in the offer can be transcoded (voxrelay transcodes PCMU, PCMA, opus and "
            "telephone-event)");

  auto plan =
      offer_plan(g711_offer(), parsed(request({{"mask", {"PCMA"}}, {"transcode", {"opus"}}})));
  auto never = plan_answer(plan, {codec(9, "G722", 8000)});
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error(), "Answer contains a codec that was not offered: G722/8000");
  auto masked = plan_answer(plan, {kPcma});  // masked: the answerer never saw it
  ASSERT_FALSE(masked.ok());
  EXPECT_EQ(masked.error(), "Answer contains a codec that was not offered: PCMA/8000");
  auto unknown_pt = plan_answer(plan, {codec(120, "", 0)});
  ASSERT_FALSE(unknown_pt.ok());
  EXPECT_EQ(unknown_pt.error(), "Answer contains a codec that was not offered: payload type 120");
  auto nothing = plan_answer(plan, {kEvents8k});
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.error(), "No codec in the answer");

  // 32 dynamic payload types all taken.
  std::vector<SdpCodec> crowded = {kPcmu};
  for (uint8_t pt = 96; pt < 128; ++pt)
    crowded.push_back(codec(pt, "X-" + std::to_string(pt), 8000));
  auto full = plan_offer(crowded, parsed(request({{"transcode", {"opus"}}})));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), "No free RTP payload type for transcoding");
}

// (h) New payload types avoid every number the offer uses.
TEST(CodecOffer, FreshPayloadTypesSkipOfferedOnes) {
  const std::vector<SdpCodec> offered = {codec(96, "iLBC", 8000, 1, "mode=30"), kPcmu,
                                         codec(97, "speex", 16000),
                                         codec(98, "telephone-event", 8000, 1, "0-15")};
  auto plan = offer_plan(offered, parsed(request({{"transcode", {"opus", "PCMA"}}})));
  EXPECT_EQ(plan.to_answerer,
            (std::vector<SdpCodec>{
                offered[0], kPcmu, offered[2], codec(99, "opus", 48000, 2, kNarrowbandOpus),
                kPcma /* static 8 is free */, offered[3],
                codec(100, "telephone-event", 48000, 1, "0-15") /* fmtp copied */}));
  EXPECT_EQ(plan.added, (std::vector<uint8_t>{99, 8, 100}));
  // PCMA's static number taken by something else: a dynamic one.
  auto taken =
      offer_plan({kPcmu, codec(8, "X-weird", 8000)}, parsed(request({{"transcode", {"PCMA"}}})));
  EXPECT_EQ(taken.to_answerer.back(), codec(96, "PCMA", 8000));
}

TEST(CodecOffer, OpusFmtpNotNarrowbandWhenTheOffererHasOpus) {
  const SdpCodec a_opus = codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1");
  // Opus masked by name, then transcoded: a new instance beside PCMA.
  auto plan =
      offer_plan({a_opus, kPcma}, parsed(request({{"mask", {"opus"}}, {"transcode", {"opus"}}})));
  EXPECT_EQ(plan.to_answerer,
            (std::vector<SdpCodec>{kPcma, codec(96, "opus", 48000, 2, "useinbandfec=1")}));
  // A spec's sixth field replaces our fmtp.
  auto own =
      offer_plan(g711_offer(),
                 parsed(request({{"transcode", {"opus/48000/2///stereo--0; useinbandfec--1"}}})));
  ASSERT_EQ(own.to_answerer.size(), 5u);
  EXPECT_EQ(own.to_answerer[2], codec(96, "opus", 48000, 2, "stereo=0; useinbandfec=1"));
}

// The offerer speaks Opus, the answerer only G.711.
TEST(CodecAnswer, OpusOffererToG711Answerer) {
  const SdpCodec a_opus = codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1");
  const SdpCodec a_te = codec(110, "telephone-event", 48000, 1, "0-15");
  auto plan = offer_plan(
      {a_opus, a_te},
      parsed(request({}, {"codec-mask-opus", "codec-transcode-PCMU", "codec-transcode-PCMA"})));
  EXPECT_EQ(plan.to_answerer,
            (std::vector<SdpCodec>{kPcmu, kPcma, codec(96, "telephone-event", 8000, 1, "0-15")}));
  auto a = answer_plan(plan, {kPcma, codec(96, "telephone-event", 8000, 1, "0-15")});
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{a_opus, a_te}));
  const StreamPlan& ab = a.offerer_to_answerer;
  EXPECT_EQ(ab.in_kind, CodecKind::kOpus);
  EXPECT_EQ(ab.in.payload_type, 111);
  EXPECT_EQ(ab.in_event_pt, 110);
  EXPECT_EQ(ab.out_kind, CodecKind::kPcma);
  EXPECT_EQ(ab.out_event_pt, 96);
  EXPECT_TRUE(ab.far_side_fec);  // the offerer's Opus fmtp
  const StreamPlan& ba = a.answerer_to_offerer;
  EXPECT_EQ(ba.out_kind, CodecKind::kOpus);
  EXPECT_EQ(ba.out.payload_type, 111);
  EXPECT_EQ(ba.out_event_pt, 110);
  EXPECT_TRUE(ba.far_side_fec);
}

TEST(CodecAnswer, SingleCodecKeepsTelephoneEvent) {
  auto plan = offer_plan(g711_offer(), {});
  auto a = answer_plan(plan, {kPcma, kPcmu, kEvents8k}, parsed(request({}, {"single-codec"})));
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{kPcma, kEvents8k}));
  auto all = answer_plan(plan, {kPcma, kPcmu, kEvents8k});
  EXPECT_EQ(all.to_offerer, (std::vector<SdpCodec>{kPcma, kPcmu, kEvents8k}));
}

TEST(CodecAnswer, AnswererRenumberedPayloadTypes) {
  auto plan = offer_plan({kPcmu, kEvents8k}, {});
  // RFC 3264 §6.1 only says SHOULD keep the numbers.
  auto a = answer_plan(plan, {kPcmu, codec(100, "telephone-event", 8000, 1, "0-16")});
  EXPECT_FALSE(a.transcoding());
  EXPECT_EQ(a.offerer_to_answerer.in_event_pt, 101);
  EXPECT_EQ(a.offerer_to_answerer.out_event_pt, 100);  // what the answerer asked for
  EXPECT_EQ(a.answerer_to_offerer.in_event_pt, 101);   // what we told it to send
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{kPcmu, kEvents8k}));
}

TEST(CodecAnswer, EventsTheOffererCannotTakeBecomeTones) {
  // The offerer has no telephone-event; transcode adds one for the answerer.
  auto plan = offer_plan({kPcmu}, parsed(request({{"transcode", {"telephone-event"}}})));
  EXPECT_EQ(plan.to_answerer,
            (std::vector<SdpCodec>{kPcmu, codec(96, "telephone-event", 8000, 1, "0-16")}));
  auto a = answer_plan(plan, {kPcmu, codec(96, "telephone-event", 8000, 1, "0-16")});
  EXPECT_FALSE(a.offerer_to_answerer.transcode);
  EXPECT_TRUE(a.answerer_to_offerer.transcode);  // PCMU -> PCMU with a tone generator
  EXPECT_EQ(a.answerer_to_offerer.in_event_pt, 96);
  EXPECT_EQ(a.answerer_to_offerer.out_event_pt, kNoEvents);
  EXPECT_EQ(a.to_offerer, (std::vector<SdpCodec>{kPcmu}));
}

TEST(CodecAnswer, PtimeRepacketizes) {
  NgValue r = request({});
  r.set("ptime", int64_t(40));
  r.set("ptime-reverse", int64_t(30));
  auto plan = offer_plan(g711_offer(), parsed(r), 20);
  EXPECT_EQ(plan.answerer_sdp_ptime(), 40);
  auto a = answer_plan(plan, {kPcmu, kEvents8k}, {}, 20);
  EXPECT_TRUE(a.offerer_to_answerer.transcode);  // same codec, new packet size
  EXPECT_EQ(a.offerer_to_answerer.in_ptime_ms, 20);
  EXPECT_EQ(a.offerer_to_answerer.out_ptime_ms, 40);
  EXPECT_TRUE(a.answerer_to_offerer.transcode);
  EXPECT_EQ(a.answerer_to_offerer.out_ptime_ms, 30);
  EXPECT_EQ(a.offerer_sdp_ptime, 30);
  // Already at that ptime: nothing to do.
  auto same = answer_plan(plan, {kPcmu, kEvents8k}, {}, 30);
  EXPECT_FALSE(same.answerer_to_offerer.transcode);
  // Transcoding toward the answerer takes its a=ptime when none is requested.
  auto opus = offer_plan(g711_offer(), parsed(request({{"transcode", {"opus"}}})), 30);
  auto o = answer_plan(opus, {codec(96, "opus", 48000, 2)}, {}, 60);
  EXPECT_EQ(o.offerer_to_answerer.out_ptime_ms, 60);
  EXPECT_EQ(o.answerer_to_offerer.in_ptime_ms, 60);
  EXPECT_EQ(o.answerer_to_offerer.out_ptime_ms, 30);
  EXPECT_EQ(o.offerer_sdp_ptime, 30);
}

// ---- (j) SDP round trip --------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

SdpMediaRewrite relay(uint16_t rtp) {
  SdpMediaRewrite r;
  r.address = *IpAddr::parse("203.0.113.1");
  r.rtp_port = rtp;
  r.rtcp_port = uint16_t(rtp + 1);
  return r;
}

TEST(CodecSdp, TranscodingRoundTripGolden) {
  const std::string dir = std::string(VOX_TEST_DATA) + "/codec/";
  auto offer = parse_sdp(read_file(dir + "g711_offer.in.sdp"));
  ASSERT_TRUE(offer.ok());
  auto plan = plan_offer(codecs_of(offer->media[0]),
                         parsed(request({{"mask", {"PCMA"}}, {"transcode", {"opus"}}})),
                         ptime_of(offer->media[0]));
  ASSERT_TRUE(plan.ok()) << plan.error();
  SdpRewrite to_b;
  to_b.media = {relay(30000)};
  to_b.media[0].codecs = plan->to_answerer;
  to_b.media[0].ptime = plan->answerer_sdp_ptime();
  const std::string offer_out = render_sdp(*offer, to_b);
  EXPECT_EQ(offer_out, read_file(dir + "g711_offer.out.sdp"));
  EXPECT_NE(offer_out.find("m=audio 30000 RTP/AVP 0 96 101 97\r\n"), std::string::npos);

  auto answer = parse_sdp(read_file(dir + "opus_answer.in.sdp"));
  ASSERT_TRUE(answer.ok());
  auto a = plan_answer(*plan, codecs_of(answer->media[0]), {}, ptime_of(answer->media[0]));
  ASSERT_TRUE(a.ok()) << a.error();
  SdpRewrite to_a;
  to_a.media = {relay(30002)};
  to_a.media[0].codecs = a->to_offerer;
  to_a.media[0].ptime = a->offerer_sdp_ptime;
  EXPECT_EQ(render_sdp(*answer, to_a), read_file(dir + "opus_answer.out.sdp"));
  // Both outputs parse back to the codecs that were planned.
  auto again = parse_sdp(offer_out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(codecs_of(again->media[0]), plan->to_answerer);
}

}  // namespace
}  // namespace vox::control
