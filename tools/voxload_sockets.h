// voxload's media sockets: non-blocking UDP on ephemeral ports with kernel
// receive timestamps, and the descriptor limit two sockets per call need.
#pragma once

#include <sys/resource.h>

#include <cstdint>

#include "base/endpoint.h"

namespace voxload {

// Raises RLIMIT_NOFILE to needed (its hard limit too when root); false if
// the soft limit stays below it.
bool raise_fd_limit(rlim_t needed);

// A non-blocking UDP socket on an ephemeral port of local, with kernel
// receive timestamps (so latency excludes the generator's own batching).
// Returns the descriptor (-1 on failure, errno saying why) and sets *port.
int open_media_socket(const vox::IpAddr& local, uint16_t* port);

}  // namespace voxload
