// Answer planning for G.711 <-> Opus transcoding: from the codec the
// answerer chose, what each direction of media needs (passthrough or the
// transcoder's settings) and which codecs the offerer is answered with.
// The rules are listed in control/codec_negotiation.h.
#include <algorithm>

#include "codecs/transcoder.h"
#include "control/codec_negotiation.h"

namespace vox::control {
namespace {

// The to_answerer entry an answered codec is: same PT and format, else the
// same format under another number, else (no rtpmap) the same PT.
const SdpCodec* offered_as(const CodecPlan& plan, const SdpCodec& b) {
  for (const auto& o : plan.to_answerer)
    if (o.payload_type == b.payload_type && o.same_format(b)) return &o;
  for (const auto& o : plan.to_answerer)
    if (o.same_format(b)) return &o;
  if (b.encoding.empty())
    for (const auto& o : plan.to_answerer)
      if (o.payload_type == b.payload_type) return &o;
  return nullptr;
}

// The answered codec under the number it was offered with, with the
// format filled in when the answer had no rtpmap for it.
SdpCodec as_offered(const SdpCodec& answered, const SdpCodec& offered) {
  SdpCodec c = answered;
  c.payload_type = offered.payload_type;
  if (c.encoding.empty()) {
    c.encoding = offered.encoding;
    c.clock_rate = offered.clock_rate;
    c.channels = offered.channels;
  }
  return c;
}

// codecs::TranscoderConfig takes input packet times of 10 to 120 ms.
int clamp_in_ptime(int ms) {
  return std::clamp(ms, 10, 120);
}

// The first of the requested, the spec's and the receiver's packet time
// that the transcoder produces toward `out` (an NG ptime of 25 suits G.711
// but is no Opus frame size), else 20 ms.
int out_ptime(const SdpCodec& out, std::optional<int> requested, std::optional<int> spec,
              int receiver_ms) {
  const auto codec = codec_kind(out) == CodecKind::kOpus ? codecs::AudioCodec::kOpus
                                                         : codecs::AudioCodec::kPcmu;
  for (std::optional<int> ms : {requested, spec, std::optional<int>(receiver_ms)})
    if (ms && codecs::valid_out_ptime(codec, *ms)) return *ms;
  return 20;
}

// The last option spec (transcode ones first, then set: set wins) that
// applies to this codec. Opus channels are not compared: SDP always says 2.
const CodecSpec* options_for(const CodecPlan& plan, const SdpCodec& c,
                             bool (*has)(const CodecSpec&)) {
  const CodecSpec* found = nullptr;
  for (const auto& s : plan.options) {
    if (!codec_name_equal(s.name, c.encoding) || (s.clock_rate && *s.clock_rate != c.clock_rate))
      continue;
    if (codec_kind(c) != CodecKind::kOpus && s.channels && *s.channels != c.channels) continue;
    if (has(s)) found = &s;
  }
  return found;
}

// "complexity=3" or ffmpeg's "compression_level=3" among the options
// (separated by space, colon, semicolon or comma, as rtpengine allows).
std::optional<int> complexity_option(std::string_view options) {
  size_t i = 0;
  while (i < options.size()) {
    size_t end = options.find_first_of(" :;,", i);
    if (end == std::string_view::npos) end = options.size();
    std::string_view kv = options.substr(i, end - i);
    i = end + 1;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = kv.substr(0, eq);
    if (!codec_name_equal(key, "complexity") && !codec_name_equal(key, "compression_level"))
      continue;
    if (auto v = parse_decimal(kv.substr(eq + 1), 10)) return int(*v);
  }
  return std::nullopt;
}

// Opus encoder settings and the Opus peer's fmtp flags for one direction.
void set_opus(StreamPlan& s, const CodecPlan& plan) {
  const SdpCodec* opus = s.out_kind == CodecKind::kOpus  ? &s.out
                         : s.in_kind == CodecKind::kOpus ? &s.in
                                                         : nullptr;
  if (!opus) return;
  // RFC 7587 §6.1: each side's fmtp states what it can receive / decode.
  s.far_side_fec = fmtp_parameter(opus->fmtp, "useinbandfec") == "1";
  s.far_side_dtx = fmtp_parameter(opus->fmtp, "usedtx") == "1";
  if (!s.transcode || s.out_kind != CodecKind::kOpus) return;
  if (auto* spec =
          options_for(plan, s.out, [](const CodecSpec& x) { return x.bitrate.has_value(); }))
    s.opus_bitrate = spec->bitrate;
  if (auto* spec = options_for(
          plan, s.out, [](const CodecSpec& x) { return complexity_option(x.options).has_value(); }))
    s.opus_complexity = complexity_option(spec->options);
  // The receiver's maxaveragebitrate caps what we send (RFC 7587 §6.1).
  if (auto cap = fmtp_parameter(s.out.fmtp, "maxaveragebitrate")) {
    if (auto v = parse_decimal(*cap, 510000);
        v && *v >= 6000 && (!s.opus_bitrate || *s.opus_bitrate > int32_t(*v)))
      s.opus_bitrate = int32_t(*v);
  }
}

const SdpCodec* event_codec_at(const std::vector<OffererCodec>& list, uint32_t clock) {
  for (const auto& oc : list)
    if (codec_kind(oc.codec) == CodecKind::kTelephoneEvent && oc.codec.clock_rate == clock)
      return &oc.codec;
  return nullptr;
}

// The codec toward the offerer: an accepted one (accept / consume /
// always transcode) that we can reach from p, else the offerer's own
// codec when p is one (offered as p_offered_pt, not added by the relay),
// else the first the offerer has that we transcode.
const SdpCodec* offerer_codec(const CodecPlan& plan, const SdpCodec& p, uint8_t p_offered_pt,
                              bool p_added) {
  for (const auto& oc : plan.offerer)
    if (oc.accepted && !is_supplemental(oc.codec) &&
        (oc.codec.same_format(p) || (can_transcode(oc.codec) && can_transcode(p))))
      return &oc.codec;
  if (!p_added)
    for (const auto& oc : plan.offerer)
      if (oc.codec.payload_type == p_offered_pt) return &oc.codec;
  for (const auto& oc : plan.offerer)
    if (!is_supplemental(oc.codec) && can_transcode(oc.codec)) return &oc.codec;
  return nullptr;
}

// The answer to the offerer, in its payload types. Transcoding
// (codec_change): the offerer's codec q as it offered it. Passthrough: the
// chosen codec (`first` of `answered`), then the answerer's other codecs
// the offerer offered itself (with the answerer's parameters);
// telephone-event last, when the offerer gets it (`events`).
std::vector<SdpCodec> answer_to_offerer(const CodecPlan& plan,
                                        const std::vector<SdpCodec>& answered,
                                        const SdpCodec& first, const SdpCodec& q, bool codec_change,
                                        const SdpCodec* events, bool single_codec) {
  std::vector<SdpCodec> out;
  if (codec_change) {
    out.push_back(q);
  } else {
    out.push_back(as_offered(first, q));
    for (const auto& b : answered) {
      if (&b == &first || codec_kind(b) == CodecKind::kTelephoneEvent) continue;
      const SdpCodec* off = offered_as(plan, b);
      if (!off || plan.is_added(off->payload_type) || off->same_format(q)) continue;
      out.push_back(as_offered(b, *off));
    }
  }
  if (events) out.push_back(*events);
  if (single_codec) {
    // The first media codec stays, and telephone-event / CN with it.
    bool kept_one = false;
    std::erase_if(out, [&](const SdpCodec& c) {
      if (is_supplemental(c)) return false;
      const bool drop = kept_one;
      kept_one = true;
      return drop;
    });
  }
  return out;
}

std::string describe(const SdpCodec& c) {
  return c.encoding.empty() ? "payload type " + std::to_string(c.payload_type) : c.rtpmap();
}

}  // namespace

Result<AnswerPlan, std::string> plan_answer(const CodecPlan& plan,
                                            const std::vector<SdpCodec>& answered,
                                            const CodecRequest& answer_req, int answered_ptime_ms) {
  // The answerer's choice: its first media codec (RFC 3264 §6.1: the one it
  // prefers to send and receive).
  auto first = std::find_if(answered.begin(), answered.end(),
                            [](const SdpCodec& c) { return !is_supplemental(c); });
  if (first == answered.end()) return Err{std::string("No codec in the answer")};
  const SdpCodec* p_off = offered_as(plan, *first);
  if (!p_off || is_supplemental(*p_off))
    return Err{"Answer contains a codec that was not offered: " + describe(*first)};
  const SdpCodec p = as_offered(*first, *p_off);     // p.payload_type: what the answerer sends
  const uint8_t p_receive_pt = first->payload_type;  // what it asked to receive
  const bool p_added = plan.is_added(p_off->payload_type);

  const SdpCodec* q = offerer_codec(plan, p, p_off->payload_type, p_added);
  if (!q) return Err{"No codec of the offer can be transcoded to " + describe(p)};
  const bool codec_change = !q->same_format(p);

  // telephone-event on each side, at the clock of that side's codec.
  const SdpCodec* a_te = event_codec_at(plan.offerer, q->clock_rate);
  const SdpCodec* b_te = nullptr;      // as answered (PT it wants to receive)
  const SdpCodec* b_te_off = nullptr;  // as offered (PT it sends)
  for (const auto& b : answered) {
    if (codec_kind(b) != CodecKind::kTelephoneEvent || b.clock_rate != p.clock_rate) continue;
    if (const SdpCodec* off = offered_as(plan, b)) {
      b_te = &b;
      b_te_off = off;
      break;
    }
  }
  const bool transcodable = can_transcode(p) && can_transcode(*q);
  // The answerer sends events the offerer has no payload type for: only
  // the transcoder (tone generator) can pass them on.
  const bool dtmf_to_tones = !codec_change && b_te && !a_te;
  if (dtmf_to_tones && !transcodable) b_te = b_te_off = nullptr;
  const bool offerer_events = a_te && (codec_change || b_te);

  const int a_send = plan.offerer_ptime_ms ? plan.offerer_ptime_ms : 20;
  const int b_send = answered_ptime_ms ? answered_ptime_ms : 20;
  const bool repack_ab = plan.ptime && *plan.ptime != a_send && transcodable;
  const bool repack_ba = plan.ptime_reverse && *plan.ptime_reverse != b_send && transcodable;

  AnswerPlan ap;
  StreamPlan& ab = ap.offerer_to_answerer;
  ab.transcode = codec_change || repack_ab;
  ab.in = *q;
  ab.out = p;
  ab.out.payload_type = p_receive_pt;
  ab.in_event_pt = offerer_events ? a_te->payload_type : kNoEvents;
  ab.out_event_pt = b_te ? b_te->payload_type : kNoEvents;
  ab.in_ptime_ms = clamp_in_ptime(a_send);
  ab.out_ptime_ms = a_send;

  StreamPlan& ba = ap.answerer_to_offerer;
  ba.transcode = codec_change || repack_ba || (dtmf_to_tones && b_te);
  ba.in = p;
  ba.out = *q;
  ba.in_event_pt = b_te_off ? b_te_off->payload_type : kNoEvents;
  ba.out_event_pt = offerer_events ? a_te->payload_type : kNoEvents;
  ba.in_ptime_ms = clamp_in_ptime(b_send);
  ba.out_ptime_ms = b_send;

  for (StreamPlan* s : {&ab, &ba}) {
    s->in_kind = codec_kind(s->in);
    s->out_kind = codec_kind(s->out);
    if (s->transcode) {
      // The requested ptime, else the output codec's spec, else what the
      // receiver's SDP asked for.
      auto* spec =
          options_for(plan, s->out, [](const CodecSpec& x) { return x.ptime.has_value(); });
      const bool toward_answerer = s == &ab;
      s->out_ptime_ms =
          out_ptime(s->out, toward_answerer ? plan.ptime : plan.ptime_reverse,
                    spec ? spec->ptime : std::nullopt, toward_answerer ? b_send : a_send);
    }
    set_opus(*s, plan);
  }

  ap.to_offerer = answer_to_offerer(plan, answered, *first, *q, codec_change,
                                    offerer_events ? a_te : nullptr,
                                    plan.single_codec || answer_req.single_codec);
  // What the offerer is told to send: ptime-reverse, or, when the relay
  // transcodes toward it, the packet time the offerer itself asked for.
  if (plan.ptime_reverse)
    ap.offerer_sdp_ptime = plan.ptime_reverse;
  else if (ba.transcode && plan.offerer_ptime_ms)
    ap.offerer_sdp_ptime = ba.out_ptime_ms;
  return ap;
}

const SdpCodec* unoffered_choice(const CodecPlan& plan, const std::vector<SdpCodec>& answered) {
  auto first = std::find_if(answered.begin(), answered.end(),
                            [](const SdpCodec& c) { return !is_supplemental(c); });
  if (first == answered.end() || offered_as(plan, *first)) return nullptr;
  return &*first;
}

std::optional<CodecPlan> adopt_unoffered(const CodecPlan& plan, const SdpCodec& chosen) {
  const bool offerer_can = std::any_of(plan.offerer.begin(), plan.offerer.end(), [](const OffererCodec& o) {
    return !is_supplemental(o.codec) && can_transcode(o.codec);
  });
  if (chosen.encoding.empty() || !can_transcode(chosen) || !offerer_can) return std::nullopt;
  CodecPlan adopted = plan;
  adopted.to_answerer.push_back(chosen);
  adopted.added.push_back(chosen.payload_type);
  return adopted;
}

std::string describe(const StreamPlan& p) {
  return p.in.rtpmap() + " pt " + std::to_string(p.in.payload_type) + " " +
         std::to_string(p.in_ptime_ms) + " ms -> " + p.out.rtpmap() + " pt " +
         std::to_string(p.out.payload_type) + " " + std::to_string(p.out_ptime_ms) +
         " ms, events " + std::to_string(p.in_event_pt) + " -> " + std::to_string(p.out_event_pt);
}

}  // namespace vox::control
