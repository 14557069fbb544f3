// NgError::message(): how each code's name and its detail read together in
// an error-reason (see control/ng_error.h).
#include "control/ng_error.h"

namespace vox::control {

std::string NgError::message() const {
  std::string out = to_string(code);
  if (detail.empty()) return out;
  switch (code) {
    case NgErrc::kSdp:
    case NgErrc::kCodec:
    case NgErrc::kSrtp:
      return detail;
    case NgErrc::kUnknownInterface:
      return out + " '" + detail + "'";
    case NgErrc::kCannotTranscode:
      return out + ' ' + detail;
    default:
      return out + ": " + detail;
  }
}

}  // namespace vox::control
