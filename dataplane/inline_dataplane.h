// The in-memory dataplane: no sockets, no threads. Ports are names only,
// and every command is applied on the caller's thread as it is posted, to
// real WorkerStates. Control-plane tests inspect the flows it programs;
// benchmarks time the control plane alone on it.
#pragma once

#include <map>
#include <set>

#include "dataplane/worker_set.h"

namespace vox::dataplane {

class InlineDataplane : public WorkerSet {
 public:
  explicit InlineDataplane(int workers = 1, uint32_t max_flows = 1024) : WorkerSet(workers, max_flows) {}

  Result<PortHandle, int> bind_port(LocalKey key) override {
    bound.insert(key);
    return PortHandle{key};
  }
  void release_port(PortHandle port) override {
    bound.erase(port.key);
    tos.erase(port.key);
  }
  void set_port_tos(LocalKey key, std::optional<uint8_t> t) override {
    if (t) tos[key] = *t;
    else tos.erase(key);
  }
  bool post(int w, const FlowCommand& cmd) override {
    ++applied[size_t(cmd.type)];
    const auto a = state(w).apply(cmd);
    if (a.port == WorkerState::PortChange::kRemoved) {
      bound.erase(a.key);
      tos.erase(a.key);
    }
    return true;
  }
  void flush() override {}

  std::set<LocalKey> bound;  // ports bound and not yet released
  std::map<LocalKey, uint8_t> tos;  // ports with a TOS of their own
  int applied[size_t(CommandType::kCount)] = {};  // commands applied, by type
};

}  // namespace vox::dataplane
