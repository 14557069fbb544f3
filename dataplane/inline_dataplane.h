// The in-memory dataplane: no sockets, no threads. Ports are names only,
// and every command is applied on the caller's thread as it is posted, to
// real WorkerStates. Control-plane tests inspect the flows it programs;
// benchmarks time the control plane alone on it.
#pragma once

#include <memory>
#include <set>
#include <vector>

#include "dataplane/dataplane.h"

namespace vox::dataplane {

class InlineDataplane : public Dataplane {
 public:
  explicit InlineDataplane(int workers = 1, uint32_t max_flows = 1024) {
    for (int w = 0; w < workers; ++w) states_.push_back(std::make_unique<WorkerState>(w, max_flows));
  }
  int workers() const override { return int(states_.size()); }
  Result<int, int> open_port(const IpAddr&, uint16_t) override {
    const int fd = next_fd_++;
    open_fds.insert(fd);
    return fd;
  }
  void discard_port(int fd) override { open_fds.erase(fd); }
  bool post(int w, const FlowCommand& cmd) override {
    ++applied[size_t(cmd.type)];
    const auto a = states_[size_t(w)]->apply(cmd);
    if (a.fd_removed >= 0) open_fds.erase(a.fd_removed);
    return true;
  }
  void flush() override {}
  const WorkerState& worker(int w) const override { return *states_[size_t(w)]; }
  WorkerState& mutable_worker(int w) { return *states_[size_t(w)]; }

  std::set<int> open_fds;  // ports currently bound
  int applied[size_t(CommandType::kCount)] = {};  // commands applied, by type

 private:
  std::vector<std::unique_ptr<WorkerState>> states_;
  int next_fd_ = 100;
};

}  // namespace vox::dataplane
