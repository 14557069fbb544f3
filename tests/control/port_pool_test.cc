// PortPool: worker shares, pairs, exhaustion and FIFO reuse.
#include "control/port_pool.h"

#include <gtest/gtest.h>

#include <set>

namespace vox::control {
namespace {

TEST(PortPool, PairsBelongToTheirWorker) {
  PortPool pool(30000, 30099, 4, 1);
  EXPECT_EQ(pool.total_pairs(), 50u);
  std::set<uint16_t> seen;
  for (int w = 0; w < 4; ++w) {
    while (auto p = pool.allocate_pair(w)) {
      EXPECT_EQ(*p % 2, 0);
      EXPECT_GE(*p, 30000);
      EXPECT_LE(*p + 1, 30099);
      EXPECT_EQ(pool.worker_of(*p), w);
      EXPECT_EQ(pool.worker_of(uint16_t(*p + 1)), w);  // RTCP port steers to the same worker
      EXPECT_TRUE(seen.insert(*p).second);
    }
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(PortPool, OddBoundsAndExhaustion) {
  PortPool pool(30001, 30006, 1, 1);  // pairs 30002/3, 30004/5; 30006 has no partner
  auto a = pool.allocate_pair(0), b = pool.allocate_pair(0);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(pool.allocate_pair(0));
  pool.release_pair(*a);
  EXPECT_EQ(pool.allocate_pair(0), a);
}

TEST(PortPool, ReleasedPortsAreReusedLast) {
  PortPool pool(30000, 30019, 1, 7);  // 10 pairs
  auto first = pool.allocate_pair(0);
  ASSERT_TRUE(first);
  pool.release_pair(*first);
  for (int i = 0; i < 9; ++i) EXPECT_NE(pool.allocate_pair(0), first);
  EXPECT_EQ(pool.allocate_pair(0), first);
}

}  // namespace
}  // namespace vox::control
