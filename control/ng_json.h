// JSON form of NG messages (a request whose dictionary starts with '{').
// JSON strings map to NgValue strings, integers to integers, arrays to lists,
// objects to dicts (order kept); true/false become integers 1/0, null an
// empty string, non-integral numbers their decimal text.
#pragma once

#include <string>
#include <string_view>

#include "control/bencode.h"

namespace vox::control {

Result<NgValue, DecodeError> decode_json(std::string_view in, DecodeLimits limits = {});
std::string encode_json(const NgValue& v);

}  // namespace vox::control
