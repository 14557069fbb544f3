// reload_config: SIGHUP's settings change in place, each named with its
// old and new value; the others stay as they started.
#include "control/config_reload.h"

#include <gtest/gtest.h>

namespace vox::control {
namespace {

TEST(ConfigReload, ChangesTheReloadableSettingsAndSaysWhich) {
  Config live, fresh;
  fresh.timeout_s = 5;
  fresh.max_sessions = 1;
  fresh.log_level = 7;
  fresh.port_min = 20000;  // not reloadable: a restart's business
  const auto changed = reload_config(live, fresh);
  EXPECT_EQ(changed, (std::vector<std::string>{"log-level 6 -> 7", "timeout 60 -> 5", "max-sessions 0 -> 1"}));
  EXPECT_EQ(live.timeout_s, 5);
  EXPECT_EQ(live.max_sessions, 1);
  EXPECT_EQ(live.log_level, 7);
  EXPECT_EQ(live.port_min, 30000);
  EXPECT_TRUE(reload_config(live, fresh).empty());  // nothing left to change
}

TEST(ConfigReload, NamesItsSettings) {
  EXPECT_EQ(reloadable_settings(), (std::vector<std::string>{"log-level", "timeout", "silent-timeout",
                                                              "final-timeout", "offer-timeout",
                                                              "delete-delay", "max-sessions"}));
}

}  // namespace
}  // namespace vox::control
