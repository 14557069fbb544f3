// libFuzzer target for control/sdp_parse.cc and sdp_render.cc: any body that
// parses must render, with a relay rewrite for each of its m= lines, to an
// SDP that parses again with the same number of m= lines (or that the added
// lines pushed over kMaxSdpBytes / kMaxSdpLines).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/sdp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vox::control;
  auto sdp = parse_sdp(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!sdp.ok()) return 0;

  // Vary the options with the input so both address families, rtcp-mux and
  // the full a=rtcp form are exercised.
  const uint8_t knobs = size ? data[size - 1] : 0;
  SdpRewrite rw;
  rw.replace_origin = knobs & 1;
  rw.replace_session_connection = knobs & 2;
  rw.strip_ice = knobs & 4;
  rw.increment_version = knobs & 8;
  const auto v4 = *vox::IpAddr::parse("203.0.113.1");
  const auto v6 = *vox::IpAddr::parse("2001:db8::1");
  for (size_t i = 0; i < sdp->media.size(); ++i) {
    SdpMediaRewrite m;
    m.address = (knobs & 16) && (i & 1) ? v6 : v4;
    m.rtp_port = i % 5 == 4 ? 0 : uint16_t(30000 + 2 * i);
    m.rtcp_port = (knobs & 32) ? m.rtp_port : uint16_t(m.rtp_port + 1);
    m.rtcp_mux = knobs & 32;
    m.full_rtcp_attribute = knobs & 64;
    m.rtcp_attribute = !(knobs & 128);
    rw.media.push_back(m);
  }
  const std::string out = render_sdp(*sdp, rw);
  auto again = parse_sdp(out);
  if (again.ok() && again->media.size() == sdp->media.size()) return 0;
  // The only excuse: the relay's lines pushed a body at the limits over them.
  const size_t lines = size_t(std::count(out.begin(), out.end(), '\n'));
  if (!again.ok() && again.error() == SdpError::kTooLarge &&
      (out.size() > kMaxSdpBytes || lines > kMaxSdpLines))
    return 0;
  __builtin_trap();
}
