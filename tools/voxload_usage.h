// What voxload samples at its window's edges besides its own packets: CPU
// time (the relay's, its own, the whole machine's), the relay's resident
// memory, and the kernel's UDP receive-buffer drops (all from /proc).
#pragma once

#include <sys/socket.h>

#include <string>
#include <unordered_set>

namespace voxload {

// utime + stime (fields 14 and 15 of /proc/PID/stat) in seconds; -1 if unreadable.
double process_cpu_seconds(int pid);

// Busy time of the whole machine (every core), in seconds, from /proc/stat:
// compared with the relay's and our own CPU time it shows how much other
// work shared the cores during the window (it skews every figure).
double machine_busy_seconds();

// voxload's own user + system CPU time, in seconds.
double self_cpu_seconds();

// Bytes of resident memory (VmRSS) of a process, in KiB; -1 if unreadable.
long process_rss_kb(int pid);

// Datagrams the kernel dropped at UDP sockets (the `drops` column of
// /proc/net/udp and udp6: receive buffer full), summed over the sockets
// bound to the relay's media endpoints this run sends to, and over
// voxload's own. -1 when none of them is visible (e.g. a relay in another
// network namespace). A transcoding relay conceals a lost input frame, so
// loss at its own sockets shows here, not in the delivered count.
struct SocketDrops {
  long long relay = -1;
  long long own = -1;
};
// The local_address field of /proc/net/udp{,6} for an endpoint ("0100007F:C350").
std::string proc_net_udp_key(const sockaddr_storage& ss);
SocketDrops socket_drops(const std::unordered_set<std::string>& relay, const std::unordered_set<std::string>& own);

}  // namespace voxload
