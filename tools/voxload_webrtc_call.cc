// The steps of one WebRTC load call (voxload_webrtc_call.h): the browser's
// SDP and NG flags, reading the relay's ICE and DTLS attributes back, and a
// small poll loop per step that answers the relay's STUN, drives the
// DtlsSession's timers and retransmits our own check or media.
#include "voxload_webrtc_call.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <utility>

#include "base/bytes.h"
#include "control/sdes.h"
#include "control/webrtc/stun.h"
#include "voxload_run.h"

namespace voxload {

namespace {

using vox::Endpoint;
using vox::control::NgClient;
using vox::control::NgValue;
namespace webrtc = vox::control::webrtc;
using webrtc::DtlsState;
using webrtc::StunClass;

constexpr size_t kPcmuPacket = 172;  // 12 RTP header + 160 µ-law samples (20 ms)
constexpr int64_t kStunRetransmitNs = 100'000'000;  // loopback: 100 ms, not RFC 8489's 500
constexpr int64_t kMediaRetryNs = 1'000'000;        // first packet: resolution of the measurement

NgValue str_list(std::initializer_list<const char*> items) {
  NgValue l = NgValue::list();
  for (const char* i : items) l.push(NgValue::str(i));
  return l;
}

std::string session_lines(const vox::IpAddr& ip, uint64_t id) {
  const char* family = ip.is_v4() ? "IP4" : "IP6";
  const std::string addr = ip.to_string();
  return "v=0\r\no=- " + std::to_string(id) + " 1 IN " + family + ' ' + addr + "\r\ns=-\r\nc=IN " + family + ' ' +
         addr + "\r\nt=0 0\r\n";
}

// What the browser offers: a Chrome-like audio section reduced to PCMU.
std::string browser_offer(const WebrtcShared& s, WebrtcCall& c) {
  std::string sdp = session_lines(s.local, 1000 + c.index);
  const std::string port = std::to_string(c.port_browser);
  switch (s.leg) {
    case WebrtcLeg::kDtls:
      sdp += "a=msid-semantic: WMS\r\nm=audio " + port + " UDP/TLS/RTP/SAVPF 0\r\n";
      sdp += "a=rtpmap:0 PCMU/8000\r\na=ice-ufrag:" + c.ufrag + "\r\na=ice-pwd:" + c.pwd + "\r\n";
      sdp += "a=fingerprint:" + s.dtls->fingerprint() + "\r\na=setup:actpass\r\na=mid:0\r\n";
      sdp += "a=sendrecv\r\na=rtcp-mux\r\na=candidate:1 1 udp 2130706431 " + s.local.to_string() + ' ' + port +
             " typ host\r\n";
      break;
    case WebrtcLeg::kSdes: {
      vox::control::SdesCrypto line;
      line.key = c.sdes_key;
      sdp += "m=audio " + port + " RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:" +
             vox::control::render_sdes_crypto(line) + "\r\na=sendrecv\r\na=rtcp-mux\r\n";
      break;
    }
    case WebrtcLeg::kPlain:
      sdp += "m=audio " + port + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n";
      break;
  }
  return sdp;
}

std::string plain_answer(const WebrtcShared& s, const WebrtcCall& c) {
  return session_lines(s.local, 500000 + c.index) + "m=audio " + std::to_string(c.port_plain) +
         " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n";
}

// The first audio section's address, and (into `attrs`) its ICE and DTLS
// attributes; false without a usable address.
struct SdpBits {
  Endpoint media;
  std::string ufrag, pwd, fingerprint, setup;
};
bool parse_relay_sdp(std::string_view sdp, SdpBits* out) {
  std::optional<vox::IpAddr> session_addr, media_addr;
  int port = -1;
  bool in_audio = false, seen_media = false;
  while (!sdp.empty()) {
    const size_t eol = sdp.find('\n');
    std::string_view line = sdp.substr(0, eol);
    sdp = eol == std::string_view::npos ? std::string_view() : sdp.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto attr = [&](std::string_view name, std::string* v) {
      if (line.starts_with(name) && v->empty()) *v = std::string(line.substr(name.size()));
    };
    if (line.starts_with("m=")) {
      if (in_audio) break;
      seen_media = true;
      if (line.starts_with("m=audio ")) {
        in_audio = true;
        port = std::atoi(std::string(line.substr(8)).c_str());
      }
    } else if (line.starts_with("c=IN IP4 ") || line.starts_with("c=IN IP6 ")) {
      std::string_view a = line.substr(9);
      auto ip = vox::IpAddr::parse(a.substr(0, a.find('/')));
      (seen_media ? media_addr : session_addr) = ip;
    } else if (!seen_media || in_audio) {  // session- or media-level attributes
      attr("a=ice-ufrag:", &out->ufrag);
      attr("a=ice-pwd:", &out->pwd);
      attr("a=fingerprint:", &out->fingerprint);
      attr("a=setup:", &out->setup);
    }
  }
  const auto& addr = media_addr ? media_addr : session_addr;
  if (!addr || port <= 0 || port > 65535 || addr->is_unspecified()) return false;
  out->media = Endpoint{*addr, uint16_t(port)};
  return true;
}

void send_to(int fd, const Endpoint& to, const uint8_t* d, size_t n) {
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(&ss);
  (void)::sendto(fd, d, n, 0, reinterpret_cast<sockaddr*>(&ss), len);
}

void flush_dtls(WebrtcCall& c) {
  std::vector<uint8_t> d;
  while (c.dtls->pop(d)) send_to(c.fd_browser, c.relay_for_browser, d.data(), d.size());
}

// A relay's connectivity check toward us (rtpengine is a full ICE agent):
// a success response with our password (RFC 8445 §7.3.1.4).
void answer_stun(WebrtcCall& c, std::span<const uint8_t> d, const webrtc::StunMessage& m, const Endpoint& from) {
  (void)d;
  uint8_t buf[256];
  webrtc::StunWriter w(buf, webrtc::kStunBinding, StunClass::kSuccess, m.transaction);
  w.add_xor_mapped(from);
  const size_t n = w.finish(c.pwd, false, true);
  if (n) send_to(c.fd_browser, from, buf, n);
}

struct PumpHooks {
  std::function<int64_t(int64_t now)> tick;  // (re)sends; returns when to run again (INT64_MAX: never)
  std::function<bool()> done;
  std::function<void(int64_t now)> on_plain;  // a datagram reached the plain peer
  std::function<void(const webrtc::StunMessage&)> on_stun_response;
};

// Reads both sockets until hooks.done() or the deadline; false on the deadline.
bool pump(WebrtcCall& c, int64_t deadline, const PumpHooks& hooks) {
  uint8_t buf[2048];
  int64_t next_tick = 0;
  for (;;) {
    if (hooks.done()) return true;
    int64_t now = mono_ns();
    if (now >= deadline || g_stop) return false;
    if (now >= next_tick && hooks.tick) next_tick = hooks.tick(now);
    if (c.dtls && c.dtls->next_timer_ns() <= now) {
      c.dtls->on_timer(now);
      flush_dtls(c);
    }
    if (hooks.done()) return true;
    int64_t wake = std::min(deadline, hooks.tick ? next_tick : INT64_MAX);
    if (c.dtls) wake = std::min(wake, c.dtls->next_timer_ns());
    pollfd p[2] = {{c.fd_browser, POLLIN, 0}, {c.fd_plain, POLLIN, 0}};
    const int64_t wait_ns = std::max<int64_t>(0, wake - now);
    timespec ts{time_t(wait_ns / 1'000'000'000), long(wait_ns % 1'000'000'000)};
    if (::ppoll(p, 2, &ts, nullptr) <= 0) continue;
    if (p[1].revents & POLLIN) {
      while (::recv(c.fd_plain, buf, sizeof buf, 0) > 0)
        if (hooks.on_plain) hooks.on_plain(mono_ns());
    }
    if (!(p[0].revents & POLLIN)) continue;
    for (;;) {
      sockaddr_storage ss{};
      socklen_t sl = sizeof ss;
      const ssize_t n = ::recvfrom(c.fd_browser, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
      if (n <= 0) break;
      const std::span<const uint8_t> d(buf, size_t(n));
      now = mono_ns();
      if (webrtc::looks_like_stun(d)) {
        auto m = webrtc::parse_stun(d);
        if (!m.ok()) continue;
        if (m->cls == StunClass::kRequest)
          answer_stun(c, d, *m, Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)));
        else if (hooks.on_stun_response)
          hooks.on_stun_response(*m);
      } else if (buf[0] >= 20 && buf[0] <= 63) {  // DTLS (RFC 7983 §7)
        if (!c.dtls) {
          c.early.emplace_back(d.begin(), d.end());
          continue;
        }
        if (c.hs_start_ns == 0) c.hs_start_ns = now;  // the relay's ClientHello: it is the client
        ++c.dtls_rx;
        c.dtls->on_datagram(d, now);
        flush_dtls(c);
      }  // SRTP/SRTCP toward the browser: not measured
    }
  }
}

// The relay's side of the handshake is in once the session has a first
// datagram from it: we are the client and hold its ServerHello flight, or
// we are the server and have answered its ClientHello.
std::optional<std::string> run_handshake(const WebrtcShared& s, WebrtcCall& c, bool half) {
  if (!c.dtls) {
    c.dtls = std::make_unique<webrtc::DtlsSession>(*s.dtls, c.dtls_client, c.relay_fingerprint);
    const int64_t now = mono_ns();
    c.dtls->start(now);
    if (c.dtls_client) c.hs_start_ns = now;
    flush_dtls(c);
    for (auto& d : c.early) {
      if (c.hs_start_ns == 0) c.hs_start_ns = mono_ns();
      ++c.dtls_rx;
      c.dtls->on_datagram(d, mono_ns());
      flush_dtls(c);
    }
    c.early.clear();
  }
  const int64_t deadline = mono_ns() + int64_t(s.step_timeout_ms) * 1'000'000;
  PumpHooks h;
  h.done = [&] { return c.dtls->state() != DtlsState::kHandshaking || (half && c.dtls_rx > 0); };
  if (!pump(c, deadline, h)) return std::string(half ? "handshake: no flight from the relay" : "handshake: timeout");
  if (c.dtls->state() == DtlsState::kFailed)
    return "handshake: " + std::string(webrtc::to_string(c.dtls->failure())) + " " +
           std::string(c.dtls->failure_detail());
  if (c.dtls->state() == DtlsState::kConnected && !c.connected) {
    c.connected = true;
    c.handshake_ns = mono_ns() - c.hs_start_ns;
    c.cipher = std::string(c.dtls->cipher());
    c.profile = std::string(c.dtls->srtp_profile());
    auto st = vox::dataplane::SrtpStream::create(c.dtls->keys().outbound, vox::dataplane::SrtpDirection::kOutbound);
    if (!st.ok()) return std::string("srtp: ") + vox::dataplane::to_string(st.error());
    c.srtp.emplace(std::move(st).value());
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> webrtc_negotiate(NgClient& ng, const WebrtcShared& s, WebrtcCall& c) {
  std::mt19937_64 rng(uint64_t(c.index) * 7919 + std::hash<std::string>{}(s.run_id));
  auto token = [&](size_t n) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string t(n, 'a');
    for (auto& ch : t) ch = kAlphabet[rng() % 64];
    return t;
  };
  c.call_id = "voxload-webrtc-" + s.run_id + "-" + std::to_string(c.index);
  c.ufrag = token(8);
  c.pwd = token(24);
  c.ssrc = uint32_t(rng());
  c.seq = uint16_t(rng());
  c.rtp_ts = uint32_t(rng());
  if (s.leg == WebrtcLeg::kSdes) {
    auto key = vox::control::generate_srtp_key(s.sdes_suite);
    if (!key.ok()) return std::string("sdes key: ") + vox::control::to_string(key.error());
    c.sdes_key = key.value();
  }
  auto request = [&](const char* command, const std::string& sdp, bool answer, std::string* sdp_out,
                     int64_t* took) -> std::optional<std::string> {
    NgValue req = NgValue::dict();
    req.set("command", command);
    req.set("call-id", c.call_id);
    req.set("from-tag", "browser");
    if (answer) req.set("to-tag", "trunk");
    req.set("sdp", sdp);
    req.set("flags", str_list({"trust-address"}));
    req.set("replace", str_list({"origin", "session-connection"}));
    if (!answer) {  // toward the plain peer (Kamailio's rtpengine_offer for a browser)
      if (s.leg == WebrtcLeg::kDtls) {
        req.set("ICE", "remove");
        req.set("rtcp-mux", str_list({"demux"}));
      }
      req.set("transport protocol", "RTP/AVP");
    } else if (s.leg == WebrtcLeg::kDtls) {  // toward the browser
      req.set("ICE", "force");
    }
    const int64_t t0 = mono_ns();
    auto reply = ng.call(req, s.ng_timeout_ms, 2);
    *took = mono_ns() - t0;
    if (!reply.ok()) return std::string(command) + ": " + reply.error();
    if (reply->find_string("result") != "ok") {
      const auto reason = reply->find_string("error-reason").value_or(reply->find_string("result").value_or("?"));
      return std::string(command) + ": " + std::string(reason);
    }
    const auto out = reply->find_string("sdp");
    if (!out) return std::string(command) + ": no sdp in the reply";
    *sdp_out = std::string(*out);
    return std::nullopt;
  };
  std::string to_plain, to_browser;
  if (auto e = request("offer", browser_offer(s, c), false, &to_plain, &c.offer_ns)) return e;
  SdpBits plain_bits;
  if (!parse_relay_sdp(to_plain, &plain_bits)) return std::string("offer: no usable m=audio/c= toward the peer");
  c.relay_for_plain = plain_bits.media;
  c.up = true;  // from here on a delete is due
  if (auto e = request("answer", plain_answer(s, c), true, &to_browser, &c.answer_ns)) return e;
  SdpBits b;
  if (!parse_relay_sdp(to_browser, &b)) return std::string("answer: no usable m=audio/c= toward the browser");
  c.relay_for_browser = b.media;
  if (s.leg == WebrtcLeg::kDtls) {
    if (b.ufrag.empty() || b.pwd.empty() || b.fingerprint.empty())
      return std::string("answer: no ice-ufrag/ice-pwd/fingerprint toward the browser");
    c.relay_ufrag = b.ufrag;
    c.relay_pwd = b.pwd;
    c.relay_fingerprint = b.fingerprint;
    c.relay_setup = b.setup;
    c.dtls_client = b.setup != "active";  // passive (or a stray actpass): we are the client
  } else if (s.leg == WebrtcLeg::kSdes) {
    auto st = vox::dataplane::SrtpStream::create(c.sdes_key, vox::dataplane::SrtpDirection::kOutbound);
    if (!st.ok()) return std::string("srtp: ") + vox::dataplane::to_string(st.error());
    c.srtp.emplace(std::move(st).value());
    c.connected = true;
  } else {
    c.connected = true;
  }
  return std::nullopt;
}

std::optional<std::string> webrtc_ice_check(const WebrtcShared& s, WebrtcCall& c) {
  if (s.leg != WebrtcLeg::kDtls) return std::nullopt;
  webrtc::StunTransaction tx{};
  const uint64_t n = ++c.stun_tx;
  vox::store_be32(tx.data(), c.index);
  std::memcpy(tx.data() + 4, &n, 8);
  const std::string username = c.relay_ufrag + ":" + c.ufrag;
  bool ok = false;
  const int64_t t0 = mono_ns();
  PumpHooks h;
  h.tick = [&](int64_t now) -> int64_t {
    uint8_t buf[512];
    webrtc::StunWriter w(buf, webrtc::kStunBinding, StunClass::kRequest, tx);
    w.add_username(username);
    w.add_priority(1853817087);  // a host candidate's (RFC 8445 §5.1.2.1), as prflx
    w.add_ice_controlling(0x766f786c6f6164ULL + c.index);
    w.add_use_candidate();
    const size_t len = w.finish(c.relay_pwd, false, true);
    if (len) send_to(c.fd_browser, c.relay_for_browser, buf, len);
    return now + kStunRetransmitNs;
  };
  h.done = [&] { return ok; };
  std::string error;
  h.on_stun_response = [&](const webrtc::StunMessage& m) {
    if (m.transaction != tx) return;
    if (m.cls == StunClass::kSuccess) ok = true;
    else error = "ice: error response " + std::to_string(m.error_code);
  };
  if (!pump(c, t0 + int64_t(s.step_timeout_ms) * 1'000'000, h))
    return error.empty() ? std::string("ice: no success response") : error;
  c.ice_ns = mono_ns() - t0;
  return std::nullopt;
}

std::optional<std::string> webrtc_handshake_first(const WebrtcShared& s, WebrtcCall& c) {
  if (s.leg != WebrtcLeg::kDtls) return std::nullopt;
  return run_handshake(s, c, true);
}

std::optional<std::string> webrtc_handshake(const WebrtcShared& s, WebrtcCall& c) {
  if (s.leg != WebrtcLeg::kDtls) return std::nullopt;
  return run_handshake(s, c, false);
}

size_t webrtc_media_packet(WebrtcCall& c, uint8_t* buf, size_t capacity) {
  if (capacity < kPcmuPacket + vox::dataplane::kSrtpMaxRtpTrailer) return 0;
  buf[0] = 0x80;
  buf[1] = 0;  // PCMU
  vox::store_be16(buf + 2, c.seq++);
  vox::store_be32(buf + 4, c.rtp_ts);
  c.rtp_ts += 160;
  vox::store_be32(buf + 8, c.ssrc);
  std::memset(buf + 12, 0xff, kPcmuPacket - 12);  // µ-law silence
  if (!c.srtp) return kPcmuPacket;
  auto n = c.srtp->protect_rtp(buf, kPcmuPacket, capacity);
  return n.ok() ? n.value() : 0;
}

std::optional<std::string> webrtc_first_packet(const WebrtcShared& s, WebrtcCall& c) {
  if (!c.connected) return std::string("first packet: not connected");
  bool got = false;
  const int64_t t0 = mono_ns();
  int64_t t1 = 0;
  PumpHooks h;
  h.tick = [&](int64_t now) -> int64_t {
    uint8_t buf[kPcmuPacket + vox::dataplane::kSrtpMaxRtpTrailer];
    if (const size_t n = webrtc_media_packet(c, buf, sizeof buf)) send_to(c.fd_browser, c.relay_for_browser, buf, n);
    return now + kMediaRetryNs;
  };
  h.done = [&] { return got; };
  h.on_plain = [&](int64_t now) {
    if (!got) t1 = now;
    got = true;
  };
  if (!pump(c, t0 + int64_t(s.step_timeout_ms) * 1'000'000, h))
    return std::string("first packet: nothing reached the plain peer");
  c.first_packet_ns = t1 - t0;
  return std::nullopt;
}

void webrtc_serve_stun(WebrtcCall& c) {
  PumpHooks h;
  bool once = false;
  h.done = [&] { return std::exchange(once, true); };  // one poll round
  pump(c, mono_ns() + 1, h);
}

std::optional<std::string> webrtc_delete(NgClient& ng, const WebrtcShared& s, WebrtcCall& c) {
  if (!c.up) return std::nullopt;
  NgValue req = NgValue::dict();
  req.set("command", "delete");
  req.set("call-id", c.call_id);
  req.set("from-tag", "browser");
  const int64_t t0 = mono_ns();
  auto reply = ng.call(req, s.ng_timeout_ms, 2);
  c.delete_ns = mono_ns() - t0;
  c.up = false;
  c.dtls.reset();
  c.srtp.reset();
  if (!reply.ok()) return "delete: " + reply.error();
  if (reply->find_string("result") != "ok") return std::string("delete: not ok");
  return std::nullopt;
}

}  // namespace voxload
