// NG datagram framing: "COOKIE SP DICT". The dictionary is bencode, or JSON
// when its first byte is '{'; a reply uses the request's encoding and
// carries the same cookie.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "control/bencode.h"
#include "control/ng_error.h"

namespace vox::control {

// The body's encoding, from its first byte as rtpengine reads it. Replies
// to a body of no known encoding are bencode.
enum class NgEncoding : uint8_t {
  kBencode,  // 'd'
  kJson,     // '{'
  kEmpty,    // nothing after the cookie
  kUnknown,  // any other first byte
};

struct NgRequest {
  std::string_view cookie;  // views into the datagram
  std::string_view body;
  NgEncoding encoding = NgEncoding::kBencode;
};

// Splits a datagram into cookie and body. Fails (no cookie readable) when
// there is no space, the cookie is empty, or it is longer than 256 bytes or
// contains control bytes; such a datagram is dropped without reply.
std::optional<NgRequest> split_ng_datagram(std::string_view datagram);

// Decodes the body by its encoding; the top level must be a dictionary (a
// body of no known encoding is read as bencode, for the error's detail).
Result<NgValue, DecodeError> decode_ng_body(const NgRequest& req);

// The error for a body that failed to decode (its name is rtpengine's exact
// wording, which operators' log filters match).
NgErrc ng_decode_error(NgEncoding enc);

// "COOKIE SP ENCODED-REPLY".
std::string frame_ng_reply(std::string_view cookie, const NgValue& reply, NgEncoding enc);

}  // namespace vox::control
