// libFuzzer target for the NG message codec: bencode decoding (with a strict
// re-encode/decode round trip), JSON re-encoding, and datagram framing plus
// body decoding, which also drives the JSON decoder on '{' bodies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/bencode.h"
#include "control/ng_json.h"
#include "control/ng_message.h"

using namespace vox::control;

namespace {

// Smaller than the defaults so that the fuzzer spends its time on structure
// rather than on building huge values; the limits themselves are unit-tested.
constexpr DecodeLimits kLimits{.max_depth = 32, .max_elements = 10000};

void check_bencode(std::string_view in) {
  auto v = decode_bencode(in, kLimits);
  if (!v.ok()) return;
  const std::string enc = encode_bencode(*v);
  // Strict bencode (no leading zeros, no "-0", insertion-ordered dicts) has
  // exactly one spelling per value, so a decodable input is its own encoding.
  if (enc != in) __builtin_trap();
  auto again = decode_bencode(enc, kLimits);
  if (!again.ok() || !(*again == *v)) __builtin_trap();
  // Any decoded value must also survive JSON: invalid UTF-8 is replaced, and
  // nesting and element counts can only shrink (duplicate keys collapse).
  if (!decode_json(encode_json(*v), kLimits).ok()) __builtin_trap();
}

void check_datagram(std::string_view in) {
  auto req = split_ng_datagram(in);
  if (!req) return;
  if (req->cookie.empty() || req->cookie.size() > 256) __builtin_trap();
  auto body = decode_ng_body(*req);
  if (!body.ok()) return;
  if (!body->is_dict()) __builtin_trap();
  // A reply framed in the request's encoding must split and decode again.
  const std::string reply = frame_ng_reply(req->cookie, *body, req->encoding);
  auto reply_req = split_ng_datagram(reply);
  if (!reply_req || reply_req->cookie != req->cookie || reply_req->encoding != req->encoding) __builtin_trap();
  auto reply_body = decode_ng_body(*reply_req);
  if (!reply_body.ok()) __builtin_trap();
  if (req->encoding == NgEncoding::kBencode && !(*reply_body == *body)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_bencode(in);
  check_datagram(in);
  return 0;
}
