// NG command dispatch: turns a decoded request dictionary into a call
// manager operation and builds the reply dictionary (rtpengine's keys and
// error strings, so that Kamailio's and OpenSIPS's modules work unchanged).
#pragma once

#include "control/call_manager.h"
#include "control/ng_value.h"

namespace vox::control {

struct NgContext {
  CallManager& calls;
  CallManager::Clock now;
  Endpoint peer;  // who sent the request (for logs)
};

// Never throws; every failure is a reply with result "error" (or
// "load limit" for clients that support it) and an error-reason.
NgValue handle_ng_request(const NgValue& request, NgContext& ctx);

// Builds an error reply.
NgValue ng_error(std::string_view reason);

}  // namespace vox::control
