// CallManager's media-side resources: port pairs and flow ids per worker,
// the flows pushed to the owning worker, and the transcoder and SRTP slots
// handed to it; and the counters read back from those flows. The
// offer/answer state machine that drives them is in call_manager.cc.
#include <algorithm>

#include "control/call_manager.h"

namespace vox::control {

namespace {

std::optional<codecs::AudioCodec> audio_codec(CodecKind k) {
  switch (k) {
    case CodecKind::kPcmu: return codecs::AudioCodec::kPcmu;
    case CodecKind::kPcma: return codecs::AudioCodec::kPcma;
    case CodecKind::kOpus: return codecs::AudioCodec::kOpus;
    default: return std::nullopt;
  }
}

// One flow's contexts: unprotect what the party sends with its key, protect
// what the relay sends it with the relay's.
Result<std::unique_ptr<dataplane::SrtpSlot>, NgError> make_srtp_slot(const SdesSession& k) {
  auto slot = std::make_unique<dataplane::SrtpSlot>();
  auto in = dataplane::SrtpStream::create(k.inbound, dataplane::SrtpDirection::kInbound);
  if (!in.ok()) return ng_fail(NgErrc::kSrtpSetup, dataplane::to_string(in.error()));
  auto out = dataplane::SrtpStream::create(k.outbound, dataplane::SrtpDirection::kOutbound);
  if (!out.ok()) return ng_fail(NgErrc::kSrtpSetup, dataplane::to_string(out.error()));
  slot->inbound.emplace(std::move(*in));
  slot->outbound.emplace(std::move(*out));
  return slot;
}

}  // namespace

Result<std::unique_ptr<dataplane::TranscodeSlot>, NgError> CallManager::make_transcoder(
    const StreamPlan& p) {
  auto in = audio_codec(p.in_kind), out = audio_codec(p.out_kind);
  if (!in || !out)
    return ng_fail(NgErrc::kCannotTranscode, p.in.rtpmap() + " to " + p.out.rtpmap());
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
  if (!t.ok()) return ng_fail(NgErrc::kTranscoderSetup, codecs::to_string(t.error()));
  auto slot = std::make_unique<dataplane::TranscodeSlot>(std::move(*t));
  slot->rtcp_interval_ns = int64_t(config_.rtcp_interval_ms) * 1'000'000;
  return slot;
}

void CallManager::retire_transcoder(MediaSide& m) {
  if (!m.transcoder) return;
  for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i)
    stats_.transcode_ended[i] += m.transcoder->get(dataplane::TranscodeCounter(i));
  m.transcoder = nullptr;
  m.transcode_description.clear();
  m.transcode_plan.reset();
}

void CallManager::set_transcoder(Call& c, MediaSide& m, std::unique_ptr<dataplane::TranscodeSlot> slot,
                                 const StreamPlan* plan) {
  const std::string description = plan && slot ? describe(*plan) : "";
  if (m.transcoder && slot && description == m.transcode_description) return;  // keep it running
  if (!m.transcoder && !slot) return;
  retire_transcoder(m);
  dataplane::FlowCommand cmd;
  cmd.type = dataplane::CommandType::kSetTranscode;
  cmd.id = m.rtp_flow;
  if (slot) {
    m.transcoder = slot.get();
    m.transcode_description = description;
    m.transcode_plan = *plan;
    ++stats_.transcoded_streams;
  }
  cmd.transcode = slot.release();  // the worker owns it now
  plane_.post(c.worker, cmd);
}

Result<CallManager::SideSrtp, NgError> CallManager::prepare_srtp(
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

void CallManager::install_answer_media(Call& c, Party& a, Party& b, AnswerMedia& m) {
  // Transcoders go in after the flows they belong to (same ring, in order).
  for (size_t i = 0; i < b.media.size(); ++i) {
    if (!m.plans[i] && !a.media[i].transcoder && !b.media[i].transcoder) continue;
    if (a.media[i].rejected || b.media[i].rejected) {
      set_transcoder(c, a.media[i], nullptr, nullptr);
      set_transcoder(c, b.media[i], nullptr, nullptr);
      continue;
    }
    StreamTranscoders& t = m.transcoders[i];
    const AnswerPlan* plan = m.plans[i] ? &*m.plans[i] : nullptr;
    set_transcoder(c, a.media[i], std::move(t.offerer_to_answerer), plan ? &plan->offerer_to_answerer : nullptr);
    set_transcoder(c, b.media[i], std::move(t.answerer_to_offerer), plan ? &plan->answerer_to_offerer : nullptr);
  }
  for (size_t i = 0; i < b.media.size() && i < a.media.size(); ++i) {
    set_srtp(c, a.media[i], std::move(m.srtp_a[i]));
    set_srtp(c, b.media[i], std::move(m.srtp_b[i]));
  }
  plane_.flush();
}

size_t CallManager::free_port_pairs() const {
  size_t n = 0;
  for (size_t i = 0; i < pools_.size(); ++i) n += free_port_pairs(i);
  return n;
}

size_t CallManager::free_port_pairs(size_t iface) const {
  size_t n = 0;
  for (int w = 0; w < plane_.workers(); ++w) n += pools_[iface].free_pairs(w);
  return n;
}

TranscodeTotals CallManager::transcode_totals() const {
  TranscodeTotals t;
  for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i) t.counters[i] = stats_.transcode_ended[i];
  for (const auto& [id, c] : calls_) {
    if (c->deleted) continue;
    for (const Party& p : c->parties)
      for (const MediaSide& m : p.media)
        if (m.transcoder) {
          ++t.active;
          for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i)
            t.counters[i] += m.transcoder->get(dataplane::TranscodeCounter(i));
        }
  }
  return t;
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
  const auto add_party = [&](const Party& p) {
    for (const MediaSide& m : p.media) {
      add(m.rtp_flow, false);
      add(m.rtcp_flow, true);
    }
  };
  for (const Party& p : c.parties) add_party(p);
  for (const Party& p : c.branches) add_party(p);
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

FlowId CallManager::take_flow_id(int w) {
  auto& ids = free_flow_ids_[size_t(w)];
  if (ids.empty()) return kNoFlow;
  FlowId id = ids.back();
  ids.pop_back();
  return id;
}

bool CallManager::allocate_side(Call& c, Party& p, MediaSide& m) {
  if (m.rtp_port) return true;
  if (free_flow_ids_[size_t(c.worker)].size() < 2) return false;
  PortPool& pool = pools_[size_t(p.iface)];
  // Ports held by other processes are skipped (and retried later).
  for (size_t attempt = 0; attempt < pool.free_pairs(c.worker); ++attempt) {
    auto port = pool.allocate_pair(c.worker);
    if (!port) return false;
    if (bind_side(c, p, m, *port)) return true;
    pool.release_pair(*port);
  }
  return false;
}

bool CallManager::bind_side(Call& c, const Party& p, MediaSide& m, uint16_t port) {
  const auto iface = uint16_t(p.iface);
  auto rtp = plane_.bind_port(dataplane::make_local_key(iface, port));
  if (!rtp.ok()) return false;
  auto rtcp = plane_.bind_port(dataplane::make_local_key(iface, uint16_t(port + 1)));
  if (!rtcp.ok()) {
    plane_.release_port(*rtp);
    return false;
  }
  m.rtp_port = port;
  m.rtp_handle = *rtp;
  m.rtcp_handle = *rtcp;
  m.rtp_flow = take_flow_id(c.worker);
  m.rtcp_flow = take_flow_id(c.worker);
  return true;
}

bool CallManager::allocate_media(Call& c, Party& a, Party& b, const Sdp& sdp,
                                 const std::vector<bool>& skip, std::vector<MediaSide>& ma,
                                 std::vector<MediaSide>& mb) {
  ma.resize(std::max(ma.size(), sdp.media.size()));
  mb.resize(std::max(mb.size(), sdp.media.size()));
  std::vector<std::pair<Party*, MediaSide*>> taken;
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    if (sdp.media[i].port == 0 || (i < skip.size() && skip[i])) continue;  // rejected: no ports needed
    for (auto [p, m] : {std::pair{&a, &ma[i]}, std::pair{&b, &mb[i]}}) {
      if (m->rtp_port) continue;
      if (!allocate_side(c, *p, *m)) {
        for (auto [tp, tm] : taken) release_side(c, *tp, *tm);
        return false;
      }
      taken.emplace_back(p, m);
    }
  }
  return true;
}

void CallManager::release_side(Call& c, Party& p, MediaSide& m) {
  if (!m.rtp_port) return;
  drop_leg(m);
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

void CallManager::apply_tos(Call& c, int request) {
  if (request == SignalRequest::kTosKeep) request = c.tos ? int(*c.tos) : SignalRequest::kTosDefault;
  const std::optional<uint8_t> tos =
      request >= 0 ? std::optional<uint8_t>(uint8_t(request)) : std::nullopt;
  // New ports start on --tos: a call without a TOS of its own has nothing to set.
  if (!tos && !c.tos) return;
  c.tos = tos;
  const auto set = [&](const Party& p) {
    for (const MediaSide& m : p.media)
      if (m.rtp_port) {
        plane_.set_port_tos(m.rtp_handle.key, tos);
        plane_.set_port_tos(m.rtcp_handle.key, tos);
      }
  };
  for (const Party& p : c.parties) set(p);
  for (const Party& p : c.branches) set(p);
}

void CallManager::install_flows(Call& c, int64_t now_ns) {
  const int64_t latch_until_ns = now_ns + int64_t(config_.latch_window_ms) * 1000000;
  size_t n = std::max(c.parties[0].media.size(), c.parties[1].media.size());
  for (size_t i = 0; i < n; ++i) install_stream_flows(c, i, latch_until_ns);
  plane_.flush();
}

void CallManager::install_stream_flows(Call& c, size_t i, int64_t latch_until_ns) {
  for (int s = 0; s < 2; ++s) {
    Party& px = c.parties[s];
    Party& py = c.parties[1 - s];
    if (i >= px.media.size() || !px.media[i].rtp_port) continue;
    const MediaSide* y = i < py.media.size() && py.media[i].rtp_port ? &py.media[i] : nullptr;
    install_side_flows(c, px, px.media[i], y, latch_until_ns);
  }
}

void CallManager::park_flows(Call& c, Party& p) {
  for (MediaSide& m : p.media)
    if (m.installed) install_side_flows(c, p, m, nullptr, 0);
}

void CallManager::install_side_flows(Call& c, const Party& px, MediaSide& x, const MediaSide* y,
                                     int64_t latch_until_ns) {
  // DTLS-SRTP toward a side not connected yet: no keys, so no media either
  // way on this stream (RFC 5763 §5: SRTP only once the handshake is done).
  auto waiting = [](const MediaSide* m) { return m && m->dtls.enabled && !m->dtls.connected; };
  uint16_t flags = 0;
  if (px.policy.asymmetric) flags |= dataplane::kFlowAsymmetric;
  if (px.policy.strict_source) flags |= dataplane::kFlowStrictSource;
  if (px.policy.media_handover) flags |= dataplane::kFlowMediaHandover;
  if (y && !x.rejected && !y->rejected && !waiting(&x) && !waiting(y))
    flags |= dataplane::kFlowEnabled;
  // RTCP feedback from an AVPF party (a browser) is not for a party that
  // negotiated AVP (a trunk): the dataplane strips it on the way there.
  if (y && x.proto.find("RTP/") != std::string::npos && !has_feedback(x.proto) &&
      has_feedback(y->proto))
    flags |= dataplane::kFlowNoFeedback;
  // An ICE party is sent to at its nominated address only (RFC 8445
  // §12: media goes over the selected pair), never where a packet came
  // from; before nomination, nowhere (port 0).
  Endpoint rtp_dest = x.sdp_rtp, rtcp_dest = x.uses_mux ? x.sdp_rtp : x.sdp_rtcp;
  if (x.ice.enabled) {
    flags |= dataplane::kFlowAsymmetric;
    rtp_dest = x.ice_peer;
    rtcp_dest = x.uses_mux ? x.ice_peer : x.ice_peer_rtcp;
  }

  dataplane::FlowCommand cmd;
  cmd.type = x.installed ? dataplane::CommandType::kUpdateFlow : dataplane::CommandType::kAddFlow;
  cmd.reset_latch = x.reset_latch;
  auto& h = cmd.state;
  h.egress_rtp = y ? y->rtp_flow : kNoFlow;
  h.egress_rtcp = y ? (y->uses_mux ? y->rtp_flow : y->rtcp_flow) : kNoFlow;
  h.latch_until_ns = latch_until_ns;
  // This party's payload types first, then those of the SDP it was sent.
  cmd.clocks = x.clocks;
  if (y)
    for (uint8_t k = 0; k < y->clocks.count; ++k) cmd.clocks.add(y->clocks.pt[k], y->clocks.rate[k]);

  // A restored side's flows start latched where they were (ha/).
  const auto latched = [&](const Endpoint& e) {
    h.latched = !x.installed && e.port != 0;
    h.source = h.latched ? e : Endpoint{};
  };
  cmd.id = x.rtp_flow;
  h.key = x.rtp_handle.key;
  h.flags = flags;
  h.sdp_source = rtp_dest;
  latched(x.latched_rtp);
  plane_.post(c.worker, cmd);

  cmd.id = x.rtcp_flow;
  h.key = x.rtcp_handle.key;
  h.flags = flags | dataplane::kFlowRtcpPort;
  h.sdp_source = rtcp_dest;
  latched(x.latched_rtcp);
  plane_.post(c.worker, cmd);

  x.installed = true;
  x.reset_latch = false;
}

}  // namespace vox::control
