// EAL bring-up: the process-wide test environment every DPDK test shares,
// and the once-per-process rule.
#include "dataplane/dpdk/eal.h"

#include <unistd.h>

#include <optional>

#include "tests/dpdk/dpdk_test_env.h"

namespace vox::dataplane::dpdk::test {
namespace {

std::string g_failure = "EAL environment not set up";
std::optional<EalHandle> g_eal;

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto eal = init_eal(eal_args(), "voxrelay_dpdk_tests");
    if (eal.ok()) {
      g_eal.emplace(std::move(eal).value());
      g_failure.clear();
    } else {
      g_failure = eal.error();
    }
  }
  void TearDown() override { g_eal.reset(); }
};

[[maybe_unused]] ::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

TEST(Eal, RunsWithTheTestVdevs) {
  VOX_REQUIRE_EAL();
  ASSERT_TRUE(g_eal.has_value());
  EXPECT_TRUE(g_eal->active());
  EXPECT_TRUE(eal_running());
  EXPECT_EQ(g_eal->lcore_count(), 1u);
  EXPECT_EQ(g_eal->main_lcore(), 0u);
  // net_ring0, net_ring1, vox_lo (net_ring2's nodeaction), net_null0.
  EXPECT_GE(g_eal->port_count(), 4u);
}

TEST(Eal, SecondInitIsAnErrorNotACrash) {
  VOX_REQUIRE_EAL();
  auto again = init_eal({"--no-huge", "--no-pci", "-m", "64"});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("already initialised"), std::string::npos) << again.error();
  EXPECT_TRUE(eal_running());
}

}  // namespace

const std::string& eal_failure() { return g_failure; }

}  // namespace vox::dataplane::dpdk::test
