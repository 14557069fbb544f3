// rtpengine 10.5's daemon options that voxrelay does not implement with
// rtpengine's meaning, so that rtpengine's command line and config file
// start voxrelay (README "Moving from rtpengine"). Each is accepted with one
// warning line at start saying what voxrelay does instead, or refused where
// running without it would silently lose something the operator relies on.
// The options voxrelay implements are in config.cc with its own.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace vox::control {

enum class CompatAction : uint8_t { kWarn, kRefuse };

struct CompatOption {
  std::string_view names;  // CLI11 spelling: "-k,--subscribe-keyspace"
  bool takes_value;
  CompatAction action;
  std::string_view note;   // what voxrelay does instead, or why it refuses
};

std::span<const CompatOption> rtpengine_compat_options();

}  // namespace vox::control
