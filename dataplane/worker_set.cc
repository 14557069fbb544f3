// WorkerSet: posting commands and reading counters, for every backend.
#include "dataplane/worker_set.h"

#include <thread>

namespace vox::dataplane {

WorkerSet::WorkerSet(int workers, uint32_t max_flows)
    : max_flows_(max_flows), pending_(size_t(workers), 0) {
  for (int w = 0; w < workers; ++w) states_.push_back(std::make_unique<WorkerState>(w, max_flows));
}

bool WorkerSet::post(int w, const FlowCommand& cmd) {
  auto& ring = states_[size_t(w)]->commands();
  while (!ring.push(cmd)) {
    if (!running_) return false;  // nobody will drain it
    wake(w);
    std::this_thread::yield();
  }
  pending_[size_t(w)] = 1;
  return true;
}

void WorkerSet::flush() {
  for (size_t w = 0; w < pending_.size(); ++w) {
    if (!pending_[w]) continue;
    // A worker that is not asleep drains its ring before it next blocks.
    if (states_[w]->asleep()) wake(int(w));
    pending_[w] = 0;
  }
}

WorkerSnapshot WorkerSet::worker_counters(int w) const { return snapshot(states_[size_t(w)]->counters()); }

FlowSnapshot WorkerSet::flow_counters(int w, FlowId id) const { return states_[size_t(w)]->snapshot(id); }

}  // namespace vox::dataplane
