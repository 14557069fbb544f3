// The NG endpoint's own counters (datagrams, not calls): what it answered,
// refused, dropped and evicted. One table of names, read by `statistics`
// (its "ng" dictionary) and the tests.
#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>

#include "base/names.h"

namespace vox::control {

// NG commands as the latency histogram tells them apart.
enum class NgCommandKind : uint8_t { kOffer, kAnswer, kDelete, kQuery, kPing, kOther, kCount };
inline constexpr EnumNames<NgCommandKind> kNgCommandKindNames = {{
    {NgCommandKind::kOffer, "offer"},
    {NgCommandKind::kAnswer, "answer"},
    {NgCommandKind::kDelete, "delete"},
    {NgCommandKind::kQuery, "query"},
    {NgCommandKind::kPing, "ping"},
    {NgCommandKind::kOther, "other"},
}};
static_assert(kNgCommandKindNames.complete());
NgCommandKind ng_command_kind(std::string_view command);

// How long the control thread took over NG requests of one kind (decode,
// the call table, the reply), for a Prometheus histogram: the count in
// each bucket (not cumulative), the last past every bound.
inline constexpr int64_t kNgLatencyBoundsNs[] = {50'000, 100'000, 250'000, 500'000, 1'000'000,
                                                 2'500'000, 5'000'000, 10'000'000, 25'000'000,
                                                 100'000'000};
struct NgLatency {
  uint64_t buckets[std::size(kNgLatencyBoundsNs) + 1] = {};
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  void add(int64_t ns) {
    size_t b = 0;
    while (b < std::size(kNgLatencyBoundsNs) && ns > kNgLatencyBoundsNs[b]) ++b;
    ++buckets[b];
    ++count;
    sum_ns += uint64_t(ns > 0 ? ns : 0);
  }
};

struct NgServerStats {
  uint64_t requests = 0;          // datagrams taken (after --ng-allow and the rate limit)
  uint64_t retransmissions = 0;   // answered from the reply cache
  uint64_t undecodable = 0;       // a cookie, but no dictionary: an error reply, not cached
  uint64_t no_cookie = 0;         // dropped without reply
  uint64_t refused_peer = 0;      // a source --ng-allow does not list
  uint64_t rate_limited = 0;      // over --ng-rate-limit for its source: dropped without reply
  uint64_t cache_evictions = 0;   // replies dropped early to keep the cache under its byte bound
  uint64_t cache_bytes = 0;       // the cache's size now (keys + replies + per-entry overhead)
  uint64_t truncated_lists = 0;   // `list` replies cut to fit one datagram
  uint64_t oversized_replies = 0; // other replies over a datagram: answered with an error
  NgLatency latency[size_t(NgCommandKind::kCount)];  // by NgCommandKind
  // From a request's arrival on the host (the kernel's receive time stamp)
  // to its reply's sending: the processing above plus the wait for the
  // control thread (other requests, timers, calls' state for Redis).
  NgLatency reply_delay;

  // Calls f(name, value) for each counter, in the order above.
  template <class F>
  void for_each(F&& f) const {
    f("requests", requests);
    f("retransmissions", retransmissions);
    f("undecodable", undecodable);
    f("no cookie", no_cookie);
    f("refused peer", refused_peer);
    f("rate limited", rate_limited);
    f("cache evictions", cache_evictions);
    f("cache bytes", cache_bytes);
    f("truncated lists", truncated_lists);
    f("oversized replies", oversized_replies);
  }
};

}  // namespace vox::control
