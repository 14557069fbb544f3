// The in-memory dataplane with what control-plane tests look at: ports
// "taken by another process", and how many commands were posted.
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
  bool post(int w, const dataplane::FlowCommand& cmd) override {
    ++posted;
    if (cmd.type == dataplane::CommandType::kSetSrtp) ++srtp_commands;
    return InlineDataplane::post(w, cmd);
  }
  void flush() override { ++flushes; }
  const dataplane::WorkerState& worker(int w) const { return state(w); }
  dataplane::WorkerState& mutable_worker(int w) { return state(w); }

  std::set<uint16_t> busy_ports;  // ports "taken by another process"
  int posted = 0, flushes = 0;
  int srtp_commands = 0;  // kSetSrtp posted
};

}  // namespace vox::control::testing
