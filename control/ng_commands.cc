// NG command handlers. Key and flag spellings follow rtpengine's
// ng_control_protocol.md: spaces, hyphens and underscores are equivalent.
// Offers and answers are read by control/ng_request.h.
#include "control/ng_commands.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "control/loop_protect.h"
#include "control/ng_request.h"
#include "control/ng_webrtc.h"

namespace vox::control {

namespace {

using dataplane::DropReason;
using dataplane::kDropReasonCount;

// {reason: count} for every named drop reason.
NgValue drops_value(const uint64_t (&counts)[kDropReasonCount]) {
  NgValue drops = NgValue::dict();
  for (size_t r = 0; r < kDropReasonCount; ++r)
    drops.set(dataplane::to_string(DropReason(r)), int64_t(counts[r]));
  return drops;
}

NgValue flow_stats(const dataplane::FlowSnapshot& f) {
  NgValue s = NgValue::dict();
  s.set("packets", int64_t(f.packets));
  s.set("bytes", int64_t(f.bytes));
  s.set("errors", int64_t(f.errors()));
  s.set("drops", drops_value(f.drops));
  return s;
}

// A stream's quality in NG integers: microseconds, and MOS * 10 as
// rtpengine writes it (43 is 4.3).
NgValue quality_value(const StreamQuality& q) {
  NgValue v = NgValue::dict();
  v.set("received", int64_t(q.received));
  v.set("expected", int64_t(q.expected));
  v.set("lost", int64_t(q.lost));
  v.set("jitter us", int64_t(q.jitter_ms * 1000));
  if (q.rtt_ms) v.set("rtt us", int64_t(*q.rtt_ms * 1000));
  if (q.received) v.set("MOS", int64_t(q.mos * 10 + 0.5));
  if (q.reported) {
    NgValue r = NgValue::dict();
    r.set("fraction lost", int64_t(q.reported->fraction_lost * 256 + 0.5));
    r.set("cumulative lost", int64_t(q.reported->cumulative_lost));
    r.set("jitter us", int64_t(q.reported->jitter_ms * 1000));
    if (q.reported->xr_mos) r.set("MOS XR", int64_t(*q.reported->xr_mos * 10 + 0.5));
    v.set("reported", std::move(r));
  }
  return v;
}

// rtpengine's MOS entry: MOS * 10, round trip in µs, jitter in ms, loss in
// percent (Kamailio's rtpengine module reads these into mos_* variables).
NgValue mos_entry(const MosSample& s, int64_t samples) {
  NgValue v = NgValue::dict();
  v.set("MOS", int64_t(s.mos * 10 + 0.5));
  v.set("round-trip time", int64_t(s.rtt_ms * 1000));
  v.set("jitter", int64_t(s.jitter_ms + 0.5));
  v.set("packet loss", int64_t(s.loss * 100 + 0.5));
  if (samples) v.set("samples", samples);
  else v.set("reported at", s.at_unix);
  return v;
}

// rtpengine's "SSRC" dictionary: per SSRC received, its counters and MOS
// over the call (each stream's last source; an earlier one's figures are
// in its stream's).
NgValue ssrc_value(CallManager& cm, const Call& c) {
  NgValue all = NgValue::dict();
  for (const Party& p : c.parties)
    for (const MediaSide& m : p.media) {
      if (!m.rtp_port) continue;
      const StreamQuality q = cm.stream_quality(c, m);
      if (!q.received) continue;
      const dataplane::FlowSnapshot f = cm.flow_counters(c, m.rtp_flow);
      NgValue e = NgValue::dict();
      e.set("bytes", int64_t(f.bytes));  // the flow's (RTCP too, with rtcp-mux)
      e.set("packets", int64_t(q.received));  // RTP
      e.set("cumulative loss", int64_t(q.lost));
      const QualityTrack& t = m.quality;
      if (t.samples) {
        e.set("average MOS", mos_entry(t.average(), t.samples));
        e.set("lowest MOS", mos_entry(*t.lowest, 0));
        e.set("highest MOS", mos_entry(*t.highest, 0));
      }
      all.set(std::to_string(q.ssrc), std::move(e));
    }
  return all;
}

NgValue stream_value(CallManager& cm, const Call& c, const Party& p, const MediaSide& m,
                     bool rtcp, CallManager::Clock now) {
  NgValue s = NgValue::dict();
  const auto& itf = cm.config().interfaces[size_t(p.iface)];
  uint16_t port = m.rtp_port ? uint16_t(m.rtp_port + (rtcp ? 1 : 0)) : 0;
  s.set("local port", int64_t(port));
  s.set("local address", itf.local.to_string());
  s.set("advertised address", itf.advertised.to_string());
  const dataplane::FlowSnapshot f = cm.flow_counters(c, rtcp ? m.rtcp_flow : m.rtp_flow);
  const Endpoint latched = f.latched;
  s.set("endpoint", endpoint_value(latched.valid() ? latched : (rtcp ? m.sdp_rtcp : m.sdp_rtp)));
  s.set("advertised endpoint", endpoint_value(rtcp ? m.sdp_rtcp : m.sdp_rtp));
  NgValue flags = NgValue::list();
  flags.push(NgValue::str(rtcp ? "RTCP" : "RTP"));
  if (latched.valid()) flags.push(NgValue::str("confirmed"));
  if (m.uses_mux) flags.push(NgValue::str("RTCP-mux"));
  s.set("flags", std::move(flags));
  // rtpengine's key: the suite in effect on this flow (SDES: one suite for
  // both directions; per direction in the media's "SRTP").
  if (m.srtp)
    s.set("crypto suite", std::string(dataplane::srtp_suite_info(m.srtp->inbound.suite).name));
  if (!rtcp && cm.legs()) add_webrtc_stream(s, *cm.legs(), m);
  const int64_t last = cm.last_packet_ns(c, m, rtcp, now.mono_ns);
  s.set("last packet", last ? now.unix_s - (now.mono_ns - last) / 1000000000 : int64_t(0));
  s.set("stats", flow_stats(f));
  if (!rtcp) {
    const StreamQuality q = cm.stream_quality(c, m);
    if (q.received) s.set("SSRC", int64_t(q.ssrc));  // what rtpengine's SSRC dictionary is keyed by
    s.set("quality", quality_value(q));
  }
  return s;
}

// {counter: value} of a transcoder (or of totals), by TranscodeCounter.
template <class Get>
NgValue transcode_value(Get get) {
  NgValue v = NgValue::dict();
  for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i) {
    const auto k = dataplane::TranscodeCounter(i);
    v.set(dataplane::to_string(k), int64_t(get(k)));
  }
  return v;
}

NgValue totals_value(const CallTotals& t) {
  NgValue tot = NgValue::dict();
  NgValue rtp = NgValue::dict();
  rtp.set("packets", int64_t(t.rtp_packets));
  rtp.set("bytes", int64_t(t.rtp_bytes));
  rtp.set("errors", int64_t(t.errors));
  NgValue rtcp = NgValue::dict();
  rtcp.set("packets", int64_t(t.rtcp_packets));
  rtcp.set("bytes", int64_t(t.rtcp_bytes));
  rtcp.set("errors", int64_t(0));
  tot.set("RTP", std::move(rtp));
  tot.set("RTCP", std::move(rtcp));
  return tot;
}

NgValue call_value(CallManager& cm, const Call& c, CallManager::Clock now) {
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  v.set("created", c.created_unix);
  v.set("last signal", c.last_signal_unix);
  NgValue tags = NgValue::dict();
  // Both parties, then the parked branches of a forked call (in dialogue
  // with nobody until one answers).
  std::vector<std::pair<const Party*, const Party*>> listed = {{&c.parties[0], &c.parties[1]},
                                                               {&c.parties[1], &c.parties[0]}};
  for (const Party& b : c.branches) listed.emplace_back(&b, nullptr);
  for (auto [pp, o] : listed) {
    const Party& p = *pp;
    NgValue t = NgValue::dict();
    t.set("tag", p.tag);
    if (!p.label.empty()) t.set("label", p.label);
    if (!p.via_branch.empty()) t.set("via-branch", p.via_branch);
    t.set("created", p.created_unix);
    t.set("in dialogue with", o ? o->tag : std::string());
    t.set("interface", cm.config().interfaces[size_t(p.iface)].name);
    NgValue medias = NgValue::list();
    for (size_t m = 0; m < p.media.size(); ++m) {
      const MediaSide& ms = p.media[m];
      NgValue md = NgValue::dict();
      md.set("index", int64_t(m + 1));
      md.set("type", ms.type);
      md.set("protocol", ms.proto);
      md.set("direction", to_string(ms.direction));
      if (ms.srtp) {  // installed: inbound unprotects what this party sends
        NgValue flags = NgValue::list();
        flags.push(NgValue::str("SDES"));
        md.set("flags", std::move(flags));
        NgValue srtp = NgValue::dict();
        srtp.set("inbound", std::string(dataplane::srtp_suite_info(ms.srtp->inbound.suite).name));
        srtp.set("outbound", std::string(dataplane::srtp_suite_info(ms.srtp->outbound.suite).name));
        md.set("SRTP", std::move(srtp));
      }
      NgValue streams = NgValue::list();
      if (ms.rtp_port) {
        streams.push(stream_value(cm, c, p, ms, false, now));
        streams.push(stream_value(cm, c, p, ms, true, now));
      }
      md.set("streams", std::move(streams));
      if (ms.transcoder) {  // what this party sends is transcoded
        NgValue tc = transcode_value([&](dataplane::TranscodeCounter k) { return ms.transcoder->get(k); });
        tc.set("codecs", ms.transcode_description);
        md.set("transcoding", std::move(tc));
      }
      medias.push(std::move(md));
    }
    t.set("medias", std::move(medias));
    // A party with no tag yet (a callee branch before its answer):
    // rtpengine 10.5 keys it "<untagged N>", N counting the call's branches.
    tags.set(p.tag.empty() ? "<untagged " + std::to_string(p.branch) + ">" : p.tag, std::move(t));
  }
  v.set("tags", std::move(tags));
  v.set("SSRC", ssrc_value(cm, c));
  v.set("totals", totals_value(cm.totals(c)));
  return v;
}

NgValue statistics_value(CallManager& cm, const NgServerStats* server) {
  auto& plane = cm.plane();
  NgValue st = NgValue::dict();
  NgValue cur = NgValue::dict();
  cur.set("sessionsown", int64_t(cm.active_count()));
  cur.set("sessionstotal", int64_t(cm.size()));
  cur.set("free port pairs", int64_t(cm.free_port_pairs()));
  cur.set("draining", cm.draining() ? "yes" : "no");
  st.set("currentstatistics", std::move(cur));
  const auto& cs = cm.stats();
  NgValue tot = NgValue::dict();
  tot.set("offers", int64_t(cs.offers));
  tot.set("answers", int64_t(cs.answers));
  tot.set("deletes", int64_t(cs.deletes));
  tot.set("errors", int64_t(cs.errors));
  tot.set("managedsessions", int64_t(cs.calls_created));
  tot.set("rejectedsessions", int64_t(cs.calls_rejected));
  tot.set("timeoutsessions", int64_t(cs.calls_timed_out));
  tot.set("port exhaustions", int64_t(cs.port_exhaustions));
  // Transcoding: ended calls' counters plus the live transcoders'.
  const TranscodeTotals transcoding = cm.transcode_totals();
  NgValue tc = transcode_value([&](dataplane::TranscodeCounter k) { return transcoding.counters[size_t(k)]; });
  tc.set("active streams", transcoding.active);
  tc.set("streams set up", int64_t(cs.transcoded_streams));
  tot.set("transcoding", std::move(tc));
  NgValue workers = NgValue::list();
  uint64_t drops_total[kDropReasonCount] = {};
  uint64_t rx = 0, tx = 0;
  for (int w = 0; w < plane.workers(); ++w) {
    const dataplane::WorkerSnapshot c = plane.worker_counters(w);
    NgValue wv = NgValue::dict();
    wv.set("worker", int64_t(w));
    c.for_each([&](const char* name, uint64_t value) { wv.set(name, int64_t(value)); });
    for (size_t r = 0; r < kDropReasonCount; ++r) drops_total[r] += c.drops[r];
    wv.set("drops", drops_value(c.drops));
    rx += c.rx_packets;
    tx += c.tx_packets;
    workers.push(std::move(wv));
  }
  tot.set("packets relayed", int64_t(tx));
  tot.set("packets received", int64_t(rx));
  tot.set("drops", drops_value(drops_total));
  if (cm.legs()) tot.set("webrtc", webrtc_statistics(cm.legs()->counters()));
  if (const auto* sink = cm.state_sink()) {
    NgValue redis = NgValue::dict();
    for (const auto& f : sink->figures()) redis.set(f.name, f.value);
    tot.set("redis", std::move(redis));
  }
  if (server) {
    NgValue ng = NgValue::dict();
    server->for_each([&](const char* name, uint64_t value) { ng.set(name, int64_t(value)); });
    tot.set("ng", std::move(ng));
  }
  st.set("totalstatistics", std::move(tot));
  st.set("workers", std::move(workers));
  if (auto extra = plane.backend_counters(); !extra.empty()) {
    NgValue b = NgValue::dict();
    for (const auto& [name, value] : extra) b.set(name, int64_t(value));
    st.set("backend", std::move(b));
  }
  NgValue reply = NgValue::dict();
  reply.set("result", "ok");
  reply.set("statistics", std::move(st));
  return reply;
}

NgValue signal_reply(Result<SignalReply, NgError> r, const NgValue& req) {
  if (!r.ok()) {
    // Admission control: clients that support it get "load limit" and fail
    // over to the next relay of their set.
    const NgErrc code = r.error().code;
    if ((code == NgErrc::kSessionLimit || code == NgErrc::kDraining) &&
        ng_list_has(req.find_strings("supports"), "load limit")) {
      NgValue v = NgValue::dict();
      v.set("result", "load limit");
      v.set("message", r.error().message());
      return v;
    }
    return ng_error(r.error());
  }
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  v.set("sdp", std::move(r->sdp));
  if (!r->warning.empty()) v.set("warning", r->warning);
  return v;
}

// A non-negative decimal (strtol's syntax); nullopt otherwise.
std::optional<long> non_negative(const std::string& s) {
  char* end = nullptr;
  const long v = strtol(s.c_str(), &end, 10);
  if (s.empty() || *end || v < 0) return std::nullopt;
  return v;
}

// ---- the commands ----------------------------------------------------------

NgValue handle_ping(const NgValue&, NgContext&) {
  NgValue v = NgValue::dict();
  v.set("result", "pong");
  return v;
}

// voxrelay does not record calls (README, "Moving from rtpengine"): a
// request that asks it to still succeeds, with this warning.
constexpr std::string_view kNotRecorded = "call recording is not supported: the call is not recorded";

// "record call": yes|on, or the "record-call" flag (rtpengine's spellings).
bool asks_to_record(const NgValue& req) {
  if (auto v = req.find_scalar("record call"))
    return ng_name_equal(*v, "yes") || ng_name_equal(*v, "on");
  return ng_list_has(req.find_strings("flags"), "record-call");
}

void add_warning(NgValue& reply, std::string_view warning) {
  std::string w(reply.find_scalar("warning").value_or(""));
  reply.set("warning", w.empty() ? std::string(warning) : w + "; " + std::string(warning));
}

NgValue handle_signal(const NgValue& req, NgContext& ctx, bool is_answer) {
  CallManager& cm = ctx.calls;
  auto sr = parse_signal(req, is_answer);
  if (!sr.ok()) {
    ++cm.stats().errors;
    return ng_error(sr.error());
  }
  const bool loop_protect = ng_list_has(req.find_strings("flags"), "loop-protect");
  if (loop_protect && carries_loop_mark(sr->sdp, loop_protect_token())) {
    // Our own SDP, back through a SIP loop: as it is, and no call touched.
    NgValue v = NgValue::dict();
    v.set("result", "ok");
    v.set("sdp", sr->sdp);
    return v;
  }
  auto r = is_answer ? cm.answer(*sr, ctx.now) : cm.offer(*sr, ctx.now);
  if (!r.ok()) ++cm.stats().errors;
  if (r.ok() && loop_protect) r->sdp = add_loop_mark(std::move(r->sdp), loop_protect_token());
  NgValue reply = signal_reply(std::move(r), req);
  if (asks_to_record(req) && reply.find_scalar("sdp")) add_warning(reply, kNotRecorded);
  return reply;
}

// "start recording", "stop recording", "pause recording": an existing call
// answers ok, with the warning that it is not recorded.
NgValue handle_recording(const NgValue& req, NgContext& ctx) {
  auto call_id = req.find_scalar("call-id");
  if (!call_id || call_id->empty()) return ng_error(NgErrc::kNoCallId);
  if (!ctx.calls.find(*call_id)) return ng_error(NgErrc::kUnknownCallId);
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  add_warning(v, kNotRecorded);
  return v;
}

NgValue handle_offer(const NgValue& req, NgContext& ctx) { return handle_signal(req, ctx, false); }
NgValue handle_answer(const NgValue& req, NgContext& ctx) { return handle_signal(req, ctx, true); }

// A delete that finds no such call or tag: a late BYE retransmission is
// not a failure, so rtpengine answers ok with a warning unless the request
// has the "fatal" flag (ng_control_protocol.md, delete); either way with
// its one wording for both cases.
NgValue delete_not_found(const NgValue& req, const NgError& error) {
  if (error.code != NgErrc::kUnknownCallId && error.code != NgErrc::kTagsMismatch)
    return ng_error(error);
  if (ng_list_has(req.find_strings("flags"), "fatal")) return ng_error(NgErrc::kTagsMismatch);
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  v.set("warning", to_string(NgErrc::kTagsMismatch));
  return v;
}

NgValue handle_delete(const NgValue& req, NgContext& ctx) {
  CallManager& cm = ctx.calls;
  auto call_id = req.find_scalar("call-id");
  if (!call_id || call_id->empty()) return ng_error(NgErrc::kNoCallId);
  int delay = -1;  // the configured --delete-delay
  if (auto d = req.find_scalar("delete delay")) {
    auto v = non_negative(*d);
    if (v && *v <= 86400) delay = int(*v);
    else warn_ignored("Invalid delete delay '" + *d + "': using the default");
  }
  auto r = cm.remove(*call_id, req.find_scalar("from-tag").value_or(""),
                     req.find_scalar("to-tag").value_or(""),
                     req.find_scalar("via-branch").value_or(""), delay, ctx.now);
  if (!r.ok()) return delete_not_found(req, r.error());
  // As rtpengine: the call's figures as it ends (those of a deleted branch
  // are gone with it: the call's), with a last MOS sample.
  cm.sample_quality(**r, ctx.now.unix_s);
  NgValue v = call_value(cm, **r, ctx.now);
  cm.reap(*call_id, ctx.now);
  return v;
}

NgValue handle_query(const NgValue& req, NgContext& ctx) {
  auto call_id = req.find_scalar("call-id");
  if (!call_id || call_id->empty()) return ng_error(NgErrc::kNoCallId);
  const Call* c = ctx.calls.find(*call_id);
  if (!c) return ng_error(NgErrc::kUnknownCallId);
  return call_value(ctx.calls, *c, ctx.now);
}

NgValue handle_list(const NgValue& req, NgContext& ctx) {
  size_t limit = 32;
  if (auto l = req.find_scalar("limit")) {
    auto v = non_negative(*l);
    if (!v) return ng_error(NgErrc::kInvalidLimit);
    limit = size_t(*v);
  }
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  NgValue calls = NgValue::list();
  for (const Call* c : ctx.calls.active_calls(limit)) calls.push(NgValue::str(c->id));
  v.set("calls", std::move(calls));
  return v;
}

NgValue handle_statistics(const NgValue&, NgContext& ctx) { return statistics_value(ctx.calls, ctx.server); }

// voxrelay's own command (rtpengine has none): "drain" starts draining,
// with "drain": "off" it stops; either way the reply says where it is.
NgValue handle_drain(const NgValue& req, NgContext& ctx) {
  const std::string state(req.find_scalar("drain").value_or("on"));
  const bool on = ng_name_equal(state, "on") || ng_name_equal(state, "yes");
  if (!on && !ng_name_equal(state, "off") && !ng_name_equal(state, "no"))
    return ng_error(NgError{NgErrc::kUnknownCommand, "drain: 'on' or 'off', not '" + state + "'"});
  return set_draining(ctx.calls, on);
}

// voxrelay's own command: a standby brings up the calls it follows now
// (its address moved to it by other means than the kernel's: DPDK).
NgValue handle_takeover(const NgValue&, NgContext& ctx) {
  CallManager::StateSink* sink = ctx.calls.state_sink();
  if (!sink) return ng_error(NgError{NgErrc::kNoStateStore, ""});
  const size_t up = sink->take_over(ctx.now);
  spdlog::info("NG takeover: {} call(s) taken over", up);
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  v.set("taken over", int64_t(up));
  return v;
}

constexpr NgCommand kNgCommands[] = {
    {"ping", handle_ping},
    {"offer", handle_offer},
    {"answer", handle_answer},
    {"delete", handle_delete},
    {"query", handle_query},
    {"list", handle_list},
    {"statistics", handle_statistics},
    {"drain", handle_drain},
    {"takeover", handle_takeover},
    {"start recording", handle_recording},
    {"stop recording", handle_recording},
    {"pause recording", handle_recording},
};

}  // namespace

std::span<const NgCommand> ng_commands() { return kNgCommands; }

NgValue set_draining(CallManager& calls, bool on) {
  if (on != calls.draining())
    spdlog::info("drain {}: {} call(s) up", on ? "on: no new calls" : "off: new calls welcome",
                 calls.active_count());
  calls.set_draining(on);
  NgValue v = NgValue::dict();
  v.set("result", "ok");
  v.set("draining", on ? "yes" : "no");
  v.set("calls", int64_t(calls.active_count()));
  return v;
}

const NgCommand* find_ng_command(std::string_view name) {
  for (const NgCommand& c : kNgCommands)
    if (ng_name_equal(name, c.name)) return &c;
  return nullptr;
}

NgValue ng_error(const NgError& error) {
  NgValue v = NgValue::dict();
  v.set("result", "error");
  v.set("error-reason", error.message());
  return v;
}

NgValue ng_error(NgErrc code) { return ng_error(NgError{code, {}}); }

NgValue handle_ng_request(const NgValue& req, NgContext& ctx) {
  auto command = req.find_string("command");
  if (!command) return ng_error(NgErrc::kNoCommand);
  const NgCommand* c = find_ng_command(*command);
  if (!c) return ng_error(NgErrc::kUnknownCommand);
  return c->handler(req, ctx);
}

}  // namespace vox::control
