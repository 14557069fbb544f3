// End-of-call records (control/call_record.h), written with nlohmann-json.
#include "control/call_record.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "control/call_manager.h"

namespace vox::control {

namespace {

using nlohmann::json;

// Two decimals: what a reader of a record needs, and no float noise.
double round2(double v) { return std::round(v * 100) / 100; }

json quality_json(const StreamQuality& q) {
  json j = {{"received", q.received}, {"expected", q.expected}, {"lost", q.lost},
            {"loss", round2(q.loss * 100) / 100}, {"jitter ms", round2(q.jitter_ms)}};
  if (q.rtt_ms) j["rtt ms"] = round2(*q.rtt_ms);
  if (q.received) j["mos"] = round2(q.mos);
  if (q.reported) {
    json r = {{"fraction lost", round2(q.reported->fraction_lost * 100) / 100},
              {"cumulative lost", q.reported->cumulative_lost},
              {"jitter ms", round2(q.reported->jitter_ms)}};
    if (q.reported->xr_mos) r["xr mos"] = *q.reported->xr_mos;
    j["reported"] = std::move(r);
  }
  return j;
}

json stream_json(const CallManager& cm, const Call& c, const Party& p, const MediaSide& m, size_t index) {
  const auto& itf = cm.config().interfaces[size_t(p.iface)];
  const dataplane::FlowSnapshot f = cm.flow_counters(c, m.rtp_flow);
  const Endpoint remote = f.latched.valid() ? f.latched : m.sdp_rtp;
  json s = {{"index", index + 1},
            {"type", m.type},
            {"protocol", m.proto},
            {"codec", m.codec},
            {"local", Endpoint{itf.advertised, m.rtp_port}.to_string()},
            {"remote", remote.to_string()},
            {"packets", f.packets},
            {"bytes", f.bytes}};
  if (m.transcoder) s["transcoding"] = m.transcode_description;
  s["quality"] = quality_json(cm.stream_quality(c, m));
  return s;
}

}  // namespace

std::string call_record(const CallManager& cm, const Call& c, const char* reason, int64_t ended_unix) {
  json parties = json::array();
  for (const Party& p : c.parties) {
    json streams = json::array();
    for (size_t i = 0; i < p.media.size(); ++i)
      if (p.media[i].rtp_port) streams.push_back(stream_json(cm, c, p, p.media[i], i));
    json party = {{"tag", p.tag}, {"interface", cm.config().interfaces[size_t(p.iface)].name},
                  {"streams", std::move(streams)}};
    if (!p.label.empty()) party["label"] = p.label;
    parties.push_back(std::move(party));
  }
  json r = {{"call-id", c.id},
            {"reason", reason},
            {"created", c.created_unix},
            {"ended", ended_unix},
            {"duration", ended_unix - c.created_unix},
            {"parties", std::move(parties)}};
  // Invalid UTF-8 in a tag or Call-ID (any octets pass NG) is replaced, never thrown on.
  return r.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace vox::control
