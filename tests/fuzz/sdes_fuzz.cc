// libFuzzer target for control/sdes.cc: any a=crypto value that parses must
// render to a value that parses back to the same tag, suite, key, MKI,
// lifetime and session parameters (with and without base64 padding); the
// NG SDES flag parser must never crash on the same bytes split at spaces.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "control/sdes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vox::control;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  std::vector<std::string_view> flags;
  for (size_t i = 0; i < in.size();) {
    size_t sp = in.find(' ', i);
    if (sp == std::string_view::npos) sp = in.size();
    flags.push_back(in.substr(i, sp - i));
    i = sp + 1;
  }
  (void)parse_sdes_flags(flags);

  auto c = parse_sdes_crypto(in);
  if (!c.ok()) return 0;
  if (!c->key.valid()) __builtin_trap();
  for (bool pad : {false, true}) {
    const std::string out = render_sdes_crypto(*c, {.pad = pad});
    auto again = parse_sdes_crypto(out);
    if (!again.ok()) {
      // Only excuse: "|8" became "|2^3" and pushed a value at the length limit over it.
      if (out.size() > 4096) continue;
      __builtin_trap();
    }
    if (again->tag != c->tag || !(again->key == c->key) || again->lifetime != c->lifetime ||
        again->other_params != c->other_params)
      __builtin_trap();
  }
  return 0;
}
