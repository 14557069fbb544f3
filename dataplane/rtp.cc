// Names for RTP parse errors (the parser itself is inline in rtp.h). Used by
// drop counters, traces and tests; the strings are stable identifiers.
#include "dataplane/rtp.h"

namespace vox::dataplane {

const char* to_string(RtpError e) {
  switch (e) {
    case RtpError::kTooShort: return "rtp-too-short";
    case RtpError::kTooLong: return "rtp-too-long";
    case RtpError::kBadVersion: return "rtp-bad-version";
    case RtpError::kCsrcOverflow: return "rtp-csrc-overflow";
    case RtpError::kExtensionOverflow: return "rtp-extension-overflow";
    case RtpError::kBadPadding: return "rtp-bad-padding";
  }
  return "rtp-unknown-error";
}

}  // namespace vox::dataplane
