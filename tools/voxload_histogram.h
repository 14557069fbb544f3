// voxload's latency histogram: log-linear buckets, so a run of any length
// yields percentiles from a fixed few kilobytes with no stored samples.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace voxload {

// Log-linear buckets: 32 per power of two (≤ 3 % relative error) over the
// whole uint64 range, so percentiles need no stored samples.
class LatencyHistogram {
 public:
  void add(uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  // Midpoint of the bucket holding the q-quantile (q in [0, 1]).
  double quantile_ns(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = uint64_t(q * double(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return midpoint(i);
    }
    return double(max_);
  }

 private:
  static constexpr int kSubBits = 5;
  static constexpr size_t kSub = size_t(1) << kSubBits;
  static size_t index(uint64_t v) {
    if (v < kSub) return size_t(v);
    const int msb = std::bit_width(v) - 1;
    const uint64_t mantissa = v >> (msb - kSubBits);  // in [kSub, 2 kSub)
    return size_t(msb - kSubBits + 1) * kSub + size_t(mantissa - kSub);
  }
  static double midpoint(size_t i) {
    if (i < kSub) return double(i);
    const int shift = int(i / kSub) - 1;
    const double lower = double((kSub + i % kSub) << shift);
    return lower + double(uint64_t(1) << shift) / 2;
  }
  std::array<uint64_t, (64 - kSubBits + 1) * kSub> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace voxload
