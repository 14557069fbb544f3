// Every NG reply travels in one UDP datagram: a larger one cannot be sent
// at all (sendto fails with EMSGSIZE) and the proxy just times out. A `list`
// reply is cut to the call-ids that fit and says so in `warning` (result
// stays ok); any other reply that does not fit becomes an error reply
// naming its size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "control/ng_message.h"
#include "control/ng_value.h"

namespace vox::control {

// The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP octets); IPv6
// allows 20 more, the same bound keeps one rule.
inline constexpr size_t kMaxNgDatagram = 65507;

enum class ReplyFit : uint8_t { kFits, kTruncatedList, kTooLarge };

struct FittedReply {
  std::string framed;  // "COOKIE SP ENCODED-REPLY", at most max_size octets
  ReplyFit fit = ReplyFit::kFits;
};

// Frames reply (frame_ng_reply) within max_size octets. is_list: the reply
// of a `list` command, whose "calls" may be cut.
FittedReply frame_fitting_reply(std::string_view cookie, NgValue reply, NgEncoding enc, bool is_list,
                                size_t max_size = kMaxNgDatagram);

}  // namespace vox::control
