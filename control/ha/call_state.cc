// encode_call / decode_call: one writer and one reader per type, so that
// a field added to the call model is added here in two places side by
// side. Keys are short but readable (`redis-cli GET` is a debugging tool).
// SRTP keys travel as a=crypto lines (sdes.h renders and parses them).
#include "control/ha/call_state.h"

#include <nlohmann/json.hpp>

namespace vox::control {

namespace {

using json = nlohmann::json;

// A field that does not parse; decode_call turns it into its error.
struct Bad {
  std::string what;
};

// Declared first: the templates for optional and vector find them all.
json put(const OffererCodec& c);
void get(const json& j, OffererCodec& c);
json put(const CodecSpec& s);
void get(const json& j, CodecSpec& s);
json put(const CodecPlan& p);
void get(const json& j, CodecPlan& p);
json put(const StreamPlan& p);
void get(const json& j, StreamPlan& p);
json put(const MediaSide& m);
void get(const json& j, MediaSide& m);
json put(const Party& p, std::span<const IpAddr> interfaces);
void get(const json& j, Party& p);

// ---- small types ------------------------------------------------------------

json put(const Endpoint& e) { return json::array({e.addr.to_string(), e.port}); }
void get(const json& j, Endpoint& e) {
  const auto ip = IpAddr::parse(j.at(0).get<std::string>());
  if (!ip) throw Bad{"address " + j.dump()};
  e = {*ip, j.at(1).get<uint16_t>()};
}

json put(const SdpCodec& c) {
  return {{"pt", c.payload_type}, {"enc", c.encoding}, {"rate", c.clock_rate}, {"ch", c.channels},
          {"fmtp", c.fmtp}};
}
void get(const json& j, SdpCodec& c) {
  c.payload_type = j.at("pt").get<uint8_t>();
  c.encoding = j.at("enc").get<std::string>();
  c.clock_rate = j.at("rate").get<uint32_t>();
  c.channels = j.at("ch").get<uint8_t>();
  c.fmtp = j.at("fmtp").get<std::string>();
}

json put(const SdesCrypto& c) { return render_sdes_crypto(c, {.pad = true}); }
void get(const json& j, SdesCrypto& c) {
  auto parsed = parse_sdes_crypto(j.get<std::string>());
  if (!parsed.ok()) throw Bad{std::string("a=crypto: ") + to_string(parsed.error())};
  c = std::move(*parsed);
}

// One direction's key, as a crypto line of tag 1.
json put(const SrtpKey& k) { return put(SdesCrypto{.tag = 1, .key = k, .lifetime = {}, .other_params = {}}); }
void get(const json& j, SrtpKey& k) {
  SdesCrypto c;
  get(j, c);
  k = c.key;
}

json put(const SdesSession& s) { return {{"tag", s.tag}, {"in", put(s.inbound)}, {"out", put(s.outbound)}}; }
void get(const json& j, SdesSession& s) {
  s.tag = j.at("tag").get<uint32_t>();
  get(j.at("in"), s.inbound);
  get(j.at("out"), s.outbound);
}

json put(const SdesAnswer& a) { return {{"line", put(a.line)}, {"session", put(a.session)}}; }
void get(const json& j, SdesAnswer& a) {
  get(j.at("line"), a.line);
  get(j.at("session"), a.session);
}

json put(const dataplane::RtpClocks& c) {
  json a = json::array();
  for (uint8_t i = 0; i < c.count; ++i) a.push_back({c.pt[i], c.rate[i]});
  return a;
}
void get(const json& j, dataplane::RtpClocks& c) {
  c = {};
  for (const json& e : j) c.add(e.at(0).get<uint8_t>(), e.at(1).get<uint32_t>());
}

template <typename T>
json put(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_arithmetic_v<T>) return *v;
  else return put(*v);
}
template <typename T>
void get(const json& j, std::optional<T>& v) {
  if (j.is_null()) return v.reset();
  if constexpr (std::is_arithmetic_v<T>) v = j.get<T>();
  else get(j, v.emplace());
}

template <typename T>
json put(const std::vector<T>& v) {
  json a = json::array();
  for (const T& e : v) a.push_back(put(e));
  return a;
}
template <typename T>
void get(const json& j, std::vector<T>& v) {
  v.assign(j.size(), T{});
  for (size_t i = 0; i < v.size(); ++i) get(j.at(i), v[i]);
}

template <typename E>
E enum_at(const json& j, E count) {
  const int v = j.get<int>();
  if (v < 0 || v >= int(count)) throw Bad{"enum value " + j.dump()};
  return E(v);
}

// ---- codec plans -----------------------------------------------------------

json put(const OffererCodec& c) { return {{"codec", put(c.codec)}, {"masked", c.masked}, {"accepted", c.accepted}}; }
void get(const json& j, OffererCodec& c) {
  get(j.at("codec"), c.codec);
  c.masked = j.at("masked").get<bool>();
  c.accepted = j.at("accepted").get<bool>();
}

json put(const CodecSpec& s) { return s.text; }
void get(const json& j, CodecSpec& s) {
  auto parsed = parse_codec_spec(j.get<std::string>());
  if (!parsed.ok()) throw Bad{"codec spec: " + parsed.error()};
  s = std::move(*parsed);
}

json put(const CodecPlan& p) {
  return {{"offerer", put(p.offerer)},         {"to_answerer", put(p.to_answerer)},
          {"added", p.added},                  {"options", put(p.options)},
          {"always", p.always_transcode},      {"single", p.single_codec},
          {"ptime", put(p.ptime)},             {"ptime_reverse", put(p.ptime_reverse)},
          {"offerer_ptime", p.offerer_ptime_ms}, {"requested", p.requested}};
}
void get(const json& j, CodecPlan& p) {
  get(j.at("offerer"), p.offerer);
  get(j.at("to_answerer"), p.to_answerer);
  p.added = j.at("added").get<std::vector<uint8_t>>();
  get(j.at("options"), p.options);
  p.always_transcode = j.at("always").get<bool>();
  p.single_codec = j.at("single").get<bool>();
  get(j.at("ptime"), p.ptime);
  get(j.at("ptime_reverse"), p.ptime_reverse);
  p.offerer_ptime_ms = j.at("offerer_ptime").get<int>();
  p.requested = j.at("requested").get<bool>();
}

json put(const StreamPlan& p) {
  return {{"transcode", p.transcode}, {"in", put(p.in)},
          {"out", put(p.out)},        {"in_kind", int(p.in_kind)},
          {"out_kind", int(p.out_kind)}, {"in_event_pt", p.in_event_pt},
          {"out_event_pt", p.out_event_pt}, {"in_ptime", p.in_ptime_ms},
          {"out_ptime", p.out_ptime_ms}, {"opus_bitrate", put(p.opus_bitrate)},
          {"opus_complexity", put(p.opus_complexity)}, {"fec", p.far_side_fec},
          {"dtx", p.far_side_dtx}};
}
void get(const json& j, StreamPlan& p) {
  p.transcode = j.at("transcode").get<bool>();
  get(j.at("in"), p.in);
  get(j.at("out"), p.out);
  constexpr auto kinds = CodecKind(int(CodecKind::kComfortNoise) + 1);
  p.in_kind = enum_at(j.at("in_kind"), kinds);
  p.out_kind = enum_at(j.at("out_kind"), kinds);
  p.in_event_pt = j.at("in_event_pt").get<int>();
  p.out_event_pt = j.at("out_event_pt").get<int>();
  p.in_ptime_ms = j.at("in_ptime").get<int>();
  p.out_ptime_ms = j.at("out_ptime").get<int>();
  get(j.at("opus_bitrate"), p.opus_bitrate);
  get(j.at("opus_complexity"), p.opus_complexity);
  p.far_side_fec = j.at("fec").get<bool>();
  p.far_side_dtx = j.at("dtx").get<bool>();
}

// ---- a stream, a party, the call --------------------------------------------

json put(const MediaSide& m) {
  return {
      {"type", m.type}, {"proto", m.proto}, {"port", m.rtp_port},
      {"sdp_rtp", put(m.sdp_rtp)}, {"sdp_rtcp", put(m.sdp_rtcp)},
      {"latched_rtp", put(m.latched_rtp)}, {"latched_rtcp", put(m.latched_rtcp)},
      {"stream", {m.sent_stream.ssrc, m.sent_stream.roc, m.sent_stream.known}},
      {"offered_mux", m.offered_mux}, {"uses_mux", m.uses_mux}, {"rejected", m.rejected},
      {"relay_offered_mux", m.relay_offered_mux}, {"direction", int(m.direction)},
      {"codec", m.codec}, {"clocks", put(m.clocks)}, {"offer_plan", put(m.offer_plan)},
      {"transcode", put(m.transcode_plan)}, {"sdes_offer", put(m.sdes_offer)},
      {"sdes_answer", put(m.sdes_answer)}, {"srtp", put(m.srtp)},
      {"ice", {m.ice.enabled, m.ice.local_ufrag, m.ice.local_pwd, m.ice.remote_ufrag, m.ice.remote_pwd}},
      {"dtls", {m.dtls.enabled, m.dtls.relay_active, m.dtls.remote_fingerprint, m.dtls.remote_setup,
                m.dtls.connected}},
      {"ice_peer", put(m.ice_peer)}, {"ice_peer_rtcp", put(m.ice_peer_rtcp)},
      {"sent", {m.relay_sent_dtls, m.relay_sent_ice, m.relay_requires_mux}},
      {"mid", m.mid}, {"bundled", m.bundled},
  };
}
void get(const json& j, MediaSide& m) {
  m.type = j.at("type").get<std::string>();
  m.proto = j.at("proto").get<std::string>();
  m.rtp_port = j.at("port").get<uint16_t>();
  get(j.at("sdp_rtp"), m.sdp_rtp);
  get(j.at("sdp_rtcp"), m.sdp_rtcp);
  get(j.at("latched_rtp"), m.latched_rtp);
  get(j.at("latched_rtcp"), m.latched_rtcp);
  const json& stream = j.at("stream");
  m.sent_stream = {stream.at(0).get<uint32_t>(), stream.at(1).get<uint32_t>(), stream.at(2).get<bool>()};
  m.offered_mux = j.at("offered_mux").get<bool>();
  m.uses_mux = j.at("uses_mux").get<bool>();
  m.rejected = j.at("rejected").get<bool>();
  m.relay_offered_mux = j.at("relay_offered_mux").get<bool>();
  m.direction = enum_at(j.at("direction"), MediaDirection::kCount);
  m.codec = j.at("codec").get<std::string>();
  get(j.at("clocks"), m.clocks);
  get(j.at("offer_plan"), m.offer_plan);
  get(j.at("transcode"), m.transcode_plan);
  get(j.at("sdes_offer"), m.sdes_offer);
  get(j.at("sdes_answer"), m.sdes_answer);
  get(j.at("srtp"), m.srtp);
  const json& ice = j.at("ice");
  m.ice = {ice.at(0).get<bool>(), ice.at(1).get<std::string>(), ice.at(2).get<std::string>(),
           ice.at(3).get<std::string>(), ice.at(4).get<std::string>()};
  const json& dtls = j.at("dtls");
  m.dtls = {dtls.at(0).get<bool>(), dtls.at(1).get<bool>(), dtls.at(2).get<std::string>(),
            dtls.at(3).get<std::string>(), dtls.at(4).get<bool>()};
  get(j.at("ice_peer"), m.ice_peer);
  get(j.at("ice_peer_rtcp"), m.ice_peer_rtcp);
  const json& sent = j.at("sent");
  m.relay_sent_dtls = sent.at(0).get<bool>();
  m.relay_sent_ice = sent.at(1).get<bool>();
  m.relay_requires_mux = sent.at(2).get<bool>();
  m.mid = j.at("mid").get<std::string>();
  m.bundled = j.at("bundled").get<bool>();
}

json put(const Party& p, std::span<const IpAddr> interfaces) {
  const bool known = p.iface >= 0 && size_t(p.iface) < interfaces.size();
  return {
      {"address", known ? json(interfaces[size_t(p.iface)].to_string()) : json(nullptr)},
      {"tag", p.tag}, {"label", p.label}, {"via_branch", p.via_branch}, {"branch", p.branch},
      {"iface", p.iface}, {"has_sdp", p.has_sdp},
      {"policy", {p.policy.asymmetric, p.policy.strict_source, p.policy.media_handover}},
      {"mux_accept", p.mux_accept}, {"mux_reject", p.mux_reject},
      {"dtls_reverse_passive", put(p.dtls_reverse_passive)}, {"media", put(p.media)},
      {"created", p.created_unix},
      {"sent_sdp", {p.sent_sdp.version, p.sent_sdp.hash, p.sent_sdp.known}},
  };
}
void get(const json& j, Party& p) {
  if (const json& a = j.at("address"); !a.is_null()) {
    p.saved_address = IpAddr::parse(a.get<std::string>());
    if (!p.saved_address) throw Bad{"address " + a.dump()};
  }
  p.tag = j.at("tag").get<std::string>();
  p.label = j.at("label").get<std::string>();
  p.via_branch = j.at("via_branch").get<std::string>();
  p.branch = j.at("branch").get<int>();
  p.iface = j.at("iface").get<int>();
  p.has_sdp = j.at("has_sdp").get<bool>();
  const json& policy = j.at("policy");
  p.policy = {policy.at(0).get<bool>(), policy.at(1).get<bool>(), policy.at(2).get<bool>()};
  p.mux_accept = j.at("mux_accept").get<bool>();
  p.mux_reject = j.at("mux_reject").get<bool>();
  get(j.at("dtls_reverse_passive"), p.dtls_reverse_passive);
  get(j.at("media"), p.media);
  p.created_unix = j.at("created").get<int64_t>();
  const json& sent = j.at("sent_sdp");
  p.sent_sdp = {sent.at(0).get<uint64_t>(), sent.at(1).get<size_t>(), sent.at(2).get<bool>()};
}

}  // namespace

std::string encode_call(const Call& c, std::span<const IpAddr> interfaces) {
  json parties = json::array({put(c.parties[0], interfaces), put(c.parties[1], interfaces)});
  json branches = json::array();
  for (const Party& b : c.branches) branches.push_back(put(b, interfaces));
  return json{{"v", kCallStateVersion},
              {"id", c.id},
              {"worker", c.worker},
              {"parties", std::move(parties)},
              {"branches", std::move(branches)},
              {"branches_made", c.branches_made},
              {"answered", c.answered},
              {"created", c.created_unix},
              {"last_signal", c.last_signal_unix},
              {"tos", put(c.tos)}}
      .dump();
}

Result<std::unique_ptr<Call>, std::string> decode_call(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Err{std::string("not a JSON object")};
  auto c = std::make_unique<Call>();
  try {
    if (j.at("v").get<int>() != kCallStateVersion)
      return Err{"layout version " + j.at("v").dump() + ", this relay reads " +
                 std::to_string(kCallStateVersion)};
    c->id = j.at("id").get<std::string>();
    c->worker = j.at("worker").get<int>();
    const json& parties = j.at("parties");
    if (parties.size() != 2) return Err{std::string("parties: two expected")};
    get(parties.at(0), c->parties[0]);
    get(parties.at(1), c->parties[1]);
    get(j.at("branches"), c->branches);
    c->branches_made = j.at("branches_made").get<int>();
    c->answered = j.at("answered").get<bool>();
    c->created_unix = j.at("created").get<int64_t>();
    c->last_signal_unix = j.at("last_signal").get<int64_t>();
    get(j.at("tos"), c->tos);
  } catch (const Bad& e) {
    return Err{e.what};
  } catch (const json::exception& e) {
    return Err{std::string(e.what())};
  }
  return c;
}

}  // namespace vox::control
