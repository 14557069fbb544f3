// NG datagram framing: splitting "COOKIE SP DICT", decoding the body by its
// encoding, and framing replies with the request's cookie and encoding.
#include "control/ng_message.h"

#include "control/ng_json.h"

namespace vox::control {

namespace {
// Long enough for any cookie a proxy generates (Kamailio: "PID_COUNTER",
// OpenSIPS similar), short enough that a garbage datagram is not mistaken
// for one and echoed back.
constexpr size_t kMaxCookieLength = 256;

bool is_control_byte(unsigned char c) { return c < 0x20 || c == 0x7f; }
}  // namespace

std::optional<NgRequest> split_ng_datagram(std::string_view datagram) {
  const size_t sp = datagram.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp > kMaxCookieLength) return std::nullopt;
  const std::string_view cookie = datagram.substr(0, sp);
  for (unsigned char c : cookie)
    if (is_control_byte(c)) return std::nullopt;
  NgRequest req;
  req.cookie = cookie;
  req.body = datagram.substr(sp + 1);
  // rtpengine looks at the first byte only.
  if (req.body.empty()) req.encoding = NgEncoding::kEmpty;
  else if (req.body.front() == 'd') req.encoding = NgEncoding::kBencode;
  else if (req.body.front() == '{') req.encoding = NgEncoding::kJson;
  else req.encoding = NgEncoding::kUnknown;
  return req;
}

Result<NgValue, DecodeError> decode_ng_body(const NgRequest& req) {
  auto v = req.encoding == NgEncoding::kJson ? decode_json(req.body) : decode_bencode(req.body);
  if (!v.ok()) return v;
  if (!v->is_dict()) return Err{DecodeError::kNotDict};
  return v;
}

NgErrc ng_decode_error(NgEncoding enc) {
  switch (enc) {
    case NgEncoding::kJson: return NgErrc::kUndecodableJson;
    case NgEncoding::kEmpty: return NgErrc::kNoPayload;
    case NgEncoding::kUnknown: return NgErrc::kUnknownFormat;
    case NgEncoding::kBencode: break;
  }
  return NgErrc::kUndecodableBencode;
}

std::string frame_ng_reply(std::string_view cookie, const NgValue& reply, NgEncoding enc) {
  std::string out;
  out.reserve(cookie.size() + 1 + 64);
  out.append(cookie);
  out += ' ';
  if (enc == NgEncoding::kJson) {
    out += encode_json(reply);
  } else {
    encode_bencode(reply, out);
  }
  return out;
}

}  // namespace vox::control
