// WorkerSet::flush: every flush wakes a worker with commands queued, or,
// with a wake gap (the daemon's), at most once per gap, the held-back wake
// announced by flush_deadline_ns and made by the next flush after it.
#include "dataplane/worker_set.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/clock.h"

namespace vox::dataplane {
namespace {

// A backend that only counts its wakes (no ports, no threads).
struct CountingWorkers : WorkerSet {
  CountingWorkers() : WorkerSet(2, 16) {}
  Result<PortHandle, int> bind_port(LocalKey key) override { return PortHandle{key}; }
  void release_port(PortHandle) override {}
  void wake(int w) override { ++wakes[w]; }
  int wakes[2] = {0, 0};
  void command(int w) {
    FlowCommand c;
    c.type = CommandType::kRemoveFlow;
    c.id = 1;
    ASSERT_TRUE(post(w, c));
  }
};

TEST(WorkerSet, EveryFlushWakesWithoutAGap) {
  CountingWorkers ws;
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 0);  // nothing queued: no wake
  for (int i = 0; i < 3; ++i) {
    ws.command(0);
    ws.flush();
  }
  EXPECT_EQ(ws.wakes[0], 3);
  EXPECT_EQ(ws.wakes[1], 0);
  EXPECT_EQ(ws.flush_deadline_ns(), INT64_MAX);
}

TEST(WorkerSet, AGapBatchesWakesAndSaysWhenTheHeldOneIsDue) {
  CountingWorkers ws;
  constexpr int64_t kGap = 50'000'000;  // 50 ms: longer than this test's steps
  ws.set_wake_gap_ns(kGap);
  const int64_t start = monotonic_ns();
  ws.command(0);
  ws.flush();  // not woken for a gap: at once
  EXPECT_EQ(ws.wakes[0], 1);
  EXPECT_EQ(ws.flush_deadline_ns(), INT64_MAX);
  for (int i = 0; i < 5; ++i) {  // a burst: held back
    ws.command(0);
    ws.flush();
  }
  ws.command(1);
  ws.flush();  // another worker is not held back by worker 0's gap
  EXPECT_EQ(ws.wakes[0], 1);
  EXPECT_EQ(ws.wakes[1], 1);
  const int64_t due = ws.flush_deadline_ns();
  EXPECT_GE(due, start + kGap);
  EXPECT_LE(due, monotonic_ns() + kGap);
  std::this_thread::sleep_for(std::chrono::nanoseconds(due - monotonic_ns() + 1'000'000));
  ws.flush();  // the control loop, at the deadline
  EXPECT_EQ(ws.wakes[0], 2);
  EXPECT_EQ(ws.flush_deadline_ns(), INT64_MAX);
  ws.flush();  // nothing queued any more
  EXPECT_EQ(ws.wakes[0], 2);
}

// flush_now wakes whatever the gap (the commands close ports a next call
// may get) and clears a held-back deadline.
TEST(WorkerSet, FlushNowWakesInsideTheGap) {
  CountingWorkers ws;
  ws.set_wake_gap_ns(int64_t(60) * 1'000'000'000);
  ws.command(0);
  ws.flush();
  ws.command(0);
  ws.flush();
  EXPECT_EQ(ws.wakes[0], 1);
  EXPECT_NE(ws.flush_deadline_ns(), INT64_MAX);
  ws.flush_now();
  EXPECT_EQ(ws.wakes[0], 2);
  EXPECT_EQ(ws.flush_deadline_ns(), INT64_MAX);
}

}  // namespace
}  // namespace vox::dataplane
