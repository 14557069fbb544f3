// SDP parser (RFC 8866): splits a body into lines, interprets what the relay
// rewrites or needs (o=, c=, m=, a=rtcp, a=rtcp-mux, direction) and keeps
// every other line verbatim and in order. Hostile input yields an SdpError.
#include <string_view>

#include "control/sdp.h"

namespace vox::control {
namespace {

constexpr auto npos = std::string_view::npos;

// Fields are separated by one space (RFC 8866 §9); runs of spaces and tabs
// are tolerated, as real endpoints send them.
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Unsigned decimal: not a number -> kSyntax, above max -> kBadNumber.
Result<uint32_t, SdpError> number(std::string_view s, uint32_t max) {
  if (s.empty()) return Err{SdpError::kSyntax};
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Err{SdpError::kSyntax};
    v = v * 10 + uint64_t(c - '0');
    if (v > max) return Err{SdpError::kBadNumber};
  }
  return uint32_t(v);
}

// "<nettype> <addrtype> <address>[/ttl[/count]]" (RFC 8866 §5.7; the same
// form ends an RFC 3605 a=rtcp). Only IN IP4/IP6 with a literal address is
// usable by a relay: a FQDN or mismatched family is kSyntax.
Result<IpAddr, SdpError> connection_address(std::string_view value) {
  auto w = words(value);
  if (w.size() != 3 || w[0] != "IN") return Err{SdpError::kSyntax};
  const bool v4 = w[1] == "IP4";
  if (!v4 && w[1] != "IP6") return Err{SdpError::kSyntax};
  std::string_view addr = w[2];
  if (size_t slash = addr.find('/'); slash != npos) {
    // Multicast suffix: IP4 "/ttl[/count]", IP6 "/count" (RFC 8866 §5.7).
    std::string_view rest = addr.substr(slash + 1);
    addr = addr.substr(0, slash);
    size_t slash2 = rest.find('/');
    if (v4) {
      auto ttl = number(rest.substr(0, slash2), 255);
      if (!ttl) return Err{ttl.error()};
      if (slash2 != npos) rest = rest.substr(slash2 + 1);
    } else if (slash2 != npos) {
      return Err{SdpError::kSyntax};
    }
    if (!v4 || slash2 != npos) {
      auto count = number(rest, 65535);
      if (!count) return Err{count.error()};
      if (*count == 0) return Err{SdpError::kBadNumber};
    }
  }
  auto ip = IpAddr::parse(addr);
  if (!ip) return Err{SdpError::kSyntax};
  const bool text_is_v6 = addr.find(':') != npos;
  if (v4 == text_is_v6) return Err{SdpError::kSyntax};
  return *ip;
}

// "o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>".
Result<SdpOrigin, SdpError> parse_origin(std::string_view value) {
  auto w = words(value);
  if (w.size() != 6) return Err{SdpError::kSyntax};
  return SdpOrigin{std::string(w[0]), std::string(w[1]), std::string(w[2]),
                   std::string(w[3]), std::string(w[4]), std::string(w[5])};
}

// "m=<media> <port>[/<count>] <proto> <fmt> ..." (RFC 8866 §5.14).
Result<SdpMedia, SdpError> parse_media_line(std::string_view value) {
  auto w = words(value);
  if (w.size() < 3) return Err{SdpError::kSyntax};
  SdpMedia m;
  m.type = std::string(w[0]);
  std::string_view port = w[1];
  if (size_t slash = port.find('/'); slash != npos) {
    auto count = number(port.substr(slash + 1), 65535);
    if (!count) return Err{count.error()};
    if (*count == 0) return Err{SdpError::kBadNumber};
    m.port_count = uint16_t(*count);
    port = port.substr(0, slash);
  }
  auto p = number(port, 65535);
  if (!p) return Err{p.error()};
  m.port = uint16_t(*p);
  m.proto = std::string(w[2]);
  // At least one format (RFC 8866 §5.14), but a rejected stream without
  // any is harmless, and some endpoints send one.
  if (w.size() == 3 && m.port != 0) return Err{SdpError::kSyntax};
  // RTP payload types are 7 bits (RFC 3550 §5.1).
  const bool rtp = m.proto.find("RTP/") != std::string::npos;
  for (size_t i = 3; i < w.size(); ++i) {
    if (rtp) {
      auto pt = number(w[i], 127);
      if (!pt) return Err{pt.error()};
    }
    m.formats.emplace_back(w[i]);
  }
  return m;
}

std::optional<MediaDirection> direction_of(std::string_view name) {
  for (const auto& [direction, text] : kMediaDirectionNames.entries)
    if (name == text) return direction;
  return std::nullopt;
}

// "a=<name>[:<value>]" without the "a=". Trailing blanks are dropped so
// that "a=sendonly " still means sendonly.
Result<SdpAttribute, SdpError> parse_attribute(std::string_view value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  size_t colon = value.find(':');
  std::string_view name = value.substr(0, colon);
  if (name.empty()) return Err{SdpError::kSyntax};
  std::string_view v = colon == npos ? std::string_view() : value.substr(colon + 1);
  return SdpAttribute{std::string(name), std::string(v)};
}

// Records what the relay interprets in a media-level attribute.
std::optional<SdpError> interpret_attribute(const SdpAttribute& a, SdpMedia* m) {
  if (a.name == "rtcp") {
    // RFC 3605 §2.1: "a=rtcp:<port> [<nettype> <addrtype> <address>]".
    std::string_view v = a.value;
    size_t sp = v.find(' ');
    auto port = number(v.substr(0, sp), 65535);
    if (!port) return port.error();
    m->rtcp_port = uint16_t(*port);
    m->rtcp_address.reset();
    if (sp != npos) {
      auto addr = connection_address(v.substr(sp + 1));
      if (!addr) return addr.error();
      m->rtcp_address = *addr;
    }
  } else if (a.name == "rtcp-mux") {  // RFC 5761 §5.1.1
    m->rtcp_mux = true;
  } else if (auto d = direction_of(a.name)) {
    m->direction = *d;
    m->has_direction_attribute = true;
  }
  return std::nullopt;
}

// Splits CRLF or bare-LF lines (RFC 8866 §5 allows a parser to accept LF)
// and checks each is "<letter>=<text>" with no NUL or stray CR (§9 text).
std::optional<SdpError> split_lines(std::string_view text, std::vector<std::string_view>* out) {
  static constexpr std::string_view kForbidden("\0\r", 2);
  size_t pos = 0, count = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = nl == npos ? text.size() : nl + 1;
    if (++count > kMaxSdpLines) return SdpError::kTooLarge;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // tolerated: a trailing blank line is common
    if (line.size() < 2 || line[0] < 'a' || line[0] > 'z' || line[1] != '=')
      return SdpError::kSyntax;
    if (line.find_first_of(kForbidden) != npos) return SdpError::kSyntax;
    out->push_back(line);
  }
  return std::nullopt;
}

// Line types that belong to the session part only (RFC 8866 §5 order).
bool session_only(char type) { return std::string_view("vosueptrz").find(type) != npos; }

}  // namespace

Result<Sdp, SdpError> parse_sdp(std::string_view text) {
  if (text.size() > kMaxSdpBytes) return Err{SdpError::kTooLarge};
  if (text.find_first_not_of(" \t\r\n") == npos) return Err{SdpError::kEmpty};
  std::vector<std::string_view> lines;
  if (auto e = split_lines(text, &lines)) return Err{*e};

  // RFC 8866 §5: v= first, then o=.
  if (lines.empty() || lines[0].substr(0, 2) != "v=") {
    for (auto l : lines)
      if (l.substr(0, 2) == "v=") return Err{SdpError::kSyntax};
    return Err{SdpError::kEmpty};
  }
  if (lines.size() < 2 || lines[1].substr(0, 2) != "o=") return Err{SdpError::kSyntax};
  Sdp sdp;
  auto origin = parse_origin(lines[1].substr(2));
  if (!origin) return Err{origin.error()};
  sdp.origin = std::move(*origin);

  SdpMedia* cur = nullptr;
  for (size_t i = 2; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const char type = line[0];
    const std::string_view value = line.substr(2);
    if (type == 'm') {
      if (sdp.media.size() == kMaxSdpMedia) return Err{SdpError::kTooLarge};
      auto m = parse_media_line(value);
      if (!m) return Err{m.error()};
      cur = &sdp.media.emplace_back(std::move(*m));
    } else if (type == 'v' || type == 'o') {
      return Err{SdpError::kSyntax};
    } else if (type == 'c') {
      // At most one c= per level; several (multicast layering) are of no
      // use to a unicast relay.
      auto& slot = cur ? cur->connection : sdp.connection;
      if (slot) return Err{SdpError::kSyntax};
      auto addr = connection_address(value);
      if (!addr) return Err{addr.error()};
      slot = *addr;
    } else if (type == 'a') {
      auto a = parse_attribute(value);
      if (!a) return Err{a.error()};
      if (!cur) {
        if (auto d = direction_of(a->name)) sdp.session_direction = *d;
        sdp.session_lines.emplace_back(line);
      } else {
        if (auto e = interpret_attribute(*a, cur)) return Err{*e};
        cur->attributes.push_back(std::move(*a));
      }
    } else if (!cur) {
      sdp.session_lines.emplace_back(line);
    } else if (session_only(type)) {
      return Err{SdpError::kSyntax};
    } else {
      cur->other_lines.emplace_back(line);  // i=, b=, k= and unknown types
    }
  }

  for (auto& m : sdp.media) {
    if (!m.has_direction_attribute && sdp.session_direction) m.direction = *sdp.session_direction;
    // RFC 8866 §5.7: c= at session level or in every media section.
    if (!m.connection && !sdp.connection) return Err{SdpError::kIncomplete};
  }
  return sdp;
}

}  // namespace vox::control
