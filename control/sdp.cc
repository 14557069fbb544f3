// SDP model helpers: per-media lookups and codec names. The parser lives in
// sdp_parse.cc and the rewriter in sdp_render.cc; all three implement
// control/sdp.h.
#include "control/sdp.h"

namespace vox::control {

std::optional<IpAddr> SdpMedia::effective_address(const Sdp& sdp) const {
  if (connection) return connection;
  return sdp.connection;  // RFC 8866 §5.7: media c= overrides session c=
}

std::vector<std::string_view> Sdp::session_attribute_values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (std::string_view l : session_lines) {
    if (l.size() < 2 || l.substr(0, 2) != "a=") continue;
    std::string_view v = l.substr(2);
    const size_t colon = v.find(':');
    if (v.substr(0, colon) != name) continue;
    out.push_back(colon == std::string_view::npos ? std::string_view() : v.substr(colon + 1));
  }
  return out;
}

const SdpAttribute* SdpMedia::find_attribute(std::string_view name) const {
  for (const auto& a : attributes)
    if (a.name == name) return &a;
  return nullptr;
}

std::vector<std::string_view> SdpMedia::attribute_values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& a : attributes)
    if (a.name == name) out.emplace_back(a.value);
  return out;
}

namespace {
// Value of the first "a=<name>:<fmt> <rest>" whose first word is fmt.
std::optional<std::string_view> per_format(const SdpMedia& m, std::string_view name,
                                           std::string_view fmt) {
  for (const auto& a : m.attributes) {
    if (a.name != name) continue;
    std::string_view v = a.value;
    if (v.size() > fmt.size() && v.substr(0, fmt.size()) == fmt && v[fmt.size()] == ' ')
      return v.substr(fmt.size() + 1);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string_view> SdpMedia::rtpmap(std::string_view fmt) const {
  return per_format(*this, "rtpmap", fmt);
}

std::optional<std::string_view> SdpMedia::fmtp(std::string_view fmt) const {
  return per_format(*this, "fmtp", fmt);
}

std::string SdpCodec::rtpmap() const {
  std::string s = encoding;
  s += '/';
  s += std::to_string(clock_rate);
  if (channels != 1) {
    s += '/';
    s += std::to_string(channels);
  }
  return s;
}

bool SdpCodec::same_format(const SdpCodec& o) const {
  if (clock_rate != o.clock_rate || channels != o.channels) return false;
  if (encoding.size() != o.encoding.size()) return false;
  for (size_t i = 0; i < encoding.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(encoding[i]) != lower(o.encoding[i])) return false;
  }
  return true;
}

}  // namespace vox::control
