// CallManager's offer/answer state machine: the call table, offer, answer,
// delete and timeouts. See call_manager.h for the contract (validate first,
// then change); the media-side resources it uses are in call_media.cc.
#include "control/call_manager.h"

#include <sys/socket.h>

#include <algorithm>
#include <tuple>

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

// The transcoder's description in `query`.
std::string describe(const StreamPlan& p) {
  return p.in.rtpmap() + " pt " + std::to_string(p.in.payload_type) + " " +
         std::to_string(p.in_ptime_ms) + " ms -> " + p.out.rtpmap() + " pt " +
         std::to_string(p.out.payload_type) + " " + std::to_string(p.out_ptime_ms) +
         " ms, events " + std::to_string(p.in_event_pt) + " -> " + std::to_string(p.out_event_pt);
}

// Codec plans (transcoding) for each audio stream, when the request asks.
Result<std::vector<std::optional<CodecPlan>>, NgError> plan_offer_codecs(const SignalRequest& r,
                                                                         const Sdp& sdp) {
  std::vector<std::optional<CodecPlan>> plans(sdp.media.size());
  if (r.codec == CodecRequest{}) return plans;
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    if (!is_rtp_audio(sdp.media[i])) continue;
    auto plan = plan_offer(codecs_of(sdp.media[i]), r.codec, ptime_of(sdp.media[i]));
    if (!plan.ok()) return ng_fail(NgErrc::kCodec, plan.error());
    plans[i] = std::move(*plan);
  }
  return plans;
}

// SRTP per m= line: the relay's answer to the offerer's keys and its own
// offer to the other side (keys a re-offer did not change are kept).
Result<std::vector<SrtpOfferPlan>, NgError> plan_offer_srtp(const SignalRequest& r, const Sdp& sdp,
                                                            const Party& a, const Party& b) {
  std::vector<SrtpOfferPlan> srtp(sdp.media.size());
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    auto plan = plan_srtp_offer(sdp.media[i], r.transport_protocol, r.sdes,
                                i < a.media.size() ? &a.media[i] : nullptr,
                                i < b.media.size() ? &b.media[i] : nullptr);
    if (!plan.ok()) return ng_fail(NgErrc::kSrtp, plan.error());
    srtp[i] = std::move(*plan);
  }
  return srtp;
}

// What an offer from `a` teaches both parties: a's tag, policy and media
// (its new sides `ma`), and what the relay offers b on each stream.
void learn_offer(const SignalRequest& r, const Sdp& sdp, Party& a, Party& b,
                 std::vector<MediaSide> ma, std::vector<MediaSide> mb,
                 std::vector<SrtpOfferPlan>& srtp, std::vector<std::optional<CodecPlan>>& plans) {
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
}

// The offer as the other side (b) sees it: its ports, rtcp-mux if we offer it.
std::string render_offer(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                         const Party& b) {
  SdpRewrite rw = make_rewrite(r, sdp, address, b.media, /*answer=*/false);
  for (size_t i = 0; i < sdp.media.size(); ++i) {
    // The offerer's keys never reach the other side; it gets the relay's.
    rw.media[i].crypto = render_crypto(b.media[i].sdes_offer, r.sdes.pad);
    if (b.media[i].proto != sdp.media[i].proto) rw.media[i].proto = b.media[i].proto;
    if (!b.media[i].offer_plan) continue;
    rw.media[i].codecs = b.media[i].offer_plan->to_answerer;
    rw.media[i].ptime = b.media[i].offer_plan->answerer_sdp_ptime();
  }
  return render_sdp(sdp, rw);
}

// What an answer from b teaches both parties: b's tag, policy and media,
// which streams are rejected, and where RTCP is muxed.
void learn_answer(const SignalRequest& r, const Sdp& sdp, Party& a, Party& b) {
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
}

// The answer as the offerer (a) sees it: its ports, rtcp-mux if accepted.
std::string render_answer(const SignalRequest& r, const Sdp& sdp, const IpAddr& address,
                          const Party& a, const std::vector<std::optional<AnswerPlan>>& plans,
                          const std::vector<SrtpAnswerPlan>& srtp) {
  SdpRewrite rw = make_rewrite(r, sdp, address, a.media, /*answer=*/true);
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
  return render_sdp(sdp, rw);
}

}  // namespace

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

Result<int, NgError> CallManager::resolve_interface(const std::string& name,
                                                    std::optional<int> family, int fallback) const {
  if (name.empty() && !family) return fallback;
  for (size_t i = 0; i < config_.interfaces.size(); ++i) {
    const auto& itf = config_.interfaces[i];
    if (!name.empty() && itf.name != name) continue;
    if (family && (*family == AF_INET) != itf.local.is_v4()) continue;
    return int(i);
  }
  if (name.empty()) return ng_fail(NgErrc::kNoInterfaceForFamily);
  return ng_fail(NgErrc::kUnknownInterface, name);
}

int CallManager::pick_worker() {
  // Least-loaded worker by call count: calls are long-lived and similar.
  return int(std::min_element(calls_per_worker_.begin(), calls_per_worker_.end()) -
             calls_per_worker_.begin());
}

Result<std::unique_ptr<Call>, NgError> CallManager::new_call(const SignalRequest& r, Clock now) {
  if (config_.max_sessions > 0 && active_count() >= size_t(config_.max_sessions))
    return ng_fail(NgErrc::kSessionLimit);
  // Interfaces are chosen when the call is created; re-offers keep them.
  auto a = resolve_interface(r.direction.size() > 0 ? r.direction[0] : "", r.address_family, 0);
  if (!a.ok()) return Err{a.error()};
  auto b = resolve_interface(r.direction.size() > 1 ? r.direction[1] : "", r.address_family, *a);
  if (!b.ok()) return Err{b.error()};
  auto c = std::make_unique<Call>();
  c->id = r.call_id;
  c->worker = pick_worker();
  c->created_ns = now.mono_ns;
  c->created_unix = now.unix_s;
  c->parties[0].iface = *a;
  c->parties[1].iface = *b;
  c->parties[0].created_unix = c->parties[1].created_unix = now.unix_s;
  return c;
}

Result<SignalReply, NgError> CallManager::offer(const SignalRequest& r, Clock now) {
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return ng_fail(NgErrc::kSdp, to_string(parsed.error()));
  const Sdp& sdp = *parsed;

  std::unique_ptr<Call> fresh;
  Call* c = nullptr;
  if (auto it = calls_.find(r.call_id); it != calls_.end()) {
    c = it->second.get();
  } else {
    auto made = new_call(r, now);
    if (!made.ok()) return Err{made.error()};
    fresh = std::move(*made);
    c = fresh.get();
  }
  // A re-offer from the callee side comes from parties[1].
  const int self = !fresh && c->parties[1].tag == r.from_tag && !r.from_tag.empty() ? 1 : 0;
  Party& a = c->parties[self];
  Party& b = c->parties[1 - self];

  auto plans = plan_offer_codecs(r, sdp);
  if (!plans.ok()) return Err{plans.error()};
  auto srtp = plan_offer_srtp(r, sdp, a, b);
  if (!srtp.ok()) return Err{srtp.error()};
  // Allocate what the new SDP needs, on copies, so failure changes nothing.
  std::vector<MediaSide> ma = a.media, mb = b.media;
  if (!allocate_media(*c, a, b, sdp, ma, mb)) {
    ++stats_.port_exhaustions;
    return ng_fail(NgErrc::kOutOfPorts);
  }

  // Commit.
  if (fresh) {
    calls_.emplace(r.call_id, std::move(fresh));
    ++calls_per_worker_[size_t(c->worker)];
    ++stats_.calls_created;
  }
  learn_offer(r, sdp, a, b, std::move(ma), std::move(mb), *srtp, *plans);
  c->last_signal_ns = now.mono_ns;
  c->last_signal_unix = now.unix_s;
  c->deleted = false;
  install_flows(*c, now.mono_ns);
  ++stats_.offers;
  return SignalReply{render_offer(r, sdp, config_.interfaces[size_t(b.iface)].advertised, b), {}};
}

std::optional<NgError> CallManager::prepare_answer_codecs(const SignalRequest& r, const Sdp& sdp,
                                                          const Party& b, AnswerMedia& m) {
  m.plans.resize(b.media.size());
  m.transcoders.resize(b.media.size());
  for (size_t i = 0; i < b.media.size() && i < sdp.media.size(); ++i) {
    if (!b.media[i].offer_plan || !is_rtp_audio(sdp.media[i])) continue;
    auto plan = plan_answer(*b.media[i].offer_plan, codecs_of(sdp.media[i]), r.codec,
                            ptime_of(sdp.media[i]));
    if (!plan.ok()) return NgError{NgErrc::kCodec, plan.error()};
    StreamTranscoders& t = m.transcoders[i];
    for (auto [sp, slot, text] :
         {std::tuple{&plan->offerer_to_answerer, &t.offerer_to_answerer, &t.describe_ab},
          std::tuple{&plan->answerer_to_offerer, &t.answerer_to_offerer, &t.describe_ba}}) {
      if (!sp->transcode) continue;
      auto made = make_transcoder(*sp);
      if (!made.ok()) return made.error();
      *slot = std::move(*made);
      *text = describe(*sp);
    }
    m.plans[i] = std::move(*plan);
  }
  return std::nullopt;
}

std::optional<NgError> CallManager::prepare_answer_srtp(const SignalRequest& r, const Sdp& sdp,
                                                        const Party& a, const Party& b,
                                                        AnswerMedia& m) {
  // The answerer's keys and the protocol the offerer sees; new contexts for
  // each side whose keys change.
  m.srtp.resize(b.media.size());
  m.srtp_a.resize(b.media.size());
  m.srtp_b.resize(b.media.size());
  for (size_t i = 0; i < b.media.size() && i < a.media.size(); ++i) {
    const bool answered = i < sdp.media.size();
    if (answered) {
      auto plan = plan_srtp_answer(sdp.media[i], r.transport_protocol, a.media[i], b.media[i]);
      if (!plan.ok()) return NgError{NgErrc::kSrtp, plan.error()};
      m.srtp[i] = std::move(*plan);
      if (m.warning.empty()) m.warning = m.srtp[i].warning;
    }
    const bool rejected = !answered || sdp.media[i].port == 0 || a.media[i].rejected;
    std::optional<SdesSession> keys_a, keys_b;
    if (!rejected && a.media[i].sdes_answer) keys_a = a.media[i].sdes_answer->session;
    if (!rejected) keys_b = m.srtp[i].answerer_keys;
    auto sa = prepare_srtp(a.media[i], std::move(keys_a));
    if (!sa.ok()) return sa.error();
    auto sb = prepare_srtp(b.media[i], std::move(keys_b));
    if (!sb.ok()) return sb.error();
    m.srtp_a[i] = std::move(*sa);
    m.srtp_b[i] = std::move(*sb);
  }
  return std::nullopt;
}

Result<SignalReply, NgError> CallManager::answer(const SignalRequest& r, Clock now) {
  auto it = calls_.find(r.call_id);
  if (it == calls_.end()) return ng_fail(NgErrc::kUnknownCallId);
  Call& c = *it->second;
  int off = -1;
  for (int i = 0; i < 2; ++i)
    if (c.parties[i].tag == r.from_tag && c.parties[i].has_sdp) off = i;
  if (off < 0) return ng_fail(NgErrc::kTagsMismatch);
  auto parsed = parse_sdp(r.sdp);
  if (!parsed.ok()) return ng_fail(NgErrc::kSdp, to_string(parsed.error()));
  const Sdp& sdp = *parsed;
  Party& a = c.parties[off];
  Party& b = c.parties[1 - off];

  AnswerMedia m;  // made before anything changes
  if (auto e = prepare_answer_codecs(r, sdp, b, m)) return Err{*e};
  if (auto e = prepare_answer_srtp(r, sdp, a, b, m)) return Err{*e};

  learn_answer(r, sdp, a, b);
  c.answered = true;
  c.last_signal_ns = now.mono_ns;
  c.last_signal_unix = now.unix_s;
  install_flows(c, now.mono_ns);
  install_answer_media(c, a, b, m);
  ++stats_.answers;
  const IpAddr& address = config_.interfaces[size_t(a.iface)].advertised;
  return SignalReply{render_answer(r, sdp, address, a, m.plans, m.srtp), std::move(m.warning)};
}

Result<const Call*, NgError> CallManager::remove(const std::string& call_id,
                                                 const std::string& from_tag,
                                                 const std::string& to_tag, int delay_s,
                                                 Clock now) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return ng_fail(NgErrc::kUnknownCallId);
  Call& c = *it->second;
  auto known = [&](const std::string& t) {
    return t.empty() || c.parties[0].tag == t || c.parties[1].tag == t;
  };
  if (!known(from_tag) || !known(to_tag))
    return ng_fail(NgErrc::kTagsMismatch);
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
