// DPDK counters by name, and burst time quantiles.
#include "dataplane/dpdk/counters.h"

#include <algorithm>

namespace vox::dataplane::dpdk {

std::vector<std::pair<std::string, uint64_t>> counter_list(const DpdkCounters& c) {
  std::vector<std::pair<std::string, uint64_t>> out;
#define VOX_DPDK_COUNTER_ITEM(field, name) out.emplace_back(name, c.field.load(std::memory_order_relaxed));
  VOX_DPDK_COUNTERS(VOX_DPDK_COUNTER_ITEM)
#undef VOX_DPDK_COUNTER_ITEM
  // kNotIp / kNotUdp frames are ARP, ICMP or "not handled", counted above.
  for (size_t s = 0; s < net::kFrameStatusCount; ++s) {
    const auto st = net::FrameStatus(s);
    if (st == net::FrameStatus::kOk || st == net::FrameStatus::kNotIp || st == net::FrameStatus::kNotUdp)
      continue;
    out.emplace_back(std::string("frame ") + net::to_string(st), c.frame_drops[s].load(std::memory_order_relaxed));
  }
  return out;
}

void BurstTimes::add(uint64_t ns) {
  const int b = ns == 0 ? 0 : std::min(kBuckets - 1, 64 - __builtin_clzll(ns));
  ++bucket[b];
  ++count;
  total_ns += ns;
}

uint64_t BurstTimes::quantile_ns(double q) const {
  if (count == 0) return 0;
  const uint64_t want = std::max<uint64_t>(1, uint64_t(q * double(count) + 0.5));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += bucket[b];
    if (seen >= want) return uint64_t(1) << b;
  }
  return uint64_t(1) << (kBuckets - 1);
}

}  // namespace vox::dataplane::dpdk
