// Prometheus metrics (text exposition format 0.0.4): what `statistics`
// says, for a scraper. Rendered on the control thread from the call
// table, the NG server's counters, the workers' counter snapshots (relaxed
// loads: the packet path takes no lock for it) and the WebRTC legs'.
// Names: `voxrelay_` prefix, `_total` for counters, base units (bytes).
#pragma once

#include <string>

#include "control/call_manager.h"
#include "control/ng_server_stats.h"

namespace vox::control {

// `server`: the NG server's counters (null: none).
std::string render_metrics(const CallManager& calls, const NgServerStats* server);

// "rx packets" -> "rx_packets": a counter's table name as a metric name part.
std::string metric_name(std::string_view name);

}  // namespace vox::control
