// Per-source rate limit of NG requests: a token bucket per source address
// (rate N requests/s, burst 2N), so one flooding host cannot crowd out the
// proxy. Checked before a datagram is parsed at all: a refused one costs a
// hash lookup. The table is bounded: idle sources (full buckets) are swept
// out, and past kMaxSources new sources share one bucket.
#pragma once

#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "base/endpoint.h"

namespace vox::control {

class NgRateLimiter {
 public:
  static constexpr size_t kMaxSources = 65536;

  // rate_per_s 0: no limit (allow() is always true).
  explicit NgRateLimiter(uint32_t rate_per_s) : rate_(rate_per_s) {}
  // Takes a token from source's bucket; false when it is empty.
  bool allow(const IpAddr& source, int64_t now_ns);
  size_t sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ns = 0;  // when tokens was last brought up to date
  };
  struct AddrHash {
    size_t operator()(const IpAddr& a) const {
      uint64_t h[2];
      std::memcpy(h, a.bytes, 16);
      return size_t((h[0] * 0x9E3779B97F4A7C15ull) ^ (h[1] * 0xC2B2AE3D27D4EB4Full));
    }
  };
  bool take(Bucket& b, int64_t now_ns);
  void sweep(int64_t now_ns);

  uint32_t rate_;
  std::unordered_map<IpAddr, Bucket, AddrHash> buckets_;
  Bucket overflow_;  // every source past kMaxSources
  int64_t swept_at_ = 0;
};

}  // namespace vox::control
