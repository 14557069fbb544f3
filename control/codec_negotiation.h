// Codec negotiation for G.711 <-> Opus transcoding, as pure code: the NG
// `codec` options and flags (CodecRequest), the codec list the relay offers
// to the answerer (plan_offer -> CodecPlan), and, once the answerer chose,
// what each direction of media needs and what the offerer is answered
// (plan_answer -> AnswerPlan). No I/O, no clock: the call manager applies the
// plans to SDP (SdpMediaRewrite::codecs / ptime) and to the packet workers.
//
// Semantics follow rtpengine (docs/ng_control_protocol.md "codec" and
// daemon/codec.c: codec_store_strip/offer/accept/transcode/answer). Rules,
// in the order they are applied to the offerer's codec list:
//
//  strip      Removes codecs as if never offered: not shown to the answerer,
//             not accepted from the offerer, not a transcoding source. Names
//             match case-insensitively (rtpengine hashes names that way too);
//             "PCMU" matches any PCMU, "opus/48000/2" only that clock and
//             channel count, "opus/48000" only mono (rtpengine's
//             encoding_with_params rule), a bare number the payload type.
//             "all" / "full" strip everything except what `except` names.
//  except     Only meaningful with strip (or mask) "all"/"full": the codecs
//             named here survive it, in the original order. Alone it changes
//             nothing (rtpengine: the exception list of strip-all).
//  offer      Re-adds stripped codecs, in the order given here, after the
//             remaining media codecs (before telephone-event/CN). A codec
//             still present is left where it is, so `offer` alone changes
//             nothing; "strip all + offer B,A" is how the order is changed
//             (rtpengine codec_store_offer).
//  mask       Hides codecs from the answerer but still accepts them from the
//             offerer as transcoding sources. "all"/"full" + `except` as for
//             strip. (rtpengine: the same.)
//  consume    mask + accept; a stripped codec named here is restored first
//             (rtpengine codec_store_accept with the original list).
//  accept     The codec stays offered; if the answerer picks another one,
//             the offerer is still answered with the (first, in the
//             offerer's order) accepted codec and the relay transcodes.
//             "all" = flag "always transcode" (rtpengine: the same).
//  transcode  Adds a codec the relay can encode and decode: PCMU, PCMA, opus,
//             telephone-event. Already offered: nothing. Removed only by
//             strip/mask "all" (not "full", not by name): restored as an
//             offerer codec, no transcoding. Otherwise a new instance with a
//             fresh payload type (96..127, none the offer uses; PCMU/PCMA
//             take their static 0/8 when free), inserted after the media
//             codecs. Opus is written opus/48000/2 (RFC 7587 §7) with fmtp
//             "useinbandfec=1", plus "maxplaybackrate=8000;
//             sprop-maxcapturerate=8000" when every transcoding source the
//             offerer has is G.711 (narrowband: asking for more would only
//             cost bits). A sixth field of the spec replaces that fmtp.
//  telephone-event  When a transcode codec is added at a clock rate for which
//             the list has no telephone-event but another clock has one,
//             telephone-event/<that clock> is added (fresh PT, fmtp copied
//             from the existing one, else "0-16") so DTMF survives
//             (rtpengine's supplemental-codec tracker). After any
//             manipulation, telephone-event/CN at a clock rate no remaining
//             media codec of the answerer's list uses is dropped from it.
//  set        Codec options for the relay's encoder: "opus/48000/2/32000"
//             sets the bitrate, a seventh field "complexity=N" (or ffmpeg's
//             "compression_level=N") the complexity. Bitrate and options in
//             a transcode spec count too; set wins, later wins.
//  ptime / ptime-reverse  Packet time toward the answerer / the offerer:
//             a=ptime in the SDP each receives, and repacketization (the
//             transcoder engaged even without a codec change) when it
//             differs from what the sender uses (a=ptime, else 20 ms).
//  single-codec  In the answer to the offerer, only the first media codec is
//             kept; telephone-event and CN stay (rtpengine __single_codec).
//
// Deliberate differences from rtpengine:
//  - Errors instead of silent fallbacks: transcode to a codec we cannot
//    transcode ("Unsupported codec for transcoding: X ..."), options that
//    leave no media codec for the answerer (rtpengine silently restores the
//    original list), a transcode request when the offer has no codec we can
//    transcode from, an answer choosing a codec that was never offered, a
//    ptime the transcoder cannot produce.
//  - Opus is always opus/48000/2 in SDP (RFC 7587 §7); a "/1" in a spec only
//    selects options, the relay encodes mono either way.
//  - Codecs we cannot transcode are not stripped when transcode is used
//    (rtpengine strips them): if the answerer picks one, it is passed through.
//  - Only the answerer's first media codec is set up; further codecs of its
//    answer that the offerer also offered are answered in passthrough, ones
//    the relay added are dropped from the answer to the offerer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/ng_value.h"
#include "control/sdp.h"
#include "base/result.h"

namespace vox::control {

// ---- codecs as SDP describes them -----------------------------------------

// Encoding names are case-insensitive (RFC 4855 §3; ASCII only).
bool codec_name_equal(std::string_view a, std::string_view b);

enum class CodecKind : uint8_t { kOther, kPcmu, kPcma, kOpus, kTelephoneEvent, kComfortNoise };
CodecKind codec_kind(const SdpCodec& c);
// RFC 4733 telephone-event and RFC 3389 CN ride along a media codec.
bool is_supplemental(const SdpCodec& c);
// What the transcoder (codecs/transcoder.h) handles: PCMU/8000, PCMA/8000
// (mono) and opus/48000 (RFC 7587 §4.1; any channel count in SDP).
bool can_transcode(const SdpCodec& c);

// The codecs of an RTP media section in m= order; a payload type without
// a=rtpmap gets its RFC 3551 §6 static assignment (0 PCMU/8000, 3 GSM,
// 4 G723, 8 PCMA, 9 G722/8000, 13 CN, 18 G729, ...) or, when dynamic, an
// empty encoding (never matches by name; passed through). Non-numeric
// formats (udptl t38) are skipped.
std::vector<SdpCodec> codecs_of(const SdpMedia& m);
// a=ptime in milliseconds (RFC 8866 §6.4), 0 when absent or malformed.
int ptime_of(const SdpMedia& m);
// A "name=value" parameter of an fmtp string ("a=1; b=2" or "a=1;b=2").
// An unsigned decimal of at most 9 digits, no sign or spaces, <= max.
std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max);

std::optional<std::string_view> fmtp_parameter(std::string_view fmtp, std::string_view name);

// ---- the request ------------------------------------------------------------

// One entry of a codec list: "NAME[/CLOCK[/CHANNELS[/BITRATE[/PTIME[/FMTP[/OPTIONS]]]]]]",
// empty fields allowed ("opus/48000/2////complexity=3"); "--" in FMTP and
// OPTIONS stands for "=" (rtpengine's escape).
struct CodecSpec {
  std::string text;  // as given, for messages
  std::string name;  // "PCMU", "opus", "telephone-event", "all", "full", or a payload type
  std::optional<uint32_t> clock_rate;
  std::optional<uint8_t> channels;
  std::optional<int32_t> bitrate;
  std::optional<int> ptime;
  std::string fmtp;
  std::string options;

  bool is_all() const;  // "all" or "full"
  bool is_full() const;
  bool matches(const SdpCodec& c) const;
  bool operator==(const CodecSpec&) const = default;
};
Result<CodecSpec, std::string> parse_codec_spec(std::string_view text);

struct CodecRequest {
  // The `codec` dictionary's lists, then the codec-<op>-<name> flags, in order.
  std::vector<CodecSpec> strip, offer, mask, consume, accept, transcode, set, except;
  bool always_transcode = false;     // flag "always transcode" (= accept all)
  bool single_codec = false;         // flag "single codec"
  std::optional<int> ptime;          // "ptime": toward the answerer
  std::optional<int> ptime_reverse;  // "ptime-reverse": toward the offerer
  bool operator==(const CodecRequest&) const = default;
};

// Reads `codec`, `flags`, `ptime` and `ptime-reverse` of an offer or answer
// request. Errors are NG error-reason texts.
Result<CodecRequest, std::string> parse_codec_request(const NgValue& request);

// Packet times an NG ptime may ask for: what the transcoder produces for
// some codec (codecs::valid_out_ptime: G.711 10 to 60 ms, Opus fewer).
bool supported_ptime(int ms);

// ---- offer ---------------------------------------------------------------------

// One codec of the offerer, as the relay keeps it after the codec options.
struct OffererCodec {
  SdpCodec codec;       // payload type as the offerer numbered it
  bool masked = false;  // hidden from the answerer (mask, consume)
  // Answered to the offerer even when the answerer picks another codec
  // (accept, consume, always transcode).
  bool accepted = false;
  bool operator==(const OffererCodec&) const = default;
};

struct CodecPlan {
  // The offerer's codecs that survived strip (masked ones included), in
  // preference order (the answerer's list order, masked ones where they were).
  std::vector<OffererCodec> offerer;
  // The codec list of the SDP sent to the answerer (SdpMediaRewrite::codecs).
  std::vector<SdpCodec> to_answerer;
  // Payload types in to_answerer that the relay added (transcoding targets).
  std::vector<uint8_t> added;
  // Specs with encoder options (transcode, then set), for the answer.
  std::vector<CodecSpec> options;
  bool always_transcode = false;
  bool single_codec = false;
  std::optional<int> ptime, ptime_reverse;
  int offerer_ptime_ms = 0;  // the offer's a=ptime, 0 when none
  // The offer carried codec options. Without, the plan only records the
  // offer, for options the answer may bring (single-codec), and changes
  // neither SDP.
  bool requested = false;

  bool is_added(uint8_t pt) const;
  // a=ptime for the SDP sent to the answerer (nullopt: leave as offered).
  std::optional<int> answerer_sdp_ptime() const { return ptime; }
};

// `offered`: codecs_of() the offerer's media; `offered_ptime_ms`: ptime_of() it.
// An empty `offered` (a rejected stream) gives an empty plan unless a
// codec is to be added, which is an error.
Result<CodecPlan, std::string> plan_offer(const std::vector<SdpCodec>& offered,
                                          const CodecRequest& req, int offered_ptime_ms = 0);

// ---- answer --------------------------------------------------------------------

inline constexpr int kNoEvents = -1;  // no telephone-event payload type on that side

// One direction of media through the relay. Passthrough (transcode false):
// in and out are the same format; their payload types differ only when the
// answerer renumbered (RFC 3264 §6.1 "SHOULD" keep them), which the relay
// must rewrite. Transcode: everything codecs::TranscoderConfig needs, field
// for field (kinds kPcmu/kPcma/kOpus are its AudioCodec values, kNoEvents
// its kNoPayloadType, far_side_fec its far_side_fec, far_side_dtx and
// opus_* its opus encoder settings). A transcoded direction may keep its codec: ptime
// repacketization, or events turned into tones for a side without
// telephone-event.
struct StreamPlan {
  bool transcode = false;
  // As it arrives: the payload type the sender puts on its packets (the one
  // in the SDP the relay sent to the sender).
  SdpCodec in;
  // As it leaves: the payload type the receiver asked for in its own SDP.
  SdpCodec out;
  CodecKind in_kind = CodecKind::kOther, out_kind = CodecKind::kOther;
  int in_event_pt = kNoEvents;   // telephone-event arriving at in's clock, or none
  int out_event_pt = kNoEvents;  // telephone-event to send at out's clock, or none
  int in_ptime_ms = 20;
  int out_ptime_ms = 20;
  // When out is Opus and transcoded: the set / transcode spec's bitrate,
  // capped by the receiver's maxaveragebitrate (nullopt: encoder default).
  std::optional<int32_t> opus_bitrate;
  std::optional<int> opus_complexity;  // likewise, from "complexity=N" in the spec
  bool far_side_fec = false;  // the Opus peer's own fmtp has useinbandfec=1 (RFC 7587 §6.1)
  bool far_side_dtx = false;  // the Opus peer's own fmtp has usedtx=1
  bool rewrites_pt() const { return in.payload_type != out.payload_type; }
};
// The transcoder's description in `query`: "PCMU/8000 pt 0 20 ms -> opus/48000/2 pt 96 ...".
std::string describe(const StreamPlan& p);

struct AnswerPlan {
  StreamPlan offerer_to_answerer;  // offerer -> relay -> answerer
  StreamPlan answerer_to_offerer;  // answerer -> relay -> offerer
  // The codec list of the SDP answer sent to the offerer, in the offerer's
  // payload types (SdpMediaRewrite::codecs).
  std::vector<SdpCodec> to_offerer;
  // a=ptime for the answer sent to the offerer (nullopt: leave as answered).
  std::optional<int> offerer_sdp_ptime;
  bool transcoding() const {
    return offerer_to_answerer.transcode || answerer_to_offerer.transcode;
  }
};

// `answered`: codecs_of() the answerer's media; its first media codec is the
// one the answerer sends and receives. `answer_req`: the answer message's
// options (single-codec, from it or from the offer, is the one that
// applies). For each audio RTP m= line the call manager plans; a rejected
// stream (port 0) is not planned.
Result<AnswerPlan, std::string> plan_answer(const CodecPlan& offer_plan,
                                            const std::vector<SdpCodec>& answered,
                                            const CodecRequest& answer_req = {},
                                            int answered_ptime_ms = 0);

// The answerer's first media codec when it is none the relay offered it
// (RFC 3264 §6.1: it must not answer one); null otherwise.
const SdpCodec* unoffered_choice(const CodecPlan& offer_plan, const std::vector<SdpCodec>& answered);
// `offer_plan` as if the relay had offered `chosen` as a transcoding
// target (codec-transcode), so that plan_answer transcodes it to the
// offerer's codec, as rtpengine answers such an answer; nullopt when the
// relay cannot transcode `chosen` or any codec of the offerer.
std::optional<CodecPlan> adopt_unoffered(const CodecPlan& offer_plan, const SdpCodec& chosen);

}  // namespace vox::control
