// NgRateLimiter: token buckets by source address, refilled by elapsed time.
#include "control/ng_rate_limit.h"

#include <algorithm>

namespace vox::control {

namespace {
constexpr int64_t kSweepEveryNs = 10'000'000'000;  // idle sources leave the table this often
}

bool NgRateLimiter::take(Bucket& b, int64_t now_ns) {
  const double burst = 2.0 * rate_;
  if (now_ns > b.at_ns) {
    b.tokens = std::min(burst, b.tokens + double(now_ns - b.at_ns) * 1e-9 * rate_);
    b.at_ns = now_ns;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void NgRateLimiter::sweep(int64_t now_ns) {
  const double burst = 2.0 * rate_;
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + double(now_ns - b.at_ns) * 1e-9 * rate_ >= burst;
  });
  swept_at_ = now_ns;
}

bool NgRateLimiter::allow(const IpAddr& source, int64_t now_ns) {
  if (rate_ == 0) return true;
  if (now_ns - swept_at_ >= kSweepEveryNs) sweep(now_ns);
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxSources) return take(overflow_, now_ns);
    it = buckets_.emplace(source, Bucket{2.0 * rate_, now_ns}).first;
  }
  return take(it->second, now_ns);
}

}  // namespace vox::control
