// SDP rewriter: renders a parsed Sdp with the relay's addresses and ports
// (SdpRewrite) and keeps every line voxrelay does not own where it was.
// Output uses CRLF (RFC 8866 §5) and the field order of RFC 8866 §5.
#include <algorithm>
#include <string>
#include <string_view>

#include "control/sdp.h"

namespace vox::control {
namespace {

void add_line(std::string& out, std::string_view line) {
  out += line;
  out += "\r\n";
}

std::string_view addr_type(const IpAddr& a) { return a.is_v4() ? "IP4" : "IP6"; }

void add_connection(std::string& out, const IpAddr& a) {
  out += "c=IN ";
  out += addr_type(a);
  out += ' ';
  out += a.to_string();
  out += "\r\n";
}

// ICE attributes removed with "ICE remove" (RFC 8839 §5; ice-lite and
// ice-options may be at session level).
bool is_ice_attribute(std::string_view name) {
  return name == "ice-ufrag" || name == "ice-pwd" || name == "ice-options" ||
         name == "candidate" || name == "end-of-candidates" || name == "remote-candidates" ||
         name == "ice-lite";
}

std::string_view attribute_name(std::string_view line) {  // "a=name:value" -> name
  if (line.size() < 2) return {};
  std::string_view v = line.substr(2);
  v = v.substr(0, v.find(':'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Decimal increment of the o= session version; RFC 8866 §5.2 makes it a
// number, but a non-numeric one is passed through rather than refused.
std::string incremented(std::string v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return v;
  size_t i = v.size();
  while (i > 0 && v[i - 1] == '9') v[--i] = '0';
  if (i == 0)
    v.insert(v.begin(), '1');
  else
    ++v[i - 1];
  return v;
}

// DTLS-SRTP attributes of the sender (RFC 8122 §5, RFC 4145 §4, RFC 8842 §5):
// the relay terminates DTLS on each side, so they never pass through.
bool is_dtls_attribute(std::string_view name) {
  return name == "fingerprint" || name == "setup" || name == "tls-id";
}

// Whether the rewrite drops an attribute of the sender's (either level).
bool dropped(const SdpRewrite& rw, std::string_view name) {
  return (rw.strip_ice && is_ice_attribute(name)) || (rw.strip_dtls && is_dtls_attribute(name)) ||
         (rw.strip_extmap && name == "extmap");
}

// Emits lines in order, inserting c= before the first line that RFC 8866 §5
// orders after it (anything but the types in `before_c`). With a rewrite
// (the session part), drops what it strips and rewrites a=group:BUNDLE.
void add_lines_with_connection(std::string& out, const std::vector<std::string>& lines,
                               std::string_view before_c, const std::optional<IpAddr>& c,
                               const SdpRewrite* rw) {
  bool done = !c;
  for (const auto& l : lines) {
    if (!done && before_c.find(l[0]) == std::string_view::npos) {
      add_connection(out, *c);
      done = true;
    }
    if (rw && l[0] == 'a') {
      const std::string_view name = attribute_name(l);
      if (dropped(*rw, name)) continue;
      if (rw->bundle_group && name == "group" && l.size() > 8 &&
          std::string_view(l).substr(8).starts_with("BUNDLE")) {
        if (!rw->bundle_group->empty()) add_line(out, "a=group:" + *rw->bundle_group);
        continue;
      }
    }
    add_line(out, l);
  }
  if (!done) add_connection(out, *c);
}

void add_attribute(std::string& out, const SdpAttribute& a) {
  out += "a=";
  out += a.name;
  if (!a.value.empty()) {
    out += ':';
    out += a.value;
  }
  out += "\r\n";
}

// "a=rtpmap:<pt> <enc>/<clock>[/<ch>]" and "a=fmtp:<pt> <params>" for each
// codec, in list order.
void add_codec_lines(std::string& out, const std::vector<SdpCodec>& codecs) {
  for (const auto& c : codecs) {
    out += "a=rtpmap:";
    out += std::to_string(c.payload_type);
    out += ' ';
    out += c.rtpmap();
    out += "\r\n";
    if (c.fmtp.empty()) continue;
    out += "a=fmtp:";
    out += std::to_string(c.payload_type);
    out += ' ';
    out += c.fmtp;
    out += "\r\n";
  }
}

void add_ptime(std::string& out, int ptime) {
  out += "a=ptime:";
  out += std::to_string(ptime);
  out += "\r\n";
}

bool is_codec_attribute(const SdpAttribute& a) { return a.name == "rtpmap" || a.name == "fmtp"; }

// The format an "a=rtpmap:/fmtp:/rtcp-fb:<fmt> ..." value is about.
std::string_view format_of(const SdpAttribute& a) {
  std::string_view v = a.value;
  return v.substr(0, v.find(' '));
}

bool lists_format(const std::vector<SdpCodec>& codecs, std::string_view fmt) {
  for (const auto& c : codecs)
    if (fmt == std::to_string(c.payload_type)) return true;
  return false;
}

// The media attributes, minus what the relay rewrites; with a codec list
// (transcoding) the rtpmap/fmtp block is replaced and a=ptime set.
void render_attributes(std::string& out, const SdpMedia& m, const SdpMediaRewrite* rw,
                       const SdpRewrite& rewrite) {
  if (rw && rw->mid && !m.find_attribute("mid")) add_attribute(out, SdpAttribute{"mid", *rw->mid});
  const std::vector<SdpCodec>* codecs = rw && rw->codecs ? &*rw->codecs : nullptr;
  const int ptime = rw && rw->ptime ? *rw->ptime : 0;  // 0: leave a=ptime alone
  // Where the codec block and a missing a=ptime go: at the first / after
  // the last original rtpmap or fmtp line, or first of all without one.
  size_t first_codec = m.attributes.size(), last_codec = m.attributes.size();
  bool has_ptime = false;
  for (size_t i = 0; i < m.attributes.size(); ++i) {
    if (is_codec_attribute(m.attributes[i])) {
      if (first_codec == m.attributes.size()) first_codec = i;
      last_codec = i;
    }
    has_ptime |= m.attributes[i].name == "ptime";
  }
  const bool no_codec_lines = first_codec == m.attributes.size();
  if (codecs && no_codec_lines) add_codec_lines(out, *codecs);
  if (ptime && !has_ptime && no_codec_lines) add_ptime(out, ptime);
  bool ptime_written = false;
  const std::vector<std::string>* crypto = rw && rw->crypto ? &*rw->crypto : nullptr;
  bool crypto_written = false;
  auto add_crypto = [&] {
    if (crypto_written) return;
    for (const auto& c : *crypto) add_attribute(out, SdpAttribute{"crypto", c});
    crypto_written = true;
  };
  if (crypto && no_codec_lines &&
      std::none_of(m.attributes.begin(), m.attributes.end(),
                   [](const SdpAttribute& a) { return a.name == "crypto"; }))
    add_crypto();

  for (size_t i = 0; i < m.attributes.size(); ++i) {
    const SdpAttribute& a = m.attributes[i];
    if (rw && (a.name == "rtcp" || a.name == "rtcp-mux")) continue;
    if (rw && dropped(rewrite, a.name)) continue;
    if (rw && rw->strip_feedback && (a.name == "rtcp-fb" || a.name == "rtcp-rsize")) continue;
    if (rw && rw->strip_mid && a.name == "mid") continue;
    if (crypto && a.name == "crypto") {
      add_crypto();  // the replacements stand where the first key stood
    } else if (codecs && is_codec_attribute(a)) {
      if (i == first_codec) add_codec_lines(out, *codecs);
    } else if (codecs && a.name == "rtcp-fb" && format_of(a) != "*" &&
               !lists_format(*codecs, format_of(a))) {
      // RFC 4585 §4.2: feedback for a payload type no longer offered.
    } else if (ptime && a.name == "ptime") {
      if (!ptime_written) add_ptime(out, ptime);
      ptime_written = true;
    } else {
      add_attribute(out, a);
    }
    if (ptime && !has_ptime && i == last_codec) add_ptime(out, ptime);
    if (crypto && i == last_codec) {
      // No a=crypto yet by the end of the codec block: the keys go here
      // unless one comes later (then they replace it there).
      bool later = false;
      for (size_t j = i + 1; j < m.attributes.size(); ++j) later |= m.attributes[j].name == "crypto";
      if (!later) add_crypto();
    }
  }
}

void render_media(std::string& out, const Sdp& sdp, const SdpMedia& m, const SdpMediaRewrite* rw,
                  const std::optional<IpAddr>& session_c, const SdpRewrite& rewrite) {
  // RFC 3264 §6: a rejected stream stays rejected; the relay may also
  // reject one by giving port 0.
  const uint16_t port = rw && m.port != 0 ? rw->rtp_port : m.port;
  out += "m=";
  out += m.type;
  out += ' ';
  out += std::to_string(port);
  // The relay gives a stream one port pair (CallManager::offer says so in
  // a warning): a port count stays only on a stream it does not rewrite.
  if (m.port_count != 1 && !(rw && m.port != 0)) {
    out += '/';
    out += std::to_string(m.port_count);
  }
  out += ' ';
  out += rw && rw->proto ? *rw->proto : m.proto;
  if (rw && rw->codecs) {
    for (const auto& c : *rw->codecs) {
      out += ' ';
      out += std::to_string(c.payload_type);
    }
  } else {
    for (const auto& f : m.formats) {
      out += ' ';
      out += f;
    }
  }
  out += "\r\n";

  std::optional<IpAddr> c;
  if (!rw) {
    // Unchanged, including where it sends media: pin the original session
    // address if the session c= was rewritten.
    c = m.connection;
    if (!c && session_c != sdp.connection) c = sdp.connection;
  } else if (m.connection) {
    // A hold stays a hold; an ICE party's placeholder does not.
    c = m.connection->is_unspecified() && !rewrite.replace_zero_address ? *m.connection : rw->address;
  } else if (!session_c || ((!session_c->is_unspecified() || rewrite.replace_zero_address) &&
                            !(*session_c == rw->address))) {
    c = rw->address;  // the inherited session address is not the relay's
  }
  add_lines_with_connection(out, m.other_lines, "i", c, nullptr);

  render_attributes(out, m, rw, rewrite);
  if (!rw || port == 0) return;
  // rtpengine's order: a=rtcp, then a=rtcp-mux (RFC 5761 §5.1.3 keeps
  // a=rtcp meaningful for an answerer that does not mux).
  if (rw->rtcp_attribute && rw->rtcp_port != 0) {
    out += "a=rtcp:";
    out += std::to_string(rw->rtcp_port);
    if (rw->full_rtcp_attribute) {  // RFC 3605 §2.1
      out += " IN ";
      out += addr_type(rw->address);
      out += ' ';
      out += rw->address.to_string();
    }
    out += "\r\n";
  }
  if (rw->rtcp_mux) add_line(out, "a=rtcp-mux");
  for (const auto& a : rw->transport_attributes) add_attribute(out, a);
}

}  // namespace

std::string render_sdp(const Sdp& sdp, const SdpRewrite& rewrite) {
  std::string out;
  out.reserve(1024);
  const SdpMediaRewrite* first = rewrite.media.empty() ? nullptr : &rewrite.media[0];

  add_line(out, "v=0");
  SdpOrigin o = sdp.origin;
  if (rewrite.replace_origin && first) {
    o.net_type = "IN";
    o.addr_type = std::string(addr_type(first->address));
    o.address = first->address.to_string();
  }
  if (rewrite.session_version)
    o.session_version = std::to_string(*rewrite.session_version);
  else if (rewrite.increment_version)
    o.session_version = incremented(std::move(o.session_version));
  out += "o=";
  for (const std::string* f :
       {&o.username, &o.session_id, &o.session_version, &o.net_type, &o.addr_type}) {
    out += *f;
    out += ' ';
  }
  add_line(out, o.address);

  // A session without c= keeps none (each media has its own); a hold
  // address (0.0.0.0 / ::) is kept.
  std::optional<IpAddr> session_c = sdp.connection;
  if (session_c && (!session_c->is_unspecified() || rewrite.replace_zero_address) &&
      rewrite.replace_session_connection && first)
    session_c = first->address;
  add_lines_with_connection(out, sdp.session_lines, "siuep", session_c, &rewrite);
  for (const auto& a : rewrite.session_attributes) add_attribute(out, a);

  for (size_t i = 0; i < sdp.media.size(); ++i)
    render_media(out, sdp, sdp.media[i], i < rewrite.media.size() ? &rewrite.media[i] : nullptr,
                 session_c, rewrite);
  return out;
}

}  // namespace vox::control
