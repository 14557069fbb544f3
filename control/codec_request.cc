// The NG codec options: the `codec` dictionary, the codec-<op>-<name> flag
// shorthand, "always transcode", "single codec", `ptime`, `ptime-reverse`
// (rtpengine docs/ng_control_protocol.md). Implements the request half of
// control/codec_negotiation.h.
#include <utility>

#include "control/codec_negotiation.h"
#include "base/names.h"

namespace vox::control {
namespace {

constexpr std::string_view kTranscodable =
    "voxrelay transcodes PCMU, PCMA, opus and telephone-event";

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Decimal in [min, max]; nullopt otherwise.
std::optional<int64_t> decimal(std::string_view s, int64_t min, int64_t max) {
  if (!all_digits(s) || s.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v < min || v > max) return std::nullopt;
  return v;
}

// rtpengine lets "--" stand for "=" where "=" would be taken as key=value.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      out += '=';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

enum class Op : uint8_t {
  kStrip, kOffer, kMask, kConsume, kAccept, kTranscode, kSet, kExcept, kCount
};
constexpr EnumNames<Op> kOpNames = {{
    {Op::kStrip, "strip"},
    {Op::kOffer, "offer"},
    {Op::kMask, "mask"},
    {Op::kConsume, "consume"},
    {Op::kAccept, "accept"},
    {Op::kTranscode, "transcode"},
    {Op::kSet, "set"},
    {Op::kExcept, "except"},
}};
static_assert(kOpNames.complete());

std::vector<CodecSpec>& list_of(CodecRequest& r, Op op) {
  switch (op) {
    case Op::kStrip:
      return r.strip;
    case Op::kOffer:
      return r.offer;
    case Op::kMask:
      return r.mask;
    case Op::kConsume:
      return r.consume;
    case Op::kAccept:
      return r.accept;
    case Op::kTranscode:
      return r.transcode;
    case Op::kSet:
      return r.set;
    case Op::kExcept:
    case Op::kCount:
      break;
  }
  return r.except;
}

bool is_separator(char c) {
  return c == '-' || c == ' ' || c == '_';
}

// "codec-transcode-opus/48000/2" -> (kTranscode, "opus/48000/2"). The codec
// name keeps its own hyphens ("codec-strip-telephone-event").
std::optional<std::pair<Op, std::string_view>> codec_flag(std::string_view flag) {
  constexpr std::string_view kPrefix = "codec";
  if (flag.size() <= kPrefix.size() + 1 ||
      !ng_name_equal(flag.substr(0, kPrefix.size()), kPrefix) ||
      !is_separator(flag[kPrefix.size()]))
    return std::nullopt;
  std::string_view rest = flag.substr(kPrefix.size() + 1);
  for (const auto& [op, text] : kOpNames.entries) {
    const std::string_view name = text;
    if (rest.size() > name.size() + 1 && ng_name_equal(rest.substr(0, name.size()), name) &&
        is_separator(rest[name.size()]))
      return std::pair{op, rest.substr(name.size() + 1)};
  }
  return std::nullopt;
}

// "transcode-opus": the short form of codec-transcode-opus that rtpengine
// takes and OpenSIPS's documentation uses.
std::optional<std::string_view> transcode_flag(std::string_view flag) {
  constexpr std::string_view kPrefix = "transcode";
  if (flag.size() <= kPrefix.size() + 1 || !ng_name_equal(flag.substr(0, kPrefix.size()), kPrefix) ||
      !is_separator(flag[kPrefix.size()]))
    return std::nullopt;
  return flag.substr(kPrefix.size() + 1);
}

// libopus takes 6 to 510 kbit/s (OPUS_SET_BITRATE).
std::optional<std::string> check_bitrate(const CodecSpec& s) {
  if (s.bitrate && codec_name_equal(s.name, "opus") && (*s.bitrate < 6000 || *s.bitrate > 510000))
    return "Invalid codec bitrate: " + s.text + " (opus takes 6000 to 510000 bit/s)";
  return std::nullopt;
}

// A transcode target must be something codecs/ can encode and decode, at
// the clock rate RFC 3551 §4.5.14 / RFC 7587 §4.1 fix for it.
std::optional<std::string> check_transcodable(const CodecSpec& s) {
  const auto unsupported = [&] {
    return "Unsupported codec for transcoding: " + s.text + " (" + std::string(kTranscodable) + ")";
  };
  if (codec_name_equal(s.name, "PCMU") || codec_name_equal(s.name, "PCMA")) {
    if ((s.clock_rate && *s.clock_rate != 8000) || (s.channels && *s.channels != 1))
      return unsupported();
  } else if (codec_name_equal(s.name, "opus")) {
    if ((s.clock_rate && *s.clock_rate != 48000) || (s.channels && *s.channels > 2))
      return unsupported();
  } else if (codec_name_equal(s.name, "telephone-event")) {
    if ((s.clock_rate && *s.clock_rate != 8000 && *s.clock_rate != 48000) ||
        (s.channels && *s.channels != 1))
      return unsupported();
  } else {
    return unsupported();  // including "all": there is no "transcode everything"
  }
  return std::nullopt;
}

Result<std::optional<int>, std::string> parse_ptime(const NgValue& request, std::string_view key) {
  auto v = request.find_scalar(key);
  if (!v) return std::optional<int>();
  auto ms = decimal(*v, 0, 1000);
  if (!ms) return Err{"Invalid " + std::string(key) + ": " + *v};
  if (*ms == 0) return std::optional<int>();  // 0: not set
  if (!supported_ptime(int(*ms)))
    return Err{"Unsupported " + std::string(key) + ": " + *v +
               " (voxrelay packetizes 10 to 60 ms)"};
  return std::optional<int>(int(*ms));
}

std::optional<std::string> add_spec(CodecRequest& r, Op op, std::string_view text) {
  if (text.empty()) return std::nullopt;
  auto spec = parse_codec_spec(text);
  if (!spec) return spec.error();
  if (op == Op::kTranscode) {
    if (auto e = check_transcodable(*spec)) return e;
  }
  if (op == Op::kTranscode || op == Op::kSet) {
    if (auto e = check_bitrate(*spec)) return e;
  }
  list_of(r, op).push_back(std::move(*spec));
  return std::nullopt;
}

}  // namespace

bool supported_ptime(int ms) {
  return ms >= 10 && ms <= 60;
}

bool CodecSpec::is_all() const {
  return codec_name_equal(name, "all") || codec_name_equal(name, "full");
}
bool CodecSpec::is_full() const {
  return codec_name_equal(name, "full");
}

bool CodecSpec::matches(const SdpCodec& c) const {
  if (all_digits(name)) return decimal(name, 0, 127) == int64_t(c.payload_type);
  if (is_all()) return true;
  if (!codec_name_equal(name, c.encoding)) return false;
  if (clock_rate && *clock_rate != c.clock_rate) return false;
  // rtpengine names a codec "enc/clock" when mono and "enc/clock/ch"
  // otherwise: a clock rate without channels means one channel.
  if (channels) return *channels == c.channels;
  return !clock_rate || c.channels == 1;
}

Result<CodecSpec, std::string> parse_codec_spec(std::string_view text) {
  CodecSpec s;
  s.text = std::string(text);
  std::vector<std::string_view> f;
  size_t start = 0;
  // Seven fields at most; the last (options) may itself contain '/'.
  while (f.size() < 6) {
    size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) break;
    f.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  f.push_back(text.substr(start));
  const auto bad = [&] { return Err{"Invalid codec specification: " + s.text}; };
  if (f[0].empty()) return bad();
  s.name = std::string(f[0]);
  if (f.size() > 1 && !f[1].empty()) {
    auto v = decimal(f[1], 1, 10000000);
    if (!v) return bad();
    s.clock_rate = uint32_t(*v);
  }
  if (f.size() > 2 && !f[2].empty()) {
    auto v = decimal(f[2], 1, 255);
    if (!v) return bad();
    s.channels = uint8_t(*v);
  }
  if (f.size() > 3 && !f[3].empty()) {
    auto v = decimal(f[3], 1, 100000000);
    if (!v) return bad();
    s.bitrate = int32_t(*v);
  }
  if (f.size() > 4 && !f[4].empty()) {
    auto v = decimal(f[4], 1, 1000);
    if (!v) return bad();
    s.ptime = int(*v);
  }
  if (f.size() > 5) s.fmtp = unescape(f[5]);
  if (f.size() > 6) s.options = unescape(f[6]);
  return s;
}

Result<CodecRequest, std::string> parse_codec_request(const NgValue& request) {
  CodecRequest r;
  // A `codec` that is not a dictionary is ignored (the NG layer logs it).
  if (const NgValue* codec = request.find("codec"); codec && codec->is_dict()) {
    for (const auto& [op, name] : kOpNames.entries) {
      // find_strings: a list of strings, or one string.
      for (std::string_view text : codec->find_strings(name))
        if (auto e = add_spec(r, op, text)) return Err{*e};
    }
  }
  for (std::string_view flag : request.find_strings("flags")) {
    if (ng_name_equal(flag, "always transcode")) {
      r.always_transcode = true;
    } else if (ng_name_equal(flag, "single codec")) {
      r.single_codec = true;
    } else if (auto f = codec_flag(flag)) {
      if (auto e = add_spec(r, f->first, f->second)) return Err{*e};
    } else if (auto t = transcode_flag(flag)) {
      if (auto e = add_spec(r, Op::kTranscode, *t)) return Err{*e};
    }
  }
  auto ptime = parse_ptime(request, "ptime");
  if (!ptime) return Err{ptime.error()};
  r.ptime = *ptime;
  auto reverse = parse_ptime(request, "ptime-reverse");
  if (!reverse) return Err{reverse.error()};
  r.ptime_reverse = *reverse;
  return r;
}

}  // namespace vox::control
