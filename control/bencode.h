// Bencode (the NG protocol's native encoding) decoding and encoding.
// The decoder treats input as hostile: every length is checked before use,
// nesting depth and element counts are bounded, and it never reads past the
// given span. Trailing bytes after the top-level value are an error.
#pragma once

#include <string>
#include <string_view>

#include "control/ng_value.h"
#include "base/names.h"
#include "base/result.h"

namespace vox::control {

enum class DecodeError : uint8_t {
  kTruncated,     // input ended inside a value
  kSyntax,        // unexpected byte
  kBadInteger,    // leading zeros, "-0", overflow, empty
  kBadLength,     // string length prefix malformed or beyond input
  kTooDeep,       // nesting beyond kMaxDepth
  kTooLarge,      // more than kMaxElements values in total
  kTrailingData,  // bytes after the top-level value
  kNotDict,       // an NG message body that is not a dictionary
  kCount
};
inline constexpr EnumNames<DecodeError> kDecodeErrorNames = {{
    {DecodeError::kTruncated, "input ended inside a value"},
    {DecodeError::kSyntax, "unexpected byte"},
    {DecodeError::kBadInteger, "malformed or out-of-range integer"},
    {DecodeError::kBadLength, "malformed string length or string beyond input"},
    {DecodeError::kTooDeep, "nesting too deep"},
    {DecodeError::kTooLarge, "too many elements"},
    {DecodeError::kTrailingData, "trailing data after the top-level value"},
    {DecodeError::kNotDict, "message is not a dictionary"},
}};
static_assert(kDecodeErrorNames.complete());
inline const char* to_string(DecodeError e) { return kDecodeErrorNames[e]; }

struct DecodeLimits {
  int max_depth = 32;
  int max_elements = 100000;
};

Result<NgValue, DecodeError> decode_bencode(std::string_view in, DecodeLimits limits = {});
std::string encode_bencode(const NgValue& v);
// Appends the encoding to out (avoids a copy when framing replies).
void encode_bencode(const NgValue& v, std::string& out);

}  // namespace vox::control
