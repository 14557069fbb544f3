// A blocking NG protocol client over UDP, for voxctl, the load harness and
// tests. Each request gets a fresh random cookie; on timeout the identical
// datagram is sent again, which is safe because NG servers answer a repeated
// cookie from their reply cache instead of executing the command twice.
#pragma once

#include <cstdint>
#include <string>

#include "control/ng_value.h"
#include "base/endpoint.h"
#include "base/result.h"

namespace vox::control {

class NgClient {
 public:
  explicit NgClient(Endpoint server);
  ~NgClient();
  NgClient(const NgClient&) = delete;
  NgClient& operator=(const NgClient&) = delete;

  // Sends request (a dict with "command") bencoded and waits for the reply
  // with the same cookie: up to timeout_ms per attempt, 1 + retries attempts.
  // Replies carrying another cookie (late answers to earlier requests) are
  // skipped. The error is a one-line description (socket error, timeout,
  // undecodable reply); an NG "result: error" reply is a successful call.
  Result<NgValue, std::string> call(const NgValue& request, int timeout_ms = 2000, int retries = 2);

  const Endpoint& server() const { return server_; }

 private:
  std::string next_cookie();

  Endpoint server_;
  int fd_ = -1;
  std::string open_error_;  // why the socket could not be set up, if it could not
  uint64_t cookie_prefix_ = 0;
  uint64_t sequence_ = 0;
};

}  // namespace vox::control
