// The one clock the packet path reads: CLOCK_MONOTONIC in nanoseconds
// (vDSO: no system call). Latching windows, ARP timers and RTP arrival
// times are all in this domain.
#pragma once

#include <time.h>

#include <cstdint>

namespace vox {

inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace vox
