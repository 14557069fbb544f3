// NG offer/answer/delete for voxload's calls, and the little SDP they need:
// voxload's own offer and answer, and the relay's media address read back
// from the SDP it returns.
#include "voxload_calls.h"

#include <cstdlib>
#include <sstream>
#include <string_view>

namespace voxload {

namespace {

using vox::Endpoint;
using vox::control::NgClient;
using vox::control::NgValue;

std::string make_sdp(const vox::IpAddr& ip, uint16_t port, uint64_t session_id) {
  std::ostringstream s;
  s << sdp_session_lines(ip, session_id)
    << "m=audio " << port << " RTP/AVP 0 101\r\n"
    << "a=rtpmap:0 PCMU/8000\r\n"
    << "a=rtpmap:101 telephone-event/8000\r\n"
    << "a=fmtp:101 0-16\r\n"
    << "a=ptime:20\r\n"
    << "a=sendrecv\r\n";
  return s.str();
}

// The relay's media address for the first audio stream: the m= port, and the
// media-level c= address if present, else the session-level one.
std::optional<Endpoint> parse_sdp_media(std::string_view sdp) {
  std::optional<vox::IpAddr> session_addr, media_addr;
  int port = -1;
  bool in_audio = false, seen_media = false;
  while (!sdp.empty()) {
    size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == std::string_view::npos ? std::string_view() : sdp.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("m=")) {
      if (in_audio) break;  // only the first audio stream matters
      seen_media = true;
      if (line.starts_with("m=audio ")) {
        in_audio = true;
        port = std::atoi(std::string(line.substr(8)).c_str());
      }
    } else if (line.starts_with("c=IN IP4 ") || line.starts_with("c=IN IP6 ")) {
      std::string_view a = line.substr(9);
      a = a.substr(0, a.find('/'));  // multicast TTL suffix
      auto ip = vox::IpAddr::parse(a);
      if (!seen_media)
        session_addr = ip;
      else if (in_audio)
        media_addr = ip;
    }
  }
  const auto& addr = media_addr ? media_addr : session_addr;
  if (!addr || port <= 0 || port > 65535 || addr->is_unspecified()) return std::nullopt;
  return Endpoint{*addr, uint16_t(port)};
}

}  // namespace

std::optional<std::string> setup_call(NgClient& ng, Call& call, const CallSides& sides, uint16_t port_a,
                                      uint16_t port_b, uint64_t session_id, int timeout_ms, Endpoint* to_relay_from_a,
                                      Endpoint* to_relay_from_b, TranscodeLoad* tc, uint32_t call_index) {
  std::string offer_to_b;
  auto request = [&](const char* command, const std::string& sdp, bool answer) -> std::optional<std::string> {
    NgValue req = NgValue::dict();
    req.set("command", command);
    req.set("call-id", call.call_id);
    req.set("from-tag", call.from_tag);
    if (answer) req.set("to-tag", call.to_tag);
    req.set("sdp", sdp);
    NgValue replace = NgValue::list();
    replace.push(NgValue::str("origin"));
    replace.push(NgValue::str("session-connection"));
    req.set("replace", std::move(replace));
    if (tc && !answer) req.set("codec", TranscodeLoad::offer_codec_dict());
    // The relay picks a call's interfaces when the offer creates it (as
    // rtpengine does): the answer needs no direction of its own.
    if (!answer && !sides.direction.empty()) {
      NgValue direction = NgValue::list();
      for (const auto& name : sides.direction) direction.push(NgValue::str(name));
      req.set("direction", std::move(direction));
    }
    auto reply = ng.call(req, timeout_ms, 2);
    if (!reply.ok()) return std::string(command) + ": " + reply.error();
    if (reply->find_string("result") != "ok") {
      const auto reason = reply->find_string("error-reason").value_or(reply->find_string("result").value_or("?"));
      return std::string(command) + ": " + std::string(reason);
    }
    const auto sdp_out = reply->find_string("sdp");
    const auto media = sdp_out ? parse_sdp_media(*sdp_out) : std::nullopt;
    if (!media) return std::string(command) + ": no usable m=audio/c= in the returned SDP";
    *(answer ? to_relay_from_a : to_relay_from_b) = *media;
    if (!answer) offer_to_b = std::string(*sdp_out);
    return std::nullopt;
  };
  // The offer's SDP goes to B: its port is where B sends. The answer's goes to A.
  if (auto e = request("offer", make_sdp(sides.local_a, port_a, session_id), false)) return e;
  std::string answer_sdp = make_sdp(sides.local_b, port_b, session_id + 1);
  if (tc) {
    if (auto e = tc->answer_sdp(call_index, offer_to_b, sides.local_b, port_b, session_id + 1, &answer_sdp))
      return "offer: " + *e;
  }
  if (auto e = request("answer", answer_sdp, true)) return e;
  call.up = true;
  return std::nullopt;
}

int delete_calls(NgClient& ng, const std::vector<Call>& calls, int timeout_ms) {
  int errors = 0;
  for (const auto& call : calls) {
    if (!call.up) continue;
    NgValue req = NgValue::dict();
    req.set("command", "delete");
    req.set("call-id", call.call_id);
    req.set("from-tag", call.from_tag);
    auto reply = ng.call(req, timeout_ms, 2);
    if (!reply.ok() || reply->find_string("result") != "ok") ++errors;
  }
  return errors;
}

}  // namespace voxload
