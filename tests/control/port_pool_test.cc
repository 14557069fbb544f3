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

TEST(PortPool, ClaimedPairsAreNeverHandedOut) {
  PortPool pool(30000, 30019, 2, 3);  // 10 pairs, 5 per worker
  EXPECT_FALSE(pool.claim_pair(30001));  // odd
  EXPECT_FALSE(pool.claim_pair(29998));  // outside the range
  ASSERT_TRUE(pool.claim_pair(30004));
  EXPECT_FALSE(pool.claim_pair(30004));  // twice
  const int w = pool.worker_of(30004);
  EXPECT_EQ(pool.free_pairs(w), 4u);
  EXPECT_EQ(pool.free_pairs(1 - w), 5u);
  std::set<uint16_t> handed;
  while (auto p = pool.allocate_pair(w)) handed.insert(*p);
  EXPECT_EQ(handed.size(), 4u);
  EXPECT_FALSE(handed.count(30004));
  EXPECT_EQ(pool.free_pairs(w), 0u);
  // Released, a claimed pair is free again, and handed out once only.
  pool.release_pair(30004);
  pool.release_pair(30004);  // twice: ignored
  EXPECT_EQ(pool.free_pairs(w), 1u);
  EXPECT_EQ(pool.allocate_pair(w), std::optional<uint16_t>(30004));
  EXPECT_FALSE(pool.allocate_pair(w));
  // Claimed, released, claimed again before its old entry is reached.
  pool.release_pair(30004);
  ASSERT_TRUE(pool.claim_pair(30004));
  EXPECT_FALSE(pool.allocate_pair(w));
  EXPECT_EQ(pool.free_pairs(w), 0u);
}

}  // namespace
}  // namespace vox::control
