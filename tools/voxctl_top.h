// `voxctl top`'s model: one poll of a relay over NG (statistics, list, then
// query per call), the figures read from those replies, rates between two
// polls, the worst calls by MOS first, and the frame as lines of text. No
// terminal here: voxctl.cc draws these lines with ncurses or prints them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "control/ng_value.h"

namespace voxctl {

using vox::control::NgValue;

// At most this many calls are queried per refresh (and asked of `list`).
inline constexpr size_t kMaxTopCalls = 200;

// The relay-wide counters of a `statistics` reply. Absent ones (rtpengine
// has no "free port pairs" nor "packets received") are shown as "-".
struct RelayCounters {
  int64_t sessions_own = 0, sessions_total = 0;
  std::optional<int64_t> free_port_pairs;
  bool draining = false;
  std::optional<uint64_t> packets_received;
  std::optional<uint64_t> packets_relayed;              // rtpengine: "relayedpackets"
  std::vector<std::pair<std::string, uint64_t>> drops;  // totalstatistics.drops, in reply order
  std::vector<uint64_t> worker_rx;                      // workers[i]."rx packets"
};

// Per second between two polls; drops only for reasons that moved.
struct Rates {
  std::optional<double> received, relayed;
  std::vector<std::pair<std::string, double>> drops;
  std::vector<double> worker_rx;
};

// One call of the table, from its `query` reply. The quality columns are
// those of its worst stream (lowest MOS, then most loss); absent when no
// stream carries a `quality` dict (older relays, rtpengine without it).
struct CallRow {
  std::string call_id;
  int64_t created = 0;           // unix seconds
  std::optional<int64_t> mos10;  // MOS x 10, rtpengine's convention (43: 4.3)
  std::optional<double> loss_percent;
  std::optional<double> jitter_ms;
  int64_t packets = 0;  // totals.RTP.packets
};

// What one refresh learned. error: why part of it is missing ("" if none).
struct Poll {
  std::optional<RelayCounters> counters;
  std::vector<CallRow> calls;  // in `list` order; sort with sort_worst_first
  size_t listed = 0;           // call-ids `list` returned
  bool more_calls = false;     // the relay has more than kMaxTopCalls
  std::string error;
};

// Sends one NG request and returns its reply (NgClient::call, or a fake).
using NgExchange = std::function<vox::Result<NgValue, std::string>(const NgValue&)>;

// statistics, list ("limit": kMaxTopCalls), then query for each call-id.
// Calls that vanish between list and query are left out; a query that gets
// no reply ends the round (the relay is not answering).
Poll poll_relay(const NgExchange& ng);

// nullopt unless reply is a "result: ok" statistics reply.
std::optional<RelayCounters> parse_statistics(const NgValue& reply);
// nullopt unless reply is a "result: ok" query reply.
std::optional<CallRow> parse_call(std::string call_id, const NgValue& reply);

// (now - before) / elapsed_s per counter; a counter that went backwards (a
// restarted relay) counts 0. nullopt when elapsed_s is not positive.
std::optional<Rates> compute_rates(const RelayCounters& before, const RelayCounters& now,
                                   double elapsed_s);

// Lowest MOS first; calls without a MOS last; ties by loss, then call-id.
void sort_worst_first(std::vector<CallRow>& calls);

// Everything a frame shows.
struct TopView {
  std::string relay;     // the NG address
  int64_t now_unix = 0;  // for the clock and the calls' ages
  double interval_s = 1;
  Poll poll;                   // calls sorted worst first
  std::optional<Rates> rates;  // nullopt on the first refresh
};

// The frame: header lines, the table's title line, then rows. width 0: no
// cut; height 0: every row, else as many rows as fit in height lines.
struct Frame {
  std::vector<std::string> lines;
  size_t table_title = 0;  // index of the column titles in lines
};
Frame render_frame(const TopView& view, int width, int height);

// Cells, exposed for the tests.
std::string format_mos(std::optional<int64_t> mos10);  // "4.3", "-"
std::string format_age(int64_t seconds);               // "42s", "3m07s", "2h05m", "4d03h"
std::string format_rate(double per_second);            // "0", "12.5", "1234", "12.3k", "4.50M"

}  // namespace voxctl
