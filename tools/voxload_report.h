// voxload's report at the end of a run: text lines for people, or with
// --json exactly one JSON line on stdout. bench/*.sh and
// tests/integration/ parse both: names and formats are an interface.
#pragma once

#include <string>

#include "voxload_calls.h"
#include "voxload_options.h"
#include "voxload_run.h"

namespace voxload {

// Prints the report of run (and of the call setup before it) on stdout, and
// the first send error, if any, on stderr. io: the driver that ran.
void report(const Options& opt, LoadRun& run, const SetupReport& setup, int delete_errors, const std::string& io,
            long relay_rss_before_kb);

}  // namespace voxload
