// NG command dispatch: turns a decoded request dictionary into a call
// manager operation and builds the reply dictionary (rtpengine's keys and
// error strings, so that Kamailio's and OpenSIPS's modules work unchanged).
#pragma once

#include <span>
#include <string_view>

#include "control/call_manager.h"
#include "control/ng_error.h"
#include "control/ng_server_stats.h"
#include "control/ng_value.h"

namespace vox::control {

struct NgContext {
  CallManager& calls;
  CallManager::Clock now;
  Endpoint peer;  // who sent the request (for logs)
  const NgServerStats* server = nullptr;  // the NG endpoint's counters (statistics); null in tests
};

// One NG command: its name and what answers it.
struct NgCommand {
  const char* name;
  NgValue (*handler)(const NgValue& request, NgContext& ctx);
};

// Every command voxrelay answers, one entry each.
std::span<const NgCommand> ng_commands();
// The command `name` spells under rtpengine's rules (ng_name_equal); null: none.
const NgCommand* find_ng_command(std::string_view name);

// Never throws; every failure is a reply with result "error" (or
// "load limit" for clients that support it) and an error-reason.
NgValue handle_ng_request(const NgValue& request, NgContext& ctx);

// Drain on or off (CallManager::set_draining), logged; the reply to NG
// `drain` and HTTP /drain: result ok, draining yes|no, calls up.
NgValue set_draining(CallManager& calls, bool on);

// Builds an error reply.
NgValue ng_error(const NgError& error);
NgValue ng_error(NgErrc code);  // without detail

}  // namespace vox::control
