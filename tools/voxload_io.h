// voxload's two I/O drivers behind one call: each starts a LoadRun, sends
// its packets as they fall due and hands it every arrival until the run is
// over. io_uring (voxload_uring.cc) is the default, epoll (voxload_epoll.cc)
// the fallback.
#pragma once

#include <optional>
#include <string>

#include "voxload_run.h"

namespace voxload {

// Both return nullopt once the run is over, or why the driver could not be
// set up (the run then has not started: nothing was sent).
std::optional<std::string> drive_with_uring(LoadRun& run);
std::optional<std::string> drive_with_epoll(LoadRun& run);

// What both do with their driver: set it up, start the run's clock only
// then (so set-up time is not counted as backlog), and run it to the end.
template <class Driver>
std::optional<std::string> set_up_and_drive(Driver& driver, LoadRun& run) {
  if (auto err = driver.init()) return err;
  run.start(mono_ns());
  driver.run();
  return std::nullopt;
}

}  // namespace voxload
