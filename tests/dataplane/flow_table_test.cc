// FlowTable: insert/find/erase, the bound on entries, interfaces that never
// got a flow, and churn checked against std::unordered_map as the model.
#include "dataplane/flow_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace vox::dataplane {
namespace {

TEST(FlowTable, InsertFindErase) {
  FlowTable t(8);
  EXPECT_EQ(t.find(make_local_key(0, 30000)), kNoFlow);
  EXPECT_TRUE(t.insert(make_local_key(0, 30000), 7));
  EXPECT_TRUE(t.insert(make_local_key(1, 30000), 8));  // same port, other interface
  EXPECT_EQ(t.find(make_local_key(0, 30000)), 7u);
  EXPECT_EQ(t.find(make_local_key(1, 30000)), 8u);
  EXPECT_TRUE(t.insert(make_local_key(0, 30000), 9));  // replace
  EXPECT_EQ(t.find(make_local_key(0, 30000)), 9u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.erase(make_local_key(0, 30000)));
  EXPECT_FALSE(t.erase(make_local_key(0, 30000)));
  EXPECT_EQ(t.find(make_local_key(0, 30000)), kNoFlow);
  EXPECT_EQ(t.find(make_local_key(1, 30000)), 8u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, RefusesBeyondMaxFlows) {
  FlowTable t(4);
  for (uint16_t p = 0; p < 4; ++p) EXPECT_TRUE(t.insert(make_local_key(0, p), p));
  EXPECT_FALSE(t.insert(make_local_key(0, 99), 99));
  EXPECT_TRUE(t.insert(make_local_key(0, 2), 42));  // replacing is not growing
  EXPECT_EQ(t.find(make_local_key(0, 2)), 42u);
  EXPECT_TRUE(t.erase(make_local_key(0, 3)));
  EXPECT_TRUE(t.insert(make_local_key(0, 99), 99));  // room again
}

TEST(FlowTable, UnknownInterfacesAndPortsMiss) {
  FlowTable t(8);
  EXPECT_EQ(t.find(make_local_key(5, 1000)), kNoFlow);  // no interface array yet
  EXPECT_FALSE(t.erase(make_local_key(5, 1000)));
  EXPECT_TRUE(t.insert(make_local_key(3, 65535), 1));
  EXPECT_EQ(t.find(make_local_key(3, 65535)), 1u);
  EXPECT_EQ(t.find(make_local_key(3, 0)), kNoFlow);
  EXPECT_EQ(t.find(make_local_key(2, 65535)), kNoFlow);  // lower interface, not allocated
  EXPECT_EQ(t.find(make_local_key(4, 65535)), kNoFlow);  // beyond the last one
  EXPECT_FALSE(t.insert(make_local_key(3, 7), kNoFlow));  // not a flow id
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, ChurnMatchesModel) {
  constexpr uint32_t kMax = 5000;
  FlowTable t(kMax);
  std::unordered_map<LocalKey, FlowId> model;
  std::mt19937 rng(1);
  for (int step = 0; step < 200000; ++step) {
    LocalKey k = make_local_key(uint16_t(rng() % 3), uint16_t(30000 + rng() % 8000));
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(k), model.erase(k) == 1);
    } else if (model.size() < kMax || model.count(k)) {
      FlowId id = rng() % 100000;
      ASSERT_TRUE(t.insert(k, id));
      model[k] = id;
    }
    if (step % 997 == 0) {
      for (auto& [key, id] : model) ASSERT_EQ(t.find(key), id);
    }
  }
  EXPECT_EQ(t.size(), model.size());
  for (auto& [key, id] : model) EXPECT_EQ(t.find(key), id);
}

}  // namespace
}  // namespace vox::dataplane
