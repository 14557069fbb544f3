// SIGHUP: what a running relay takes from its re-read command line and
// config file without dropping a call. The rest (addresses, ports,
// workers, backend, certificates) needs a restart.
#pragma once

#include <string>
#include <vector>

#include "control/config.h"

namespace vox::control {

// Copies the reloadable settings that differ from `fresh` into `live`;
// one "name old -> new" line per change, in table order.
std::vector<std::string> reload_config(Config& live, const Config& fresh);

// The reloadable settings' names, as the flags spell them.
std::vector<std::string> reloadable_settings();

}  // namespace vox::control
