// Readers of /proc (and getrusage) for voxload's CPU, memory and socket-drop
// figures; each returns -1 (or a -1 field) when the figure is unreadable.
#include "voxload_usage.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace voxload {

double process_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  const size_t paren = line.rfind(')');  // comm may contain spaces
  if (paren == std::string::npos) return -1;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return -1;
  return double(user + nice + system + irq + softirq + steal) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long process_rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  return -1;
}

std::string proc_net_udp_key(const sockaddr_storage& ss) {
  // The kernel prints the address words as native-endian integers (%08X)
  // and the port in host order (%04X).
  char buf[64];
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    std::snprintf(buf, sizeof buf, "%08X:%04X", unsigned(a.sin_addr.s_addr), unsigned(ntohs(a.sin_port)));
    return buf;
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
  uint32_t w[4];
  std::memcpy(w, &a.sin6_addr, sizeof w);
  std::snprintf(buf, sizeof buf, "%08X%08X%08X%08X:%04X", unsigned(w[0]), unsigned(w[1]), unsigned(w[2]),
                unsigned(w[3]), unsigned(ntohs(a.sin6_port)));
  return buf;
}

SocketDrops socket_drops(const std::unordered_set<std::string>& relay, const std::unordered_set<std::string>& own) {
  long long relay_drops = 0, own_drops = 0;
  size_t relay_seen = 0, own_seen = 0;
  for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      // sl local_address rem_address ... drops (the last field)
      std::istringstream in(line);
      std::string sl, local, field, last;
      if (!(in >> sl >> local)) continue;
      while (in >> field) last = field;
      const long long drops = std::atoll(last.c_str());
      if (relay.contains(local)) {
        relay_drops += drops;
        ++relay_seen;
      }
      if (own.contains(local)) {
        own_drops += drops;
        ++own_seen;
      }
    }
  }
  return {relay_seen ? relay_drops : -1, own_seen ? own_drops : -1};
}

}  // namespace voxload
