// The in-memory dataplane with what control-plane tests look at: ports
// "taken by another process", and the SRTP commands applied.
#pragma once

#include <set>

#include "dataplane/inline_dataplane.h"

namespace vox::control::testing {

class FakeDataplane final : public dataplane::InlineDataplane {
 public:
  explicit FakeDataplane(int workers = 1, uint32_t max_flows = 1024)
      : InlineDataplane(workers, max_flows) {}
  Result<dataplane::PortHandle, int> bind_port(dataplane::LocalKey key) override {
    if (busy_ports.count(dataplane::local_key_port(key))) return Err{98};  // EADDRINUSE
    return InlineDataplane::bind_port(key);
  }
  int srtp_commands() const { return applied[size_t(dataplane::CommandType::kSetSrtp)]; }

  std::set<uint16_t> busy_ports;  // ports "taken by another process"
};

}  // namespace vox::control::testing
