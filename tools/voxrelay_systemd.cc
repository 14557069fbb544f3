#include "voxrelay_systemd.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/clock.h"

namespace vox::tools {

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_ns_ = int64_t(usec) * 1000;
}

void SystemdNotifier::ready(const std::string& status) {
  const std::string msg = "READY=1\nMAINPID=" + std::to_string(getpid()) + "\nSTATUS=" + status;
  sd_notify(0, msg.c_str());
  last_ns_ = monotonic_ns();
  if (watchdog()) sd_notify(0, "WATCHDOG=1");
}

void SystemdNotifier::stopping() {
  sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::tick(int64_t now_ns) {
  if (!watchdog() || now_ns - last_ns_ < watchdog_ns_ / 2) return;
  last_ns_ = now_ns;
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace vox::tools
