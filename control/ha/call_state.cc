// encode_call / decode_call: one writer and one reader per type, so that
// a field added to the call model is added here in two places side by
// side. Keys are short but readable (`redis-cli GET` is a debugging tool).
// SRTP keys travel as a=crypto lines (sdes.h renders and parses them).
#include "control/ha/call_state.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <utility>

#include "control/ha/json_writer.h"

namespace vox::control {

namespace {

using json = nlohmann::json;
using W = ha::JsonWriter;

// A field that does not parse; decode_call turns it into its error.
struct Bad {
  std::string what;
};

// A JSON value as T: booleans and strings as nlohmann reads them (a value
// of another JSON type throws), integers only when in T's range. A JSON
// float, or an integer out of range, is refused: casting it would be
// undefined (a document in Redis is untrusted input).
template <typename T>
T value_as(const json& j) {
  if constexpr (std::is_same_v<T, bool> || !std::is_arithmetic_v<T>) {
    return j.get<T>();
  } else {
    if (j.is_number_unsigned()) {
      const auto v = j.get<uint64_t>();
      if (std::in_range<T>(v)) return T(v);
    } else if (j.is_number_integer()) {
      const auto v = j.get<int64_t>();
      if (std::in_range<T>(v)) return T(v);
    }
    throw Bad{"number " + j.dump()};
  }
}

// Declared first: the templates for optional and vector find them all.
void put(W& w, const SdpCodec& c);
void get(const json& j, SdpCodec& c);
void put(W& w, const OffererCodec& c);
void get(const json& j, OffererCodec& c);
void put(W& w, const CodecSpec& s);
void get(const json& j, CodecSpec& s);
void put(W& w, const CodecPlan& p);
void get(const json& j, CodecPlan& p);
void put(W& w, const StreamPlan& p);
void get(const json& j, StreamPlan& p);
void put(W& w, const MediaSide& m);
void get(const json& j, MediaSide& m);
void get(const json& j, Party& p);

// ---- small types ------------------------------------------------------------

// An address as text: IPv4 and the unspecified address (most of a call's
// endpoints) formatted here, the rest by inet_ntop.
void put(W& w, const IpAddr& a) {
  static const IpAddr none{};
  if (a == none) return void(w.value("::"));
  if (!a.is_v4()) return void(w.value(a.to_string()));
  char buf[16];
  char* p = buf;
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = std::to_chars(p, buf + sizeof buf, (a.v4() >> shift) & 0xff).ptr;
    if (shift) *p++ = '.';
  }
  w.value(std::string_view(buf, size_t(p - buf)));
}

void put(W& w, const Endpoint& e) {
  put(w.begin_array(), e.addr);
  w.value(e.port).end_array();
}
void get(const json& j, Endpoint& e) {
  const auto ip = IpAddr::parse(j.at(0).get<std::string>());
  if (!ip) throw Bad{"address " + j.dump()};
  e = {*ip, value_as<uint16_t>(j.at(1))};
}

void put(W& w, const SdesCrypto& c) { w.value(render_sdes_crypto(c, {.pad = true})); }
void get(const json& j, SdesCrypto& c) {
  auto parsed = parse_sdes_crypto(j.get<std::string>());
  if (!parsed.ok()) throw Bad{std::string("a=crypto: ") + to_string(parsed.error())};
  c = std::move(*parsed);
}

// One direction's key, as a crypto line of tag 1.
void put(W& w, const SrtpKey& k) { put(w, SdesCrypto{.tag = 1, .key = k, .lifetime = {}, .other_params = {}}); }
void get(const json& j, SrtpKey& k) {
  SdesCrypto c;
  get(j, c);
  k = c.key;
}

void put(W& w, const SdesSession& s) {
  w.begin_object().member("tag", s.tag);
  put(w.key("in"), s.inbound);
  put(w.key("out"), s.outbound);
  w.end_object();
}
void get(const json& j, SdesSession& s) {
  s.tag = value_as<uint32_t>(j.at("tag"));
  get(j.at("in"), s.inbound);
  get(j.at("out"), s.outbound);
}

void put(W& w, const SdesAnswer& a) {
  put(w.begin_object().key("line"), a.line);
  put(w.key("session"), a.session);
  w.end_object();
}
void get(const json& j, SdesAnswer& a) {
  get(j.at("line"), a.line);
  get(j.at("session"), a.session);
}

void put(W& w, const dataplane::RtpClocks& c) {
  w.begin_array();
  for (uint8_t i = 0; i < c.count; ++i) w.begin_array().value(c.pt[i]).value(c.rate[i]).end_array();
  w.end_array();
}
void get(const json& j, dataplane::RtpClocks& c) {
  c = {};
  for (const json& e : j) c.add(value_as<uint8_t>(e.at(0)), value_as<uint32_t>(e.at(1)));
}

template <typename T>
void put(W& w, const std::optional<T>& v) {
  if (!v) w.null();
  else if constexpr (std::is_arithmetic_v<T>) w.value(*v);
  else put(w, *v);
}
template <typename T>
void get(const json& j, std::optional<T>& v) {
  if (j.is_null()) return v.reset();
  if constexpr (std::is_arithmetic_v<T>) v = value_as<T>(j);
  else get(j, v.emplace());
}

template <typename T>
void put(W& w, const std::vector<T>& v) {
  w.begin_array();
  for (const T& e : v) {
    if constexpr (std::is_arithmetic_v<T>) w.value(e);
    else put(w, e);
  }
  w.end_array();
}
template <typename T>
void get(const json& j, std::vector<T>& v) {
  v.assign(j.size(), T{});
  for (size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_arithmetic_v<T>) v[i] = value_as<T>(j.at(i));
    else get(j.at(i), v[i]);
  }
}

template <typename E>
E enum_at(const json& j, E count) {
  const int v = value_as<int>(j);
  if (v < 0 || v >= int(count)) throw Bad{"enum value " + j.dump()};
  return E(v);
}

// The small structs a stream and a party hold, each as one array.
void put(W& w, const MediaSide::SentStream& s) {
  w.begin_array().value(s.ssrc).value(s.roc).value(s.known).end_array();
}
void get(const json& j, MediaSide::SentStream& s) {
  s = {value_as<uint32_t>(j.at(0)), value_as<uint32_t>(j.at(1)), j.at(2).get<bool>()};
}

void put(W& w, const IceSide& i) {
  w.begin_array().value(i.enabled).value(i.local_ufrag).value(i.local_pwd);
  w.value(i.remote_ufrag).value(i.remote_pwd).end_array();
}
void get(const json& j, IceSide& i) {
  i = {j.at(0).get<bool>(), j.at(1).get<std::string>(), j.at(2).get<std::string>(),
       j.at(3).get<std::string>(), j.at(4).get<std::string>()};
}

void put(W& w, const DtlsSide& d) {
  w.begin_array().value(d.enabled).value(d.relay_active).value(d.remote_fingerprint);
  w.value(d.remote_setup).value(d.connected).end_array();
}
void get(const json& j, DtlsSide& d) {
  d = {j.at(0).get<bool>(), j.at(1).get<bool>(), j.at(2).get<std::string>(),
       j.at(3).get<std::string>(), j.at(4).get<bool>()};
}

void put(W& w, const PartyPolicy& p) {
  w.begin_array().value(p.asymmetric).value(p.strict_source).value(p.media_handover).end_array();
}
void get(const json& j, PartyPolicy& p) {
  p = {j.at(0).get<bool>(), j.at(1).get<bool>(), j.at(2).get<bool>()};
}

void put(W& w, const Party::SentSdp& s) {
  w.begin_array().value(s.version).value(s.hash).value(s.known).end_array();
}
void get(const json& j, Party::SentSdp& s) {
  s = {value_as<uint64_t>(j.at(0)), value_as<size_t>(j.at(1)), j.at(2).get<bool>()};
}

// ---- members left out at their defaults --------------------------------------
//
// A member whose value is the default of its field (false, 0, "", none,
// empty) is left out: about half of a plain call's document. The reader
// decodes into default-constructed objects, so a member left out reads
// back as that same default. `d` is a default-constructed parent.

template <typename T>
constexpr bool kOptional = false;
template <typename T>
constexpr bool kOptional<std::optional<T>> = true;
template <typename T>
constexpr bool kVector = false;
template <typename T>
constexpr bool kVector<std::vector<T>> = true;

template <typename T>
bool same(const T& v, const T& d) {
  if constexpr (kOptional<T>) return !v && !d;
  else if constexpr (kVector<T>) return v.empty() && d.empty();
  else return v == d;
}

template <typename T>
void opt(W& w, std::string_view name, const T& v, const T& d) {
  if (same(v, d)) return;
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) w.member(name, v);
  else put(w.key(name), v);
}

template <typename T>
void opt(const json& j, const char* name, T& v) {
  const auto it = j.find(name);
  if (it == j.end()) return;
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) v = value_as<T>(*it);
  else get(*it, v);
}

template <typename T>
const T& defaults() {
  static const T d{};
  return d;
}

// ---- codec plans -----------------------------------------------------------

void put(W& w, const SdpCodec& c) {
  const SdpCodec& d = defaults<SdpCodec>();
  w.begin_object().member("pt", c.payload_type).member("enc", c.encoding).member("rate", c.clock_rate);
  opt(w, "ch", c.channels, d.channels);
  opt(w, "fmtp", c.fmtp, d.fmtp);
  w.end_object();
}
void get(const json& j, SdpCodec& c) {
  c.payload_type = value_as<uint8_t>(j.at("pt"));
  c.encoding = j.at("enc").get<std::string>();
  c.clock_rate = value_as<uint32_t>(j.at("rate"));
  opt(j, "ch", c.channels);
  opt(j, "fmtp", c.fmtp);
}

void put(W& w, const OffererCodec& c) {
  const OffererCodec& d = defaults<OffererCodec>();
  put(w.begin_object().key("codec"), c.codec);
  opt(w, "masked", c.masked, d.masked);
  opt(w, "accepted", c.accepted, d.accepted);
  w.end_object();
}
void get(const json& j, OffererCodec& c) {
  get(j.at("codec"), c.codec);
  opt(j, "masked", c.masked);
  opt(j, "accepted", c.accepted);
}

void put(W& w, const CodecSpec& s) { w.value(s.text); }
void get(const json& j, CodecSpec& s) {
  auto parsed = parse_codec_spec(j.get<std::string>());
  if (!parsed.ok()) throw Bad{"codec spec: " + parsed.error()};
  s = std::move(*parsed);
}

void put(W& w, const CodecPlan& p) {
  put(w.begin_object().key("offerer"), p.offerer);
  put(w.key("to_answerer"), p.to_answerer);
  put(w.key("added"), p.added);
  put(w.key("options"), p.options);
  w.member("always", p.always_transcode).member("single", p.single_codec);
  put(w.key("ptime"), p.ptime);
  put(w.key("ptime_reverse"), p.ptime_reverse);
  w.member("offerer_ptime", p.offerer_ptime_ms).member("requested", p.requested).end_object();
}
void get(const json& j, CodecPlan& p) {
  get(j.at("offerer"), p.offerer);
  get(j.at("to_answerer"), p.to_answerer);
  get(j.at("added"), p.added);
  get(j.at("options"), p.options);
  p.always_transcode = j.at("always").get<bool>();
  p.single_codec = j.at("single").get<bool>();
  get(j.at("ptime"), p.ptime);
  get(j.at("ptime_reverse"), p.ptime_reverse);
  p.offerer_ptime_ms = value_as<int>(j.at("offerer_ptime"));
  p.requested = j.at("requested").get<bool>();
}

void put(W& w, const StreamPlan& p) {
  w.begin_object().member("transcode", p.transcode);
  put(w.key("in"), p.in);
  put(w.key("out"), p.out);
  w.member("in_kind", int(p.in_kind)).member("out_kind", int(p.out_kind));
  w.member("in_event_pt", p.in_event_pt).member("out_event_pt", p.out_event_pt);
  w.member("in_ptime", p.in_ptime_ms).member("out_ptime", p.out_ptime_ms);
  put(w.key("opus_bitrate"), p.opus_bitrate);
  put(w.key("opus_complexity"), p.opus_complexity);
  w.member("fec", p.far_side_fec).member("dtx", p.far_side_dtx).end_object();
}
void get(const json& j, StreamPlan& p) {
  p.transcode = j.at("transcode").get<bool>();
  get(j.at("in"), p.in);
  get(j.at("out"), p.out);
  constexpr auto kinds = CodecKind(int(CodecKind::kComfortNoise) + 1);
  p.in_kind = enum_at(j.at("in_kind"), kinds);
  p.out_kind = enum_at(j.at("out_kind"), kinds);
  p.in_event_pt = value_as<int>(j.at("in_event_pt"));
  p.out_event_pt = value_as<int>(j.at("out_event_pt"));
  p.in_ptime_ms = value_as<int>(j.at("in_ptime"));
  p.out_ptime_ms = value_as<int>(j.at("out_ptime"));
  get(j.at("opus_bitrate"), p.opus_bitrate);
  get(j.at("opus_complexity"), p.opus_complexity);
  p.far_side_fec = j.at("fec").get<bool>();
  p.far_side_dtx = j.at("dtx").get<bool>();
}

// ---- a stream, a party, the call --------------------------------------------

// The members every stream and party has are always written; the rest
// only where they differ from their defaults.
void put(W& w, const MediaSide& m) {
  const MediaSide& d = defaults<MediaSide>();
  w.begin_object().member("type", m.type).member("proto", m.proto).member("port", m.rtp_port);
  opt(w, "sdp_rtp", m.sdp_rtp, d.sdp_rtp);
  opt(w, "sdp_rtcp", m.sdp_rtcp, d.sdp_rtcp);
  opt(w, "latched_rtp", m.latched_rtp, d.latched_rtp);
  opt(w, "latched_rtcp", m.latched_rtcp, d.latched_rtcp);
  opt(w, "stream", m.sent_stream, d.sent_stream);
  opt(w, "offered_mux", m.offered_mux, d.offered_mux);
  opt(w, "uses_mux", m.uses_mux, d.uses_mux);
  opt(w, "rejected", m.rejected, d.rejected);
  opt(w, "relay_offered_mux", m.relay_offered_mux, d.relay_offered_mux);
  opt(w, "direction", int(m.direction), int(d.direction));
  opt(w, "codec", m.codec, d.codec);
  put(w.key("clocks"), m.clocks);
  opt(w, "offer_plan", m.offer_plan, d.offer_plan);
  opt(w, "transcode", m.transcode_plan, d.transcode_plan);
  opt(w, "sdes_offer", m.sdes_offer, d.sdes_offer);
  opt(w, "sdes_answer", m.sdes_answer, d.sdes_answer);
  opt(w, "srtp", m.srtp, d.srtp);
  opt(w, "ice", m.ice, d.ice);
  opt(w, "dtls", m.dtls, d.dtls);
  opt(w, "ice_peer", m.ice_peer, d.ice_peer);
  opt(w, "ice_peer_rtcp", m.ice_peer_rtcp, d.ice_peer_rtcp);
  if (m.relay_sent_dtls || m.relay_sent_ice || m.relay_requires_mux) {
    w.key("sent").begin_array().value(m.relay_sent_dtls).value(m.relay_sent_ice);
    w.value(m.relay_requires_mux).end_array();
  }
  opt(w, "mid", m.mid, d.mid);
  opt(w, "bundled", m.bundled, d.bundled);
  w.end_object();
}
void get(const json& j, MediaSide& m) {
  m.type = j.at("type").get<std::string>();
  m.proto = j.at("proto").get<std::string>();
  m.rtp_port = value_as<uint16_t>(j.at("port"));
  opt(j, "sdp_rtp", m.sdp_rtp);
  opt(j, "sdp_rtcp", m.sdp_rtcp);
  opt(j, "latched_rtp", m.latched_rtp);
  opt(j, "latched_rtcp", m.latched_rtcp);
  opt(j, "stream", m.sent_stream);
  opt(j, "offered_mux", m.offered_mux);
  opt(j, "uses_mux", m.uses_mux);
  opt(j, "rejected", m.rejected);
  opt(j, "relay_offered_mux", m.relay_offered_mux);
  if (const auto dir = j.find("direction"); dir != j.end())
    m.direction = enum_at(*dir, MediaDirection::kCount);
  opt(j, "codec", m.codec);
  get(j.at("clocks"), m.clocks);
  opt(j, "offer_plan", m.offer_plan);
  opt(j, "transcode", m.transcode_plan);
  opt(j, "sdes_offer", m.sdes_offer);
  opt(j, "sdes_answer", m.sdes_answer);
  opt(j, "srtp", m.srtp);
  opt(j, "ice", m.ice);
  opt(j, "dtls", m.dtls);
  opt(j, "ice_peer", m.ice_peer);
  opt(j, "ice_peer_rtcp", m.ice_peer_rtcp);
  if (const auto sent = j.find("sent"); sent != j.end()) {
    m.relay_sent_dtls = sent->at(0).get<bool>();
    m.relay_sent_ice = sent->at(1).get<bool>();
    m.relay_requires_mux = sent->at(2).get<bool>();
  }
  opt(j, "mid", m.mid);
  opt(j, "bundled", m.bundled);
}

void put(W& w, const Party& p, std::span<const IpAddr> interfaces) {
  const Party& d = defaults<Party>();
  w.begin_object().key("address");
  if (p.iface >= 0 && size_t(p.iface) < interfaces.size()) put(w, interfaces[size_t(p.iface)]);
  else w.null();
  w.member("tag", p.tag);
  opt(w, "label", p.label, d.label);
  opt(w, "via_branch", p.via_branch, d.via_branch);
  opt(w, "branch", p.branch, d.branch);
  opt(w, "iface", p.iface, d.iface);
  opt(w, "has_sdp", p.has_sdp, d.has_sdp);
  opt(w, "policy", p.policy, d.policy);
  opt(w, "mux_accept", p.mux_accept, d.mux_accept);
  opt(w, "mux_reject", p.mux_reject, d.mux_reject);
  opt(w, "dtls_reverse_passive", p.dtls_reverse_passive, d.dtls_reverse_passive);
  put(w.key("media"), p.media);
  w.member("created", p.created_unix);
  opt(w, "sent_sdp", p.sent_sdp, d.sent_sdp);
  w.end_object();
}
void get(const json& j, Party& p) {
  if (const auto a = j.find("address"); a != j.end() && !a->is_null()) {  // absent: not checked
    p.saved_address = IpAddr::parse(a->get<std::string>());
    if (!p.saved_address) throw Bad{"address " + a->dump()};
  }
  p.tag = j.at("tag").get<std::string>();
  opt(j, "label", p.label);
  opt(j, "via_branch", p.via_branch);
  opt(j, "branch", p.branch);
  opt(j, "iface", p.iface);
  opt(j, "has_sdp", p.has_sdp);
  opt(j, "policy", p.policy);
  opt(j, "mux_accept", p.mux_accept);
  opt(j, "mux_reject", p.mux_reject);
  opt(j, "dtls_reverse_passive", p.dtls_reverse_passive);
  get(j.at("media"), p.media);
  p.created_unix = value_as<int64_t>(j.at("created"));
  opt(j, "sent_sdp", p.sent_sdp);
}

}  // namespace

std::string encode_call(const Call& c, std::span<const IpAddr> interfaces, std::string buffer) {
  W w(std::move(buffer));
  w.begin_object().member("v", kCallStateVersion).member("id", c.id).member("worker", c.worker);
  w.key("parties").begin_array();
  for (const Party& p : c.parties) put(w, p, interfaces);
  w.end_array().key("branches").begin_array();
  for (const Party& p : c.branches) put(w, p, interfaces);
  w.end_array();
  w.member("branches_made", c.branches_made).member("answered", c.answered);
  w.member("created", c.created_unix).member("last_signal", c.last_signal_unix);
  put(w.key("tos"), c.tos);
  w.end_object();
  return std::move(w).finish();
}

Result<std::unique_ptr<Call>, std::string> decode_call(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Err{std::string("not a JSON object")};
  auto c = std::make_unique<Call>();
  try {
    const int version = value_as<int>(j.at("v"));
    if (version < kOldestCallStateVersion || version > kCallStateVersion)
      return Err{"layout version " + j.at("v").dump() + ", this relay reads " +
                 std::to_string(kOldestCallStateVersion) + " to " + std::to_string(kCallStateVersion)};
    c->id = j.at("id").get<std::string>();
    c->worker = value_as<int>(j.at("worker"));
    const json& parties = j.at("parties");
    if (parties.size() != 2) return Err{std::string("parties: two expected")};
    get(parties.at(0), c->parties[0]);
    get(parties.at(1), c->parties[1]);
    get(j.at("branches"), c->branches);
    c->branches_made = value_as<int>(j.at("branches_made"));
    c->answered = j.at("answered").get<bool>();
    c->created_unix = value_as<int64_t>(j.at("created"));
    c->last_signal_unix = value_as<int64_t>(j.at("last_signal"));
    get(j.at("tos"), c->tos);
  } catch (const Bad& e) {
    return Err{e.what};
  } catch (const json::exception& e) {
    return Err{std::string(e.what())};
  }
  return c;
}

}  // namespace vox::control
