// Reading an offer's or answer's NG dictionary into a SignalRequest, with
// rtpengine's names and its tolerance: an unknown or malformed value is
// logged and ignored, and only what makes the request impossible (no
// call-id, no SDP...) is an error (NG-PROTOCOL.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "control/call_manager.h"
#include "control/ng_error.h"
#include "control/ng_value.h"

namespace vox::control {

Result<SignalRequest, NgError> parse_signal(const NgValue& req, bool is_answer);

// Whether `list` holds `name` under rtpengine's spelling rules.
bool ng_list_has(const std::vector<std::string_view>& list, std::string_view name);

// Logs, as a warning, a line saying what in the request voxrelay ignores
// (rtpengine's wording where it has one): once per distinct line (proxies
// send the same flags with every call), and a few hundred lines at most.
void warn_ignored(std::string line);

}  // namespace vox::control
