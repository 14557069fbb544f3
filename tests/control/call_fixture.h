// The CallManager every call test starts from: one interface
// (203.0.113.1), ports 30000-30099, no delete delay, on a FakeDataplane
// with kWorkers workers.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "control/call_manager.h"
#include "fake_dataplane.h"

namespace vox::control::testing {

template <int kWorkers>
struct CallFixture : ::testing::Test {
  Config config;
  FakeDataplane plane{kWorkers};
  std::unique_ptr<CallManager> cm;
  CallManager::Clock now{1'000'000'000'000, 1'700'000'000};

  void SetUp() override {
    config.interfaces.push_back({"default", *IpAddr::parse("203.0.113.1"), *IpAddr::parse("203.0.113.1")});
    config.port_min = 30000;
    config.port_max = 30099;
    config.delete_delay_s = 0;
    cm = std::make_unique<CallManager>(config, plane);
  }
};

}  // namespace vox::control::testing
