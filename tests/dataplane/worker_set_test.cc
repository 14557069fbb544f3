// WorkerSet::flush wakes the workers with commands queued, each once, and
// no other.
#include "dataplane/worker_set.h"

#include <gtest/gtest.h>


namespace vox::dataplane {
namespace {

// A backend that only counts its wakes (no ports, no threads).
struct CountingWorkers : WorkerSet {
  CountingWorkers() : WorkerSet(2, 16) {}
  Result<PortHandle, int> bind_port(LocalKey key) override { return PortHandle{key}; }
  void release_port(PortHandle) override {}
  void set_port_tos(LocalKey, std::optional<uint8_t>) override {}  // no ports to mark
  void wake(int w) override { ++wakes[w]; }
  int wakes[2] = {0, 0};
  void command(int w) {
    FlowCommand c;
    c.type = CommandType::kRemoveFlow;
    c.id = 1;
    ASSERT_TRUE(post(w, c));
  }
};

TEST(WorkerSet, FlushWakesTheWorkersWithCommandsQueued) {
  CountingWorkers ws;
  ASSERT_TRUE(ws.state(0).prepare_to_sleep());  // both workers block in their waits
  ASSERT_TRUE(ws.state(1).prepare_to_sleep());
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 0);  // nothing queued: no wake
  for (int i = 0; i < 3; ++i) {
    ws.command(0);
    ws.flush();
  }
  EXPECT_EQ(ws.wakes[0], 3);
  EXPECT_EQ(ws.wakes[1], 0);
  ws.flush();  // nothing queued since
  EXPECT_EQ(ws.wakes[0], 3);
}

// A worker that has not said it sleeps drains its ring before it next
// blocks: no wake (no system call) for it. One about to block with a
// command queued does not block.
TEST(WorkerSet, OnlyASleepingWorkerIsWoken) {
  CountingWorkers ws;
  ws.command(0);
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 0);
  EXPECT_FALSE(ws.state(0).prepare_to_sleep());  // the command is there: no sleep
  EXPECT_FALSE(ws.state(0).asleep());
  FlowCommand c;
  while (ws.state(0).commands().pop(c)) {
  }
  EXPECT_TRUE(ws.state(0).prepare_to_sleep());
  ws.command(0);
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 1);
  ws.state(0).woke();
  ws.command(0);
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 1);
}

}  // namespace
}  // namespace vox::dataplane
