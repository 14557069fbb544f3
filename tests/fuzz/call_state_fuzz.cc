// libFuzzer target for control/ha/call_state.cc, the reader of what Redis
// holds (anyone with access to Redis can write it): any bytes either are
// refused with an error or give a call whose document, encoded, decodes
// again to the same document. The same bytes as a --redis target
// (ha/redis_link.h) parse or are refused, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/ha/call_state.h"
#include "control/ha/redis_link.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vox::control;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)ha::parse_redis_target(in);
  auto call = decode_call(in);
  if (!call.ok()) return 0;
  const std::string doc = encode_call(**call);
  auto again = decode_call(doc);
  if (!again.ok() || encode_call(**again) != doc) __builtin_trap();
  return 0;
}
