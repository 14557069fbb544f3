// CallManager: offer/answer, delete, timeouts. See call_manager.h for the
// contract (validate first, then change).
#include "control/call_manager.h"

#include <tuple>

#include <sys/socket.h>

#include <algorithm>

#include "control/srtp_negotiation.h"

namespace vox::control {

namespace {

constexpr int64_t kNsPerSec = 1000000000;

// Where a party wants to receive, from its SDP and the NG overrides:
// "media address" wins, then SIP-source-address (the IP the SIP message
// came from, for endpoints behind NAT that write private addresses).
IpAddr endpoint_address(const SignalRequest& r, const Sdp& sdp, const SdpMedia& m) {
  if (r.media_address) return *r.media_address;
  auto sdp_addr = m.effective_address(sdp);
  if (r.sip_source && r.received_from && !(sdp_addr && sdp_addr->is_unspecified()))
    return *r.received_from;
  return sdp_addr.value_or(IpAddr{});
}

// Reads one party's media description into its MediaSide.
void learn_media(MediaSide& side, const SignalRequest& r, const Sdp& sdp, const SdpMedia& m) {
  IpAddr addr = endpoint_address(r, sdp, m);
  Endpoint rtp{addr, m.port};
  Endpoint rtcp{m.rtcp_address.value_or(addr),
                m.rtcp_port ? *m.rtcp_port : uint16_t(m.port ? m.port + 1 : 0)};
  if (m.rtcp_mux) rtcp = rtp;
  if (addr.is_unspecified()) {
    // Hold (c=0.0.0.0): nothing to send to, but keep the ports.
    rtp.port = 0;
    rtcp.port = 0;
  }
  side.reset_latch = side.installed && !(side.sdp_rtp == rtp);
  side.sdp_rtp = rtp;
  side.sdp_rtcp = rtcp;
  side.type = m.type;
  side.proto = m.proto;
  side.offered_mux = m.rtcp_mux;
  side.rejected = m.port == 0;
  side.direction = m.direction;
}

// The rewrite that points an SDP at the relay: per m= line the local ports
// of `sides` (the party that will receive this SDP), rejected streams kept
// at port 0; rtcp-mux as offered to that party (offer) or as negotiated
// with it (answer).
SdpRewrite make_rewrite(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                        const std::vector<MediaSide>& sides, bool answer) {
  SdpRewrite rw;
  rw.replace_origin = r.replace_origin;
  rw.replace_session_connection = r.replace_session_connection;
  rw.strip_ice = r.ice_remove;
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    SdpMediaRewrite mr;
    mr.address = address;
    mr.rtcp_attribute = !r.no_rtcp_attribute;
    mr.full_rtcp_attribute = r.full_rtcp_attribute;
    if (i < sides.size()) {
      const MediaSide& m = sides[i];
      bool rejected = m.rejected || sdp.media[i].port == 0 || m.rtp_port == 0;
      mr.rtp_port = rejected ? 0 : m.rtp_port;
      mr.rtcp_mux = !rejected && (answer ? m.uses_mux : m.relay_offered_mux);
      // RFC 5761 §5.1.3: once mux is agreed a=rtcp names the RTP port; an
      // offer keeps port+1 as the fallback should the answerer decline mux.
      mr.rtcp_port = rejected ? 0 : uint16_t(m.rtp_port + (answer && mr.rtcp_mux ? 0 : 1));
    }
    rw.media.push_back(mr);
  }
  return rw;
}

bool is_rtp_audio(const SdpMedia& m) {
  return m.type == "audio" && m.port != 0 && m.proto.find("RTP/") != std::string::npos;
}

std::optional<codecs::AudioCodec> audio_codec(CodecKind k) {
  switch (k) {
    case CodecKind::kPcmu: return codecs::AudioCodec::kPcmu;
    case CodecKind::kPcma: return codecs::AudioCodec::kPcma;
    case CodecKind::kOpus: return codecs::AudioCodec::kOpus;
    default: return std::nullopt;
  }
}

std::string describe(const StreamPlan& p) {
  return p.in.rtpmap() + " pt " + std::to_string(p.in.payload_type) + " " +
         std::to_string(p.in_ptime_ms) + " ms -> " + p.out.rtpmap() + " pt " +
         std::to_string(p.out.payload_type) + " " + std::to_string(p.out_ptime_ms) +
         " ms, events " + std::to_string(p.in_event_pt) + " -> " + std::to_string(p.out_event_pt);
}

// One flow's contexts: unprotect what the party sends with its key, protect
// what the relay sends it with the relay's.
Result<std::unique_ptr<dataplane::SrtpSlot>, std::string> make_srtp_slot(const SdesSession& k) {
  auto slot = std::make_unique<dataplane::SrtpSlot>();
  auto in = dataplane::SrtpStream::create(k.inbound, dataplane::SrtpDirection::kInbound);
  if (!in.ok())
    return Err{std::string("Failed to set up SRTP: ") + dataplane::to_string(in.error())};
  auto out = dataplane::SrtpStream::create(k.outbound, dataplane::SrtpDirection::kOutbound);
  if (!out.ok())
    return Err{std::string("Failed to set up SRTP: ") + dataplane::to_string(out.error())};
  slot->inbound.emplace(std::move(*in));
  slot->outbound.emplace(std::move(*out));
  return slot;
}

}  // namespace

Result<std::unique_ptr<dataplane::TranscodeSlot>, std::string> CallManager::make_transcoder(
    const StreamPlan& p) {
  auto in = audio_codec(p.in_kind), out = audio_codec(p.out_kind);
  if (!in || !out)
    return Err{"Cannot transcode " + p.in.rtpmap() + " to " + p.out.rtpmap()};
  codecs::TranscoderConfig tc;
  tc.in_codec = *in;
  tc.in_pt = p.in.payload_type;
  tc.in_event_pt = p.in_event_pt;
  tc.in_ptime_ms = p.in_ptime_ms;
  tc.out_codec = *out;
  tc.out_pt = p.out.payload_type;
  tc.out_event_pt = p.out_event_pt;
  tc.out_ptime_ms = p.out_ptime_ms;
  tc.far_side_fec = p.far_side_fec;
  tc.opus.complexity = p.opus_complexity.value_or(config_.opus_complexity);
  tc.opus.bitrate = p.opus_bitrate.value_or(config_.opus_bitrate);
  tc.opus.fec = p.far_side_fec;
  tc.opus.dtx = p.far_side_dtx;
  tc.out_ssrc = uint32_t(rng_());
  tc.out_first_seq = uint16_t(rng_());
  tc.out_first_ts = uint32_t(rng_());
  auto t = codecs::Transcoder::create(tc);
  if (!t.ok()) return Err{std::string("Failed to set up transcoding: ") + codecs::to_string(t.error())};
  return std::make_unique<dataplane::TranscodeSlot>(std::move(*t));
}

void CallManager::retire_transcoder(MediaSide& m) {
  if (!m.transcoder) return;
  for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i)
    stats_.transcode_ended[i] += m.transcoder->get(dataplane::TranscodeCounter(i));
  m.transcoder = nullptr;
  m.transcode_description.clear();
}

void CallManager::set_transcoder(Call& c, MediaSide& m, std::unique_ptr<dataplane::TranscodeSlot> slot,
                                 const std::string& description) {
  if (m.transcoder && slot && description == m.transcode_description) return;  // keep it running
  if (!m.transcoder && !slot) return;
  retire_transcoder(m);
  dataplane::FlowCommand cmd;
  cmd.type = dataplane::CommandType::kSetTranscode;
  cmd.id = m.rtp_flow;
  if (slot) {
    m.transcoder = slot.get();
    m.transcode_description = description;
    ++stats_.transcoded_streams;
  }
  cmd.transcode = slot.release();  // the worker owns it now
  plane_.post(c.worker, cmd);
}

Result<CallManager::SideSrtp, std::string> CallManager::prepare_srtp(
    const MediaSide& m, std::optional<SdesSession> keys) {
  SideSrtp s;
  if (!m.rtp_port || same_srtp_keys(m.srtp, keys)) return s;
  s.change = true;
  if (keys) {
    // Each flow its own contexts: RTCP may arrive on either (rtcp-mux).
    for (auto* slot : {&s.rtp, &s.rtcp}) {
      auto made = make_srtp_slot(*keys);
      if (!made.ok()) return Err{made.error()};
      *slot = std::move(*made);
    }
  }
  s.keys = std::move(keys);
  return s;
}

void CallManager::set_srtp(Call& c, MediaSide& m, SideSrtp s) {
  if (!s.change) return;
  dataplane::FlowCommand cmd;
  cmd.type = dataplane::CommandType::kSetSrtp;
  for (auto [id, slot] : {std::pair{m.rtp_flow, &s.rtp}, std::pair{m.rtcp_flow, &s.rtcp}}) {
    cmd.id = id;
    cmd.srtp = slot->release();  // the worker owns it now (null: plain RTP again)
    if (!plane_.post(c.worker, cmd)) delete cmd.srtp;
  }
  m.srtp = std::move(s.keys);
}

CallManager::CallManager(const Config& config, dataplane::Dataplane& plane)
    : config_(config), plane_(plane) {
  for (size_t i = 0; i < config_.interfaces.size(); ++i)
    pools_.emplace_back(config_.port_min, config_.port_max, plane_.workers());
  free_flow_ids_.resize(size_t(plane_.workers()));
  for (int w = 0; w < plane_.workers(); ++w) {
    auto& ids = free_flow_ids_[size_t(w)];
    uint32_t n = plane_.max_flows();
    ids.reserve(n);
    for (uint32_t i = n; i > 0; --i) ids.push_back(i - 1);
  }
  calls_per_worker_.assign(size_t(plane_.workers()), 0);
}

CallManager::~CallManager() { destroy_all(); }

void CallManager::destroy_all() {
  for (auto& [id, c] : calls_) destroy(*c);
  calls_.clear();
  plane_.flush();
}

const Call* CallManager::find(const std::string& call_id) const {
  auto it = calls_.find(call_id);
  return it == calls_.end() ? nullptr : it->second.get();
}

size_t CallManager::active_count() const {
  size_t n = 0;
  for (auto& [id, c] : calls_) n += !c->deleted;
  return n;
}

std::vector<const Call*> CallManager::active_calls(size_t limit) const {
  std::vector<const Call*> out;
  for (auto& [id, c] : calls_) {
    if (out.size() >= limit) break;
    if (!c->deleted) out.push_back(c.get());
  }
  return out;
}

size_t CallManager::free_port_pairs() const {
  size_t n = 0;
  for (auto& p : pools_)
    for (int w = 0; w < plane_.workers(); ++w) n += p.free_pairs(w);
  return n;
}

dataplane::FlowSnapshot CallManager::flow_counters(const Call& c, FlowId id) const {
  if (id == kNoFlow) return {};
  return plane_.flow_counters(c.worker, id);
}

CallTotals CallManager::totals(const Call& c) const {
  CallTotals t;
  auto add = [&](FlowId id, bool rtcp) {
    if (id == kNoFlow) return;
    const dataplane::FlowSnapshot f = flow_counters(c, id);
    (rtcp ? t.rtcp_packets : t.rtp_packets) += f.packets;
    (rtcp ? t.rtcp_bytes : t.rtp_bytes) += f.bytes;
    t.errors += f.errors();
  };
  for (const Party& p : c.parties)
    for (const MediaSide& m : p.media) {
      add(m.rtp_flow, false);
      add(m.rtcp_flow, true);
    }
  return t;
}

int64_t CallManager::last_packet_ns(const Call& c, const MediaSide& m, bool rtcp, int64_t now_ns) const {
  MediaSide::Seen& seen = rtcp ? m.rtcp_seen : m.rtp_seen;
  if (const FlowId id = rtcp ? m.rtcp_flow : m.rtp_flow; id != kNoFlow) {
    const uint64_t packets = flow_counters(c, id).packets;
    if (packets != seen.packets) {
      seen.packets = packets;
      seen.at_ns = now_ns;
    }
  }
  return seen.at_ns;
}

int64_t CallManager::last_media_ns(const Call& c, int64_t now_ns) const {
  int64_t last = 0;
  for (const Party& p : c.parties)
    for (const MediaSide& m : p.media)
      last = std::max({last, last_packet_ns(c, m, false, now_ns), last_packet_ns(c, m, true, now_ns)});
  return last;
}

Result<int, std::string> CallManager::resolve_interface(const std::string& name,
                                                        std::optional<int> family,
                                                        int fallback) const {
  if (name.empty() && !family) return fallback;
  for (size_t i = 0; i < config_.interfaces.size(); ++i) {
    const auto& itf = config_.interfaces[i];
    if (!name.empty() && itf.name != name) continue;
    if (family && (*family == AF_INET) != itf.local.is_v4()) continue;
    return int(i);
  }
  if (name.empty()) return Err{std::string("No interface for the requested address family")};
  return Err{"Unknown interface '" + name + "'"};
}

int CallManager::pick_worker() {
  // Least-loaded worker by call count: calls are long-lived and similar.
  return int(std::min_element(calls_per_worker_.begin(), calls_per_worker_.end()) -
             calls_per_worker_.begin());
}

FlowId CallManager::take_flow_id(int w) {
  auto& ids = free_flow_ids_[size_t(w)];
  if (ids.empty()) return kNoFlow;
  FlowId id = ids.back();
  ids.pop_back();
  return id;
}

bool CallManager::allocate_side(Call& c, Party& p, MediaSide& m) {
  if (m.rtp_port) return true;
  PortPool& pool = pools_[size_t(p.iface)];
  const auto iface = uint16_t(p.iface);
  // Ports held by other processes are skipped (and retried later).
  for (size_t attempt = 0; attempt < pool.free_pairs(c.worker); ++attempt) {
    auto port = pool.allocate_pair(c.worker);
    if (!port) return false;
    auto rtp = plane_.bind_port(dataplane::make_local_key(iface, *port));
    if (!rtp.ok()) {
      pool.release_pair(*port);
      continue;
    }
    auto rtcp = plane_.bind_port(dataplane::make_local_key(iface, uint16_t(*port + 1)));
    if (!rtcp.ok()) {
      plane_.release_port(*rtp);
      pool.release_pair(*port);
      continue;
    }
    FlowId a = take_flow_id(c.worker), b = take_flow_id(c.worker);
    if (a == kNoFlow || b == kNoFlow) {
      if (a != kNoFlow) free_flow_ids_[size_t(c.worker)].push_back(a);
      plane_.release_port(*rtp);
      plane_.release_port(*rtcp);
      pool.release_pair(*port);
      return false;
    }
    m.rtp_port = *port;
    m.rtp_handle = *rtp;
    m.rtcp_handle = *rtcp;
    m.rtp_flow = a;
    m.rtcp_flow = b;
    return true;
  }
  return false;
}

void CallManager::release_side(Call& c, Party& p, MediaSide& m) {
  if (!m.rtp_port) return;
  retire_transcoder(m);  // the worker deletes it with the flow
  if (m.installed) {
    dataplane::FlowCommand cmd;
    cmd.type = dataplane::CommandType::kRemoveFlow;
    cmd.id = m.rtp_flow;
    plane_.post(c.worker, cmd);
    cmd.id = m.rtcp_flow;
    plane_.post(c.worker, cmd);
  } else {
    plane_.release_port(m.rtp_handle);
    plane_.release_port(m.rtcp_handle);
  }
  free_flow_ids_[size_t(c.worker)].push_back(m.rtp_flow);
  free_flow_ids_[size_t(c.worker)].push_back(m.rtcp_flow);
  pools_[size_t(p.iface)].release_pair(m.rtp_port);
  m = MediaSide{};
}

void CallManager::install_flows(Call& c, int64_t now_ns) {
  const int64_t latch_until_ns = now_ns + int64_t(config_.latch_window_ms) * 1000000;
  size_t n = std::max(c.parties[0].media.size(), c.parties[1].media.size());
  for (size_t i = 0; i < n; ++i) {
    for (int s = 0; s < 2; ++s) {
      Party& px = c.parties[s];
      Party& py = c.parties[1 - s];
      if (i >= px.media.size()) continue;
      MediaSide& x = px.media[i];
      if (!x.rtp_port) continue;
      MediaSide* y = i < py.media.size() && py.media[i].rtp_port ? &py.media[i] : nullptr;
      uint16_t flags = 0;
      if (px.policy.asymmetric) flags |= dataplane::kFlowAsymmetric;
      if (px.policy.strict_source) flags |= dataplane::kFlowStrictSource;
      if (px.policy.media_handover) flags |= dataplane::kFlowMediaHandover;
      if (y && !x.rejected && !y->rejected) flags |= dataplane::kFlowEnabled;

      dataplane::FlowCommand cmd;
      cmd.type = x.installed ? dataplane::CommandType::kUpdateFlow
                             : dataplane::CommandType::kAddFlow;
      cmd.reset_latch = x.reset_latch;
      auto& h = cmd.state;
      h.egress_rtp = y ? y->rtp_flow : kNoFlow;
      h.egress_rtcp = y ? (y->uses_mux ? y->rtp_flow : y->rtcp_flow) : kNoFlow;
      h.latch_until_ns = latch_until_ns;

      cmd.id = x.rtp_flow;
      h.key = x.rtp_handle.key;
      h.flags = flags;
      h.sdp_source = x.sdp_rtp;
      plane_.post(c.worker, cmd);

      cmd.id = x.rtcp_flow;
      h.key = x.rtcp_handle.key;
      h.flags = flags | dataplane::kFlowRtcpPort;
      h.sdp_source = x.uses_mux ? x.sdp_rtp : x.sdp_rtcp;
      plane_.post(c.worker, cmd);

      x.installed = true;
      x.reset_latch = false;
    }
  }
  plane_.flush();
}

Result<SignalReply, std::string> CallManager::offer(const SignalRequest& r, Clock now) {
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return Err{std::string(to_string(parsed.error()))};
  const Sdp& sdp = *parsed;

  Call* c = nullptr;
  auto it = calls_.find(r.call_id);
  bool created = it == calls_.end();
  if (!created) c = it->second.get();
  if (created && config_.max_sessions > 0 && active_count() >= size_t(config_.max_sessions))
    return Err{std::string("Parallel session limit reached")};

  int self = 0;
  if (c && c->parties[1].tag == r.from_tag && !r.from_tag.empty()) self = 1;
  int other = 1 - self;

  // Interfaces are chosen when the call is created; re-offers keep them.
  int self_iface = c ? c->parties[self].iface : 0;
  int other_iface = c ? c->parties[other].iface : 0;
  if (created) {
    auto a = resolve_interface(r.direction.size() > 0 ? r.direction[0] : "", r.address_family, 0);
    if (!a.ok()) return Err{a.error()};
    auto b = resolve_interface(r.direction.size() > 1 ? r.direction[1] : "", r.address_family,
                               *a);
    if (!b.ok()) return Err{b.error()};
    self_iface = *a;
    other_iface = *b;
  }

  std::unique_ptr<Call> fresh;
  if (created) {
    fresh = std::make_unique<Call>();
    fresh->id = r.call_id;
    fresh->worker = pick_worker();
    fresh->created_ns = now.mono_ns;
    fresh->created_unix = now.unix_s;
    fresh->parties[0].iface = self_iface;
    fresh->parties[1].iface = other_iface;
    fresh->parties[0].created_unix = fresh->parties[1].created_unix = now.unix_s;
    c = fresh.get();
  }
  Party& a = c->parties[self];
  Party& b = c->parties[other];

  // Codec plans (transcoding) for each audio stream, when the request asks.
  std::vector<std::optional<CodecPlan>> plans(sdp.media.size());
  if (!(r.codec == CodecRequest{})) {
    for (size_t i = 0; i < sdp.media.size(); ++i) {
      if (!is_rtp_audio(sdp.media[i])) continue;
      auto plan = plan_offer(codecs_of(sdp.media[i]), r.codec, ptime_of(sdp.media[i]));
      if (!plan.ok()) return Err{plan.error()};
      plans[i] = std::move(*plan);
    }
  }

  // SRTP per m= line: the relay's answer to the offerer's keys and its own
  // offer to the other side (keys a re-offer did not change are kept).
  std::vector<SrtpOfferPlan> srtp(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    auto plan = plan_srtp_offer(sdp.media[i], r.transport_protocol, r.sdes,
                                i < a.media.size() ? &a.media[i] : nullptr,
                                i < b.media.size() ? &b.media[i] : nullptr);
    if (!plan.ok()) return Err{plan.error()};
    srtp[i] = std::move(*plan);
  }

  // Allocate what the new SDP needs, on copies, so failure changes nothing.
  std::vector<MediaSide> ma = a.media, mb = b.media;
  ma.resize(std::max(ma.size(), sdp.media.size()));
  mb.resize(std::max(mb.size(), sdp.media.size()));
  std::vector<MediaSide*> fresh_sides;
  bool exhausted = false;
  for (size_t i = 0; i < sdp.media.size() && !exhausted; ++i) {
    if (sdp.media[i].port == 0) continue;  // rejected: no ports needed
    for (MediaSide* m : {&ma[i], &mb[i]}) {
      Party& owner = m == &ma[i] ? a : b;
      if (m->rtp_port) continue;
      if (!allocate_side(*c, owner, *m)) {
        exhausted = true;
        break;
      }
      fresh_sides.push_back(m);
    }
  }
  if (exhausted) {
    for (MediaSide* m : fresh_sides) {
      plane_.release_port(m->rtp_handle);
      plane_.release_port(m->rtcp_handle);
      pools_[size_t(m >= ma.data() && m < ma.data() + ma.size() ? a.iface : b.iface)]
          .release_pair(m->rtp_port);
      free_flow_ids_[size_t(c->worker)].push_back(m->rtp_flow);
      free_flow_ids_[size_t(c->worker)].push_back(m->rtcp_flow);
    }
    ++stats_.port_exhaustions;
    return Err{std::string("Ran out of ports")};
  }

  // Commit.
  if (created) {
    calls_.emplace(r.call_id, std::move(fresh));
    ++calls_per_worker_[size_t(c->worker)];
    ++stats_.calls_created;
  }
  a.tag = r.from_tag;
  if (!r.to_tag.empty()) b.tag = r.to_tag;
  if (!r.from_label.empty() || !r.label.empty()) a.label = r.from_label.empty() ? r.label : r.from_label;
  if (!r.to_label.empty()) b.label = r.to_label;
  a.policy = r.policy;
  a.has_sdp = true;
  a.mux_accept = r.rtcp_mux_accept || r.rtcp_mux_demux || r.rtcp_mux_require;
  a.media = std::move(ma);
  b.media = std::move(mb);
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    learn_media(a.media[i], r, sdp, sdp.media[i]);
    MediaSide& peer = b.media[i];
    peer.type = sdp.media[i].type;
    peer.proto = srtp[i].proto;
    a.media[i].sdes_answer = std::move(srtp[i].answer);
    a.media[i].sdes_offer.clear();
    peer.sdes_offer = std::move(srtp[i].offer);
    peer.sdes_answer.reset();
    peer.rejected = a.media[i].rejected;
    peer.relay_offered_mux =
        !r.rtcp_mux_reject &&
        ((a.media[i].offered_mux && !r.rtcp_mux_demux) || r.rtcp_mux_offer || r.rtcp_mux_require);
    peer.offer_plan = std::move(plans[i]);
  }
  // Media sections beyond the new SDP (an m= line removed) keep their ports
  // until the call ends; RFC 3264 §8.2 says m= lines are never removed.
  c->last_signal_ns = now.mono_ns;
  c->last_signal_unix = now.unix_s;
  c->deleted = false;
  install_flows(*c, now.mono_ns);
  ++stats_.offers;

  // The offer as the other side sees it: its ports, rtcp-mux if we offer it.
  SdpRewrite rw = make_rewrite(r, sdp, config_.interfaces[size_t(b.iface)].advertised, b.media,
                               /*answer=*/false);
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    // The offerer's keys never reach the other side; it gets the relay's.
    rw.media[i].crypto = render_crypto(b.media[i].sdes_offer, r.sdes.pad);
    if (b.media[i].proto != sdp.media[i].proto) rw.media[i].proto = b.media[i].proto;
    if (!b.media[i].offer_plan) continue;
    rw.media[i].codecs = b.media[i].offer_plan->to_answerer;
    rw.media[i].ptime = b.media[i].offer_plan->answerer_sdp_ptime();
  }
  return SignalReply{render_sdp(sdp, rw), {}};
}

Result<SignalReply, std::string> CallManager::answer(const SignalRequest& r, Clock now) {
  auto it = calls_.find(r.call_id);
  if (it == calls_.end()) return Err{std::string("Unknown call-id")};
  Call& c = *it->second;
  int off = -1;
  for (int i = 0; i < 2; ++i)
    if (c.parties[i].tag == r.from_tag && c.parties[i].has_sdp) off = i;
  if (off < 0) return Err{std::string("Call-ID not found or tags didn't match")};
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return Err{std::string(to_string(parsed.error()))};
  const Sdp& sdp = *parsed;

  Party& a = c.parties[off];
  Party& b = c.parties[1 - off];

  // Codec plans and transcoders, made before anything changes.
  std::vector<std::optional<AnswerPlan>> plans(b.media.size());
  std::vector<StreamTranscoders> transcoders(b.media.size());
  for (size_t i = 0; i < b.media.size() && i < sdp.media.size(); ++i) {
    if (!b.media[i].offer_plan || !is_rtp_audio(sdp.media[i])) continue;
    auto plan = plan_answer(*b.media[i].offer_plan, codecs_of(sdp.media[i]), r.codec,
                            ptime_of(sdp.media[i]));
    if (!plan.ok()) return Err{plan.error()};
    StreamTranscoders& t = transcoders[i];
    for (auto [sp, slot, text] :
         {std::tuple{&plan->offerer_to_answerer, &t.offerer_to_answerer, &t.describe_ab},
          std::tuple{&plan->answerer_to_offerer, &t.answerer_to_offerer, &t.describe_ba}}) {
      if (!sp->transcode) continue;
      auto made = make_transcoder(*sp);
      if (!made.ok()) return Err{made.error()};
      *slot = std::move(*made);
      *text = describe(*sp);
    }
    plans[i] = std::move(*plan);
  }

  // SRTP: the answerer's keys and the protocol the offerer sees; new
  // contexts for each side whose keys change, made before anything changes.
  std::vector<SrtpAnswerPlan> srtp(b.media.size());
  std::vector<SideSrtp> srtp_a(b.media.size()), srtp_b(b.media.size());
  std::string warning;
  for (size_t i = 0; i < b.media.size() && i < a.media.size(); ++i) {
    const bool answered = i < sdp.media.size();
    if (answered) {
      auto plan = plan_srtp_answer(sdp.media[i], r.transport_protocol, a.media[i], b.media[i]);
      if (!plan.ok()) return Err{plan.error()};
      srtp[i] = std::move(*plan);
      if (warning.empty()) warning = srtp[i].warning;
    }
    const bool rejected = !answered || sdp.media[i].port == 0 || a.media[i].rejected;
    std::optional<SdesSession> keys_a, keys_b;
    if (!rejected && a.media[i].sdes_answer) keys_a = a.media[i].sdes_answer->session;
    if (!rejected) keys_b = srtp[i].answerer_keys;
    auto sa = prepare_srtp(a.media[i], std::move(keys_a));
    if (!sa.ok()) return Err{sa.error()};
    auto sb = prepare_srtp(b.media[i], std::move(keys_b));
    if (!sb.ok()) return Err{sb.error()};
    srtp_a[i] = std::move(*sa);
    srtp_b[i] = std::move(*sb);
  }

  // A different to-tag is another fork answering (183 from one branch,
  // 200 from another): the latest answer owns the callee side.
  if (!r.to_tag.empty()) b.tag = r.to_tag;
  if (!r.to_label.empty()) b.label = r.to_label;
  b.policy = r.policy;
  b.has_sdp = true;
  size_t n = std::min(sdp.media.size(), b.media.size());
  for (size_t i = 0; i < b.media.size(); ++i) {
    MediaSide& mb = b.media[i];
    MediaSide& ma = a.media[i];
    if (i >= n) {  // the answer lacks this m= line: treat as rejected
      mb.rejected = ma.rejected = true;
      continue;
    }
    bool offered = mb.relay_offered_mux;
    learn_media(mb, r, sdp, sdp.media[i]);
    mb.relay_offered_mux = offered;
    mb.uses_mux = offered && sdp.media[i].rtcp_mux;
    if (mb.rejected) ma.rejected = true;
    ma.uses_mux = ma.offered_mux && !ma.rejected && (mb.uses_mux || a.mux_accept);
  }
  c.answered = true;
  c.last_signal_ns = now.mono_ns;
  c.last_signal_unix = now.unix_s;
  install_flows(c, now.mono_ns);
  // Transcoders go in after the flows they belong to (same ring, in order).
  for (size_t i = 0; i < b.media.size(); ++i) {
    if (!plans[i] && !a.media[i].transcoder && !b.media[i].transcoder) continue;
    if (a.media[i].rejected || b.media[i].rejected) {
      set_transcoder(c, a.media[i], nullptr, "");
      set_transcoder(c, b.media[i], nullptr, "");
      continue;
    }
    set_transcoder(c, a.media[i], std::move(transcoders[i].offerer_to_answerer),
                   transcoders[i].describe_ab);
    set_transcoder(c, b.media[i], std::move(transcoders[i].answerer_to_offerer),
                   transcoders[i].describe_ba);
  }
  for (size_t i = 0; i < b.media.size() && i < a.media.size(); ++i) {
    set_srtp(c, a.media[i], std::move(srtp_a[i]));
    set_srtp(c, b.media[i], std::move(srtp_b[i]));
  }
  plane_.flush();
  ++stats_.answers;

  // The answer as the offerer sees it: its ports, rtcp-mux if accepted.
  SdpRewrite rw = make_rewrite(r, sdp, config_.interfaces[size_t(a.iface)].advertised, a.media,
                               /*answer=*/true);
  for (size_t i = 0; i < sdp.media.size() && i < plans.size(); ++i) {
    // The answerer's keys never reach the offerer; it gets the relay's.
    const MediaSide& ma = a.media[i];
    rw.media[i].crypto = ma.sdes_answer && !ma.rejected
                             ? render_crypto({ma.sdes_answer->line}, r.sdes.pad)
                             : std::vector<std::string>{};
    if (!srtp[i].proto.empty() && srtp[i].proto != sdp.media[i].proto)
      rw.media[i].proto = srtp[i].proto;
    if (!plans[i]) continue;
    rw.media[i].codecs = plans[i]->to_offerer;
    rw.media[i].ptime = plans[i]->offerer_sdp_ptime;
  }
  return SignalReply{render_sdp(sdp, rw), std::move(warning)};
}

Result<const Call*, std::string> CallManager::remove(const std::string& call_id,
                                                     const std::string& from_tag,
                                                     const std::string& to_tag, int delay_s,
                                                     Clock now) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return Err{std::string("Unknown call-id")};
  Call& c = *it->second;
  auto known = [&](const std::string& t) {
    return t.empty() || c.parties[0].tag == t || c.parties[1].tag == t;
  };
  if (!known(from_tag) || !known(to_tag))
    return Err{std::string("Call-ID not found or tags didn't match")};
  if (delay_s < 0) delay_s = config_.delete_delay_s;
  c.deleted = true;
  c.deleted_reason = "deleted";
  c.delete_at_ns = now.mono_ns + int64_t(delay_s) * kNsPerSec;
  c.last_signal_ns = now.mono_ns;
  c.last_signal_unix = now.unix_s;
  ++stats_.deletes;
  return static_cast<const Call*>(&c);
}

void CallManager::destroy(Call& c) {
  for (Party& p : c.parties)
    for (MediaSide& m : p.media) release_side(c, p, m);
  if (calls_per_worker_[size_t(c.worker)] > 0) --calls_per_worker_[size_t(c.worker)];
}

size_t CallManager::tick(Clock now) {
  std::vector<std::string> doomed;
  for (auto& [id, cp] : calls_) {
    Call& c = *cp;
    int64_t age = now.mono_ns - c.created_ns;
    bool expire = false;
    if (c.deleted) {
      expire = now.mono_ns >= c.delete_at_ns;
    } else if (config_.final_timeout_s > 0 && age > config_.final_timeout_s * kNsPerSec) {
      expire = true;
    } else if (!c.answered) {
      expire = config_.offer_timeout_s > 0 && age > config_.offer_timeout_s * kNsPerSec;
    } else {
      bool hold = false;
      for (const Party& p : c.parties)
        for (const MediaSide& m : p.media)
          hold |= m.direction != MediaDirection::kSendRecv || (!m.rejected && !m.sdp_rtp.port);
      int64_t last = std::max(c.last_signal_ns, last_media_ns(c, now.mono_ns));
      int64_t limit = int64_t(hold ? config_.silent_timeout_s : config_.timeout_s) * kNsPerSec;
      expire = limit > 0 && now.mono_ns - last > limit;
    }
    if (!expire) continue;
    if (!c.deleted) ++stats_.calls_timed_out;
    doomed.push_back(id);
  }
  for (const auto& id : doomed) {
    auto it = calls_.find(id);
    destroy(*it->second);
    calls_.erase(it);
    ++stats_.calls_deleted;
  }
  if (!doomed.empty()) plane_.flush();
  return doomed.size();
}

}  // namespace vox::control
