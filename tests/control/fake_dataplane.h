// An in-memory Dataplane for control-plane tests: ports are "opened" from a
// counter (no sockets), commands are applied straight to real WorkerStates,
// so tests can inspect the flows the control plane programmed.
#pragma once

#include <memory>
#include <set>
#include <vector>

#include "dataplane/dataplane.h"

namespace vox::control::testing {

class FakeDataplane final : public dataplane::Dataplane {
 public:
  explicit FakeDataplane(int workers = 1, uint32_t max_flows = 1024) {
    for (int w = 0; w < workers; ++w)
      states_.push_back(std::make_unique<dataplane::WorkerState>(w, max_flows));
  }
  int workers() const override { return int(states_.size()); }
  Result<int, int> open_port(const IpAddr&, uint16_t port) override {
    if (busy_ports.count(port)) return Err{98};  // EADDRINUSE
    int fd = next_fd_++;
    open_fds.insert(fd);
    return fd;
  }
  void discard_port(int fd) override { open_fds.erase(fd); }
  bool post(int w, const dataplane::FlowCommand& cmd) override {
    ++posted;
    if (cmd.type == dataplane::CommandType::kSetSrtp) ++srtp_commands;
    auto a = states_[size_t(w)]->apply(cmd);
    if (a.fd_removed >= 0) open_fds.erase(a.fd_removed);
    return true;
  }
  void flush() override { ++flushes; }
  const dataplane::WorkerState& worker(int w) const override { return *states_[size_t(w)]; }
  dataplane::WorkerState& mutable_worker(int w) { return *states_[size_t(w)]; }

  std::set<int> open_fds;       // ports currently bound (fds not yet closed)
  std::set<uint16_t> busy_ports;  // ports "taken by another process"
  int posted = 0, flushes = 0;
  int srtp_commands = 0;  // kSetSrtp posted

 private:
  std::vector<std::unique_ptr<dataplane::WorkerState>> states_;
  int next_fd_ = 100;
};

}  // namespace vox::control::testing
