// NG `loop-protect` (rtpengine's): the relay marks the SDP it rewrites with
// a session-level `a=rtpengine:<instance token>`; an offer or answer that
// comes back through a SIP loop carrying this relay's own mark is returned
// untouched (no second set of ports, no rewrite of the relay's own SDP).
#pragma once

#include <string>
#include <string_view>

namespace vox::control {

// This process's token: 12 hex digits, random at start (as rtpengine's).
const std::string& loop_protect_token();
// Whether the SDP carries `a=rtpengine:<token>` at session level.
bool carries_loop_mark(std::string_view sdp, std::string_view token);
// The SDP with `a=rtpengine:<token>` added at the end of the session level
// (before the first m= line), unless it is there already.
std::string add_loop_mark(std::string sdp, std::string_view token);

}  // namespace vox::control
