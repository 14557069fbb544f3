// The end-of-call record: one JSON line per call (a CDR) for the operator's
// billing, fraud or quality tooling (`--cdr-file`): the Call-ID, the
// tags, when it started and ended and why, and per stream its codec,
// addresses, counters and quality (control/quality.h).
#pragma once

#include <cstdint>
#include <string>

namespace vox::control {

class CallManager;
struct Call;

// `reason`: "deleted", "timeout", "shutdown". No trailing newline.
std::string call_record(const CallManager& cm, const Call& c, const char* reason, int64_t ended_unix);

}  // namespace vox::control
