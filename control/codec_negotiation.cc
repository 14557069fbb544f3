// Offer planning for G.711 <-> Opus transcoding: the codecs of an SDP media
// section, and which codecs the answerer is offered. The rules and where
// they differ from rtpengine are listed in control/codec_negotiation.h; the
// NG request is parsed in codec_request.cc, the answer planned in
// codec_answer.cc.
#include "control/codec_negotiation.h"

#include <algorithm>
#include <array>

namespace vox::control {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 3551 §6 tables 4 and 5: payload types with a static meaning.
struct StaticFormat {
  uint8_t pt;
  const char* encoding;
  uint32_t clock_rate;
  uint8_t channels;
};
constexpr std::array<StaticFormat, 24> kStaticFormats{{
    {0, "PCMU", 8000, 1},   {3, "GSM", 8000, 1},    {4, "G723", 8000, 1},   {5, "DVI4", 8000, 1},
    {6, "DVI4", 16000, 1},  {7, "LPC", 8000, 1},    {8, "PCMA", 8000, 1},   {9, "G722", 8000, 1},
    {10, "L16", 44100, 2},  {11, "L16", 44100, 1},  {12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
    {14, "MPA", 90000, 1},  {15, "G728", 8000, 1},  {16, "DVI4", 11025, 1}, {17, "DVI4", 22050, 1},
    {18, "G729", 8000, 1},  {25, "CelB", 90000, 1}, {26, "JPEG", 90000, 1}, {28, "nv", 90000, 1},
    {31, "H261", 90000, 1}, {32, "MPV", 90000, 1},  {33, "MP2T", 90000, 1}, {34, "H263", 90000, 1},
}};

// "<encoding>/<clock>[/<channels>]" (RFC 8866 §6.6); a malformed number
// leaves the default rather than refusing the SDP: the codec then simply
// matches nothing by format.
void apply_rtpmap(std::string_view v, SdpCodec* c) {
  size_t s1 = v.find('/');
  c->encoding = std::string(trim(v.substr(0, s1)));
  c->clock_rate = 0;
  c->channels = 1;
  if (s1 == std::string_view::npos) return;
  std::string_view rest = v.substr(s1 + 1);
  size_t s2 = rest.find('/');
  if (auto clock = parse_decimal(trim(rest.substr(0, s2)), 10000000)) c->clock_rate = *clock;
  if (s2 != std::string_view::npos) {
    if (auto ch = parse_decimal(trim(rest.substr(s2 + 1)), 255); ch && *ch > 0)
      c->channels = uint8_t(*ch);
  }
}

// ---- offer ----------------------------------------------------------------------

bool names(const std::vector<CodecSpec>& specs, const SdpCodec& c) {  // by name, not "all"
  return std::any_of(specs.begin(), specs.end(),
                     [&](const CodecSpec& s) { return !s.is_all() && s.matches(c); });
}
bool has_all(const std::vector<CodecSpec>& specs) {
  return std::any_of(specs.begin(), specs.end(), [](const CodecSpec& s) { return s.is_all(); });
}
bool has_full(const std::vector<CodecSpec>& specs) {
  return std::any_of(specs.begin(), specs.end(), [](const CodecSpec& s) { return s.is_full(); });
}

struct Entry {
  OffererCodec c;
  bool removed_by_name = false;  // strip / mask by name or "full": transcode adds a new instance
};

// Media codecs go before the first telephone-event/CN, supplemental ones
// last (rtpengine's codec_store_add_order).
void insert_ordered(std::vector<Entry>& list, Entry e) {
  auto pos = list.end();
  if (!is_supplemental(e.c.codec))
    pos = std::find_if(list.begin(), list.end(),
                       [](const Entry& x) { return is_supplemental(x.c.codec); });
  list.insert(pos, std::move(e));
}

// Moves the stripped codecs `s` names back into the list; false if none.
bool restore(std::vector<Entry>& list, std::vector<Entry>& stripped, const CodecSpec& s) {
  bool any = false;
  for (auto it = stripped.begin(); it != stripped.end();) {
    if (s.matches(it->c.codec)) {
      insert_ordered(list, std::move(*it));
      it = stripped.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

class PayloadTypes {
 public:
  explicit PayloadTypes(const std::vector<SdpCodec>& offered) {
    for (const auto& c : offered) used_[c.payload_type & 127] = true;
  }
  // RFC 3551 §3: the dynamic range 96-127; rtpengine numbers from 96 up.
  std::optional<uint8_t> fresh() {
    for (int pt = 96; pt < 128; ++pt)
      if (!used_[size_t(pt)]) return take(uint8_t(pt));
    return std::nullopt;
  }
  // The static number when the offer does not use it, else a fresh one.
  std::optional<uint8_t> static_or_fresh(uint8_t pt) { return used_[pt] ? fresh() : take(pt); }

 private:
  uint8_t take(uint8_t pt) {
    used_[pt] = true;
    return pt;
  }
  std::array<bool, 128> used_{};
};

constexpr std::string_view kDefaultEvents = "0-16";  // RFC 4733 §3.2: DTMF 0-9 * # A-D, flash

// A new codec instance for a transcode spec (already validated).
std::optional<SdpCodec> synthesize(const CodecSpec& s, PayloadTypes& pts,
                                   std::string_view event_fmtp) {
  SdpCodec c;
  std::optional<uint8_t> pt;
  if (codec_name_equal(s.name, "PCMU") || codec_name_equal(s.name, "PCMA")) {
    const bool mu = codec_name_equal(s.name, "PCMU");
    c.encoding = mu ? "PCMU" : "PCMA";
    c.clock_rate = 8000;
    pt = pts.static_or_fresh(mu ? 0 : 8);
  } else if (codec_name_equal(s.name, "opus")) {
    c.encoding = "opus";
    c.clock_rate = 48000;
    c.channels = 2;  // RFC 7587 §7: always "opus/48000/2"
    pt = pts.fresh();
  } else {
    c.encoding = "telephone-event";
    c.clock_rate = s.clock_rate.value_or(8000);
    c.fmtp = std::string(event_fmtp);
    pt = pts.fresh();
  }
  if (!pt) return std::nullopt;
  c.payload_type = *pt;
  if (!s.fmtp.empty()) c.fmtp = s.fmtp;
  return c;
}

std::string opus_fmtp(bool narrowband) {
  // RFC 7587 §6.1: in-band FEC wanted; with only G.711 on the other leg
  // nothing above 8 kHz exists to send or to receive.
  std::string f = "useinbandfec=1";
  if (narrowband) f += "; maxplaybackrate=8000; sprop-maxcapturerate=8000";
  return f;
}

// ---- the offer's phases ----------------------------------------------------------

// The offer's codecs while the NG codec options reshape them.
struct OfferState {
  std::vector<Entry> list;      // the offerer's codecs still offered (some masked)
  std::vector<Entry> stripped;  // the ones stripped, restorable
  std::vector<SdpCodec> added;  // new instances for transcode specs
  bool touched = false;         // anything stripped, masked or added
};

bool present(const std::vector<Entry>& list, const CodecSpec& s) {
  return std::any_of(list.begin(), list.end(),
                     [&](const Entry& e) { return s.matches(e.c.codec); });
}

// strip (with except protecting from "all"/"full"), then offer: restore
// stripped codecs not present, in the order given.
OfferState strip_and_restore(const std::vector<SdpCodec>& offered, const CodecRequest& req) {
  OfferState st;
  const bool strip_all = has_all(req.strip), strip_full = has_full(req.strip);
  for (const auto& c : offered) {
    Entry e{{c}};
    const bool by_name = names(req.strip, c);
    if (by_name || (strip_all && !names(req.except, c))) {
      e.removed_by_name = by_name || strip_full;
      st.stripped.push_back(std::move(e));
    } else {
      st.list.push_back(std::move(e));
    }
  }
  st.touched = !st.stripped.empty();
  for (const auto& s : req.offer)
    if (!s.is_all() && !present(st.list, s)) restore(st.list, st.stripped, s);
  return st;
}

// mask, consume (mask + accept, restoring stripped ones), accept.
void mask_and_accept(OfferState& st, const CodecRequest& req) {
  const bool mask_all = has_all(req.mask), mask_full = has_full(req.mask);
  for (auto& e : st.list) {
    if (names(req.mask, e.c.codec)) {
      e.c.masked = e.removed_by_name = true;
    } else if (mask_all && !names(req.except, e.c.codec)) {
      e.c.masked = true;
      e.removed_by_name = mask_full;
    }
  }
  for (const auto& s : req.consume) {
    if (!s.is_all() && !present(st.list, s)) restore(st.list, st.stripped, s);
    for (auto& e : st.list) {
      if (!s.matches(e.c.codec)) continue;
      e.c.masked = e.c.accepted = true;
      e.removed_by_name |= !s.is_all() || s.is_full();
    }
  }
  const bool accept_all = has_all(req.accept) || req.always_transcode;
  for (auto& e : st.list)
    if (accept_all || names(req.accept, e.c.codec)) e.c.accepted = true;
  st.touched |=
      std::any_of(st.list.begin(), st.list.end(), [](const Entry& e) { return e.c.masked; });
}

// The fmtp of new telephone-event codecs: the offer's, else DTMF's events.
std::string_view event_fmtp(const std::vector<Entry>& list) {
  for (const auto& e : list)
    if (codec_kind(e.c.codec) == CodecKind::kTelephoneEvent && !e.c.codec.fmtp.empty())
      return e.c.codec.fmtp;
  return kDefaultEvents;
}

// transcode: present -> nothing; removed by "all" -> restored / unmasked;
// otherwise a new instance. False when no payload type is left for one.
bool add_transcoded(OfferState& st, const CodecRequest& req, PayloadTypes& pts) {
  auto visible_or_added = [&](const CodecSpec& s) {
    for (const auto& e : st.list)
      if (!e.c.masked && s.matches(e.c.codec)) return true;
    return std::any_of(st.added.begin(), st.added.end(),
                       [&](const SdpCodec& c) { return s.matches(c); });
  };
  for (const auto& s : req.transcode) {
    if (visible_or_added(s)) continue;
    const bool restorable =
        std::any_of(st.stripped.begin(), st.stripped.end(),
                    [&](const Entry& e) { return s.matches(e.c.codec) && !e.removed_by_name; });
    if (restorable) {
      restore(st.list, st.stripped, s);
      st.touched = true;
      continue;
    }
    bool unmasked = false;
    for (auto& e : st.list) {
      if (e.c.masked && !e.removed_by_name && s.matches(e.c.codec)) {
        e.c.masked = false;
        unmasked = true;
      }
    }
    if (unmasked) continue;
    auto c = synthesize(s, pts, event_fmtp(st.list));
    if (!c) return false;
    st.added.push_back(std::move(*c));
    st.touched = true;
  }
  return true;
}

// DTMF at every clock rate a new media codec brings, when the list
// carries telephone-event at all. False when no payload type is left.
bool add_events(OfferState& st, PayloadTypes& pts) {
  auto visible_event_at = [&](std::optional<uint32_t> clock) {
    for (const auto& e : st.list)
      if (!e.c.masked && codec_kind(e.c.codec) == CodecKind::kTelephoneEvent &&
          (!clock || e.c.codec.clock_rate == *clock))
        return true;
    return std::any_of(st.added.begin(), st.added.end(), [&](const SdpCodec& c) {
      return codec_kind(c) == CodecKind::kTelephoneEvent && (!clock || c.clock_rate == *clock);
    });
  };
  if (!visible_event_at(std::nullopt)) return true;
  for (size_t i = 0, n = st.added.size(); i < n; ++i) {
    if (is_supplemental(st.added[i]) || visible_event_at(st.added[i].clock_rate)) continue;
    CodecSpec te;
    te.name = "telephone-event";
    te.clock_rate = st.added[i].clock_rate;
    auto c = synthesize(te, pts, event_fmtp(st.list));
    if (!c) return false;
    st.added.push_back(std::move(*c));
  }
  return true;
}

// The answerer's list: the offerer's visible codecs, new media codecs
// before the first telephone-event/CN, new supplemental ones last.
std::vector<SdpCodec> answerer_list(const OfferState& st) {
  std::vector<SdpCodec> out;
  for (const auto& e : st.list)
    if (!e.c.masked) out.push_back(e.c.codec);
  auto supp =
      std::find_if(out.begin(), out.end(), [](const SdpCodec& c) { return is_supplemental(c); });
  size_t at = size_t(supp - out.begin());
  for (const auto& c : st.added) {
    if (is_supplemental(c)) continue;
    out.insert(out.begin() + ptrdiff_t(at++), c);
  }
  for (const auto& c : st.added)
    if (is_supplemental(c)) out.push_back(c);
  if (st.touched) {
    // rtpengine drops telephone-event/CN whose clock no media codec has.
    std::vector<uint32_t> clocks;
    for (const auto& c : out)
      if (!is_supplemental(c)) clocks.push_back(c.clock_rate);
    std::erase_if(out, [&](const SdpCodec& c) {
      return is_supplemental(c) &&
             std::find(clocks.begin(), clocks.end(), c.clock_rate) == clocks.end();
    });
  }
  return out;
}

}  // namespace

std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  uint32_t v = 0;
  for (char c : s) v = v * 10 + uint32_t(c - '0');
  if (v > max) return std::nullopt;
  return v;
}


// ---- codecs as SDP describes them -------------------------------------------------

bool codec_name_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

CodecKind codec_kind(const SdpCodec& c) {
  if (codec_name_equal(c.encoding, "PCMU")) return CodecKind::kPcmu;
  if (codec_name_equal(c.encoding, "PCMA")) return CodecKind::kPcma;
  if (codec_name_equal(c.encoding, "opus")) return CodecKind::kOpus;
  if (codec_name_equal(c.encoding, "telephone-event")) return CodecKind::kTelephoneEvent;
  if (codec_name_equal(c.encoding, "CN")) return CodecKind::kComfortNoise;
  return CodecKind::kOther;
}

bool is_supplemental(const SdpCodec& c) {
  auto k = codec_kind(c);
  return k == CodecKind::kTelephoneEvent || k == CodecKind::kComfortNoise;
}

bool can_transcode(const SdpCodec& c) {
  switch (codec_kind(c)) {
    case CodecKind::kPcmu:
    case CodecKind::kPcma:
      return c.clock_rate == 8000 && c.channels == 1;
    case CodecKind::kOpus:
      return c.clock_rate == 48000;
    default:
      return false;
  }
}

std::vector<SdpCodec> codecs_of(const SdpMedia& m) {
  std::vector<SdpCodec> out;
  for (const auto& f : m.formats) {
    auto pt = parse_decimal(f, 127);
    if (!pt) continue;  // not RTP (udptl t38, ...)
    SdpCodec c;
    c.payload_type = uint8_t(*pt);
    if (auto map = m.rtpmap(f)) {
      apply_rtpmap(*map, &c);
    } else {
      for (const auto& s : kStaticFormats) {
        if (s.pt != c.payload_type) continue;
        c.encoding = s.encoding;
        c.clock_rate = s.clock_rate;
        c.channels = s.channels;
      }
    }
    if (auto fmtp = m.fmtp(f)) c.fmtp = std::string(*fmtp);
    out.push_back(std::move(c));
  }
  return out;
}

int ptime_of(const SdpMedia& m) {
  const SdpAttribute* a = m.find_attribute("ptime");
  if (!a) return 0;
  // RFC 8866 §6.4 allows a decimal fraction ("20.0"); the integer part is what counts.
  std::string_view v = trim(a->value);
  v = v.substr(0, v.find('.'));
  auto ms = parse_decimal(v, 1000);
  return ms ? int(*ms) : 0;
}

std::optional<std::string_view> fmtp_parameter(std::string_view fmtp, std::string_view name) {
  size_t i = 0;
  while (i <= fmtp.size()) {
    size_t end = fmtp.find(';', i);
    if (end == std::string_view::npos) end = fmtp.size();
    std::string_view kv = trim(fmtp.substr(i, end - i));
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && codec_name_equal(trim(kv.substr(0, eq)), name))
      return trim(kv.substr(eq + 1));
    i = end + 1;
  }
  return std::nullopt;
}

bool CodecPlan::is_added(uint8_t pt) const {
  return std::find(added.begin(), added.end(), pt) != added.end();
}

// ---- offer ----------------------------------------------------------------------

namespace {

// `req` without what changes the codec list (strip, offer, mask, consume,
// accept, transcode, except), keeping packet times and encoder options.
CodecRequest without_codec_changes(const CodecRequest& req) {
  CodecRequest plain;
  plain.set = req.set;
  plain.single_codec = req.single_codec;
  plain.ptime = req.ptime;
  plain.ptime_reverse = req.ptime_reverse;
  return plain;
}

}  // namespace

Result<CodecPlan, std::string> plan_offer(const std::vector<SdpCodec>& offered,
                                          const CodecRequest& req, int offered_ptime_ms) {
  CodecPlan plan;
  plan.always_transcode = req.always_transcode;
  plan.single_codec = req.single_codec;
  plan.ptime = req.ptime;
  plan.ptime_reverse = req.ptime_reverse;
  plan.offerer_ptime_ms = offered_ptime_ms;

  OfferState st = strip_and_restore(offered, req);
  mask_and_accept(st, req);
  PayloadTypes pts(offered);
  if (!add_transcoded(st, req, pts) || !add_events(st, pts))
    return Err{std::string("No free RTP payload type for transcoding")};

  // Transcoding needs something to transcode from.
  const bool has_source = std::any_of(st.list.begin(), st.list.end(), [](const Entry& e) {
    return !is_supplemental(e.c.codec) && can_transcode(e.c.codec);
  });
  if (!st.added.empty() && !has_source)
    return Err{
        std::string("No codec in the offer can be transcoded (voxrelay transcodes PCMU, "
                    "PCMA, opus and telephone-event)")};
  const bool narrowband = std::none_of(st.list.begin(), st.list.end(), [](const Entry& e) {
    return codec_kind(e.c.codec) == CodecKind::kOpus;
  });
  for (size_t i = 0; i < st.added.size(); ++i) {
    if (codec_kind(st.added[i]) == CodecKind::kOpus && st.added[i].fmtp.empty())
      st.added[i].fmtp = opus_fmtp(narrowband);
  }

  std::vector<SdpCodec> out = answerer_list(st);
  const auto no_media = [](const std::vector<SdpCodec>& l) {
    return std::all_of(l.begin(), l.end(), [](const SdpCodec& c) { return is_supplemental(c); });
  };
  if (!offered.empty() && no_media(out)) {
    // rtpengine takes options that leave no codec as a usage error and
    // restores the offered list, so that media can still flow.
    if (!no_media(offered)) return plan_offer(offered, without_codec_changes(req), offered_ptime_ms);
    return Err{std::string("No codec left to offer (all codecs stripped or masked)")};
  }

  for (auto& e : st.list) plan.offerer.push_back(std::move(e.c));
  for (const auto& c : out)
    if (std::any_of(st.added.begin(), st.added.end(),
                    [&](const SdpCodec& a) { return a.payload_type == c.payload_type; }))
      plan.added.push_back(c.payload_type);
  plan.to_answerer = std::move(out);
  for (const auto* l : {&req.transcode, &req.set})
    for (const auto& s : *l)
      if (s.bitrate || s.ptime || !s.options.empty()) plan.options.push_back(s);
  return plan;
}

}  // namespace vox::control
