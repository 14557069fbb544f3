// voxload's calls over the NG protocol: each call is an offer from side A
// and an answer from side B (plain PCMU, or PCMU against Opus with
// --transcode), which tell each side the relay port to send to; delete ends it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/ng_client.h"
#include "base/endpoint.h"
#include "voxload_transcode.h"

namespace voxload {

struct Call {
  std::string call_id, from_tag, to_tag;
  bool up = false;
};

struct SetupReport {
  int up = 0;
  int errors = 0;
  std::string first_error;
  double seconds = 0;
};

// Where each side's media sockets live and which relay interface faces it.
struct CallSides {
  vox::IpAddr local_a, local_b;
  std::vector<std::string> direction;  // empty, or [interface facing A, interface facing B]
};

// Offer from side A (its socket's port), answer from side B; returns where A
// and B must send (relay ports P_A and P_B). With tc (--transcode) the offer
// asks for Opus and B answers with the Opus payload type the relay offered.
std::optional<std::string> setup_call(vox::control::NgClient& ng, Call& call, const CallSides& sides,
                                      uint16_t port_a, uint16_t port_b, uint64_t session_id, int timeout_ms,
                                      vox::Endpoint* to_relay_from_a, vox::Endpoint* to_relay_from_b,
                                      TranscodeLoad* tc = nullptr, uint32_t call_index = 0);

// Deletes every call that is up; returns how many deletes failed.
int delete_calls(vox::control::NgClient& ng, const std::vector<Call>& calls, int timeout_ms);

}  // namespace voxload
