#include "control/loop_protect.h"

#include <cstdio>
#include <random>

namespace vox::control {

namespace {

constexpr std::string_view kAttribute = "a=rtpengine:";

// The session level: everything before the first m= line.
std::string_view session_level(std::string_view sdp) {
  if (sdp.substr(0, 2) == "m=") return {};
  const size_t m = sdp.find("\nm=");
  return m == std::string_view::npos ? sdp : sdp.substr(0, m + 1);
}

}  // namespace

const std::string& loop_protect_token() {
  static const std::string token = [] {
    std::random_device rd;
    const uint64_t v = (uint64_t(rd()) << 32 | rd()) & 0xffffffffffffull;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(v));
    return std::string(buf);
  }();
  return token;
}

bool carries_loop_mark(std::string_view sdp, std::string_view token) {
  const std::string_view session = session_level(sdp);
  for (size_t at = session.find(kAttribute); at != std::string_view::npos;
       at = session.find(kAttribute, at + 1)) {
    if (at != 0 && session[at - 1] != '\n') continue;
    std::string_view value = session.substr(at + kAttribute.size());
    value = value.substr(0, value.find_first_of("\r\n"));
    if (value == token) return true;
  }
  return false;
}

std::string add_loop_mark(std::string sdp, std::string_view token) {
  if (carries_loop_mark(sdp, token)) return sdp;
  const size_t at = session_level(sdp).size();
  std::string line = std::string(kAttribute) + std::string(token) + "\r\n";
  sdp.insert(at, line);
  return sdp;
}

}  // namespace vox::control
