// The settings SIGHUP reloads (control/config_reload.h): each is read where
// it is used, on the control thread, so changing it in place is enough.
#include "control/config_reload.h"

namespace vox::control {

namespace {

struct Reloadable {
  const char* name;  // the flag, without dashes
  int Config::*field;
};

constexpr Reloadable kReloadable[] = {
    {"log-level", &Config::log_level},
    {"timeout", &Config::timeout_s},
    {"silent-timeout", &Config::silent_timeout_s},
    {"final-timeout", &Config::final_timeout_s},
    {"offer-timeout", &Config::offer_timeout_s},
    {"delete-delay", &Config::delete_delay_s},
    {"max-sessions", &Config::max_sessions},
};

}  // namespace

std::vector<std::string> reload_config(Config& live, const Config& fresh) {
  std::vector<std::string> changed;
  for (const Reloadable& r : kReloadable) {
    if (live.*r.field == fresh.*r.field) continue;
    changed.push_back(std::string(r.name) + " " + std::to_string(live.*r.field) + " -> " +
                      std::to_string(fresh.*r.field));
    live.*r.field = fresh.*r.field;
  }
  return changed;
}

std::vector<std::string> reloadable_settings() {
  std::vector<std::string> names;
  for (const Reloadable& r : kReloadable) names.emplace_back(r.name);
  return names;
}

}  // namespace vox::control
