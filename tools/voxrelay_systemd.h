// systemd's service notification protocol for the daemon (libsystemd's
// sd_notify): READY=1 once every socket is bound, STOPPING=1 when it
// stops, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.
// Without NOTIFY_SOCKET (not started by systemd) every call does nothing.
#pragma once

#include <cstdint>
#include <string>

namespace vox::tools {

class SystemdNotifier {
 public:
  SystemdNotifier();
  void ready(const std::string& status);
  void stopping();
  // Sends WATCHDOG=1 when half the watchdog interval has passed since the
  // last one; the control loop calls it at least every 200 ms.
  void tick(int64_t now_ns);
  bool watchdog() const { return watchdog_ns_ > 0; }

 private:
  int64_t watchdog_ns_ = 0;  // 0: no watchdog
  int64_t last_ns_ = 0;
};

}  // namespace vox::tools
