// The Prometheus exposition of the relay's counters (control/metrics.h).
#include "control/metrics.h"

#include <algorithm>

#include <cctype>
#include <cstdio>

#include "control/webrtc/dtls.h"
#include "control/webrtc/ice_agent.h"
#include "control/webrtc/leg.h"

namespace vox::control {

namespace {

// Writes families of samples: "# HELP", "# TYPE" once per family, then
// `name{labels} value` lines.
class Exposition {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, uint64_t value) {
    sample_text(name, labels, std::to_string(value));
  }
  void sample_text(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }
  // A family of one sample.
  void single(const std::string& name, const char* type, const char* help, uint64_t value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// A label value, escaped (backslash, quote, newline: the format's rule).
std::string label(const char* key, std::string_view value) {
  std::string s = std::string(key) + "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') s += '\\';
    s += c == '\n' ? 'n' : c;
  }
  return s + "\"";
}

void calls_metrics(Exposition& e, const CallManager& cm) {
  const ControlStats& cs = cm.stats();
  e.family("voxrelay_calls", "gauge", "Calls in the table: active, or deleted and waiting out their delete delay.");
  const size_t active = cm.active_count();
  e.sample("voxrelay_calls", label("state", "active"), active);
  e.sample("voxrelay_calls", label("state", "deleted"), cm.size() - active);
  e.single("voxrelay_draining", "gauge", "1 while the relay drains (NG drain): no new calls.", cm.draining());
  e.single("voxrelay_calls_created_total", "counter", "Calls created by an offer.", cs.calls_created);
  e.single("voxrelay_calls_timed_out_total", "counter", "Calls ended by a timeout.", cs.calls_timed_out);
  e.single("voxrelay_calls_ended_total", "counter", "Calls torn down (deleted or timed out).", cs.calls_deleted);
  e.family("voxrelay_ng_commands_total", "counter", "NG signalling commands that succeeded, by command.");
  e.sample("voxrelay_ng_commands_total", label("command", "offer"), cs.offers);
  e.sample("voxrelay_ng_commands_total", label("command", "answer"), cs.answers);
  e.sample("voxrelay_ng_commands_total", label("command", "delete"), cs.deletes);
  e.single("voxrelay_ng_command_errors_total", "counter", "NG offers and answers answered with an error.", cs.errors);
  e.single("voxrelay_port_exhaustions_total", "counter", "Offers refused for want of a free port pair.",
           cs.port_exhaustions);
  e.single("voxrelay_calls_rejected_total", "counter",
           "Offers refused by admission control (--max-sessions, drain).", cs.calls_rejected);
  e.single("voxrelay_calls_restored_total", "counter", "Calls brought up from their state in Redis.",
           cs.calls_restored);
  if (const auto* sink = cm.state_sink())
    for (const auto& f : sink->figures()) {
      std::string name = std::string("voxrelay_redis_") + f.name;
      std::replace(name.begin(), name.end(), ' ', '_');
      if (f.counter) name += "_total";
      e.single(name, f.counter ? "counter" : "gauge", f.help, f.value);
    }
  e.family("voxrelay_port_pairs_free", "gauge", "Free RTP/RTCP port pairs, by interface.");
  const auto& itfs = cm.config().interfaces;
  for (size_t i = 0; i < itfs.size(); ++i)
    e.sample("voxrelay_port_pairs_free",
             label("interface", itfs[i].name) + "," + label("address", itfs[i].local.to_string()),
             cm.free_port_pairs(i));
}

void worker_metrics(Exposition& e, const CallManager& cm) {
  const auto& plane = cm.plane();
  std::vector<dataplane::WorkerSnapshot> snaps;
  for (int w = 0; w < plane.workers(); ++w) snaps.push_back(plane.worker_counters(w));
  // Each counter a family, its samples one per worker: the table's names,
  // and each worker's values in the same order.
  std::vector<const char*> names;
  std::vector<std::vector<uint64_t>> values(snaps.size());
  dataplane::WorkerSnapshot{}.for_each([&](const char* name, uint64_t) { names.push_back(name); });
  for (size_t w = 0; w < snaps.size(); ++w)
    snaps[w].for_each([&](const char*, uint64_t v) { values[w].push_back(v); });
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string metric = "voxrelay_worker_" + metric_name(names[i]) + "_total";
    e.family(metric, "counter", "Worker counter (NG statistics: workers).");
    for (size_t w = 0; w < snaps.size(); ++w) e.sample(metric, label("worker", std::to_string(w)), values[w][i]);
  }
  e.family("voxrelay_worker_drops_total", "counter", "Packets dropped, by worker and reason.");
  for (size_t w = 0; w < snaps.size(); ++w)
    for (size_t r = 0; r < dataplane::kDropReasonCount; ++r)
      e.sample("voxrelay_worker_drops_total",
               label("worker", std::to_string(w)) + "," +
                   label("reason", dataplane::to_string(dataplane::DropReason(r))),
               snaps[w].drops[r]);
}

void transcode_metrics(Exposition& e, const CallManager& cm) {
  const TranscodeTotals t = cm.transcode_totals();
  for (size_t i = 0; i < dataplane::kTranscodeCounterCount; ++i)
    e.single("voxrelay_transcode_" + metric_name(dataplane::to_string(dataplane::TranscodeCounter(i))) + "_total",
             "counter", "Transcoder counter over the relay's life (NG statistics: transcoding).",
             t.counters[i]);
  e.single("voxrelay_transcode_streams", "gauge", "Directions of media being transcoded now.", uint64_t(t.active));
  e.single("voxrelay_transcode_streams_set_up_total", "counter", "Directions ever set up to transcode.",
           cm.stats().transcoded_streams);
}

// Seconds as the format writes them ("0.00025"): nanoseconds / 1e9.
std::string seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(ns) / 1e9);
  return buf;
}

// One NgLatency as a histogram series: cumulative buckets, +Inf, sum, count.
void ng_histogram(Exposition& e, const std::string& name, const std::string& labels, const NgLatency& l) {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < std::size(kNgLatencyBoundsNs); ++b) {
    cumulative += l.buckets[b];
    e.sample(name + "_bucket", labels + sep + label("le", seconds(uint64_t(kNgLatencyBoundsNs[b]))), cumulative);
  }
  e.sample(name + "_bucket", labels + sep + label("le", "+Inf"), l.count);
  e.sample_text(name + "_sum", labels, seconds(l.sum_ns));
  e.sample(name + "_count", labels, l.count);
}

void ng_server_metrics(Exposition& e, const NgServerStats& s) {
  s.for_each([&](const char* name, uint64_t v) {
    const bool gauge = std::string_view(name) == "cache bytes";
    e.single("voxrelay_ng_" + metric_name(name) + (gauge ? "" : "_total"), gauge ? "gauge" : "counter",
             "NG endpoint counter (NG statistics: ng).", v);
  });
  const std::string h = "voxrelay_ng_request_duration_seconds";
  e.family(h, "histogram", "Time the control thread took over an NG request (decode, the call table, the reply), by command.");
  for (size_t k = 0; k < size_t(NgCommandKind::kCount); ++k)
    ng_histogram(e, h, label("command", kNgCommandKindNames[NgCommandKind(k)]), s.latency[k]);
  const std::string d = "voxrelay_ng_reply_delay_seconds";
  e.family(d, "histogram",
           "From an NG request's arrival on the host to its reply's sending (the above plus waiting "
           "for the control thread).");
  ng_histogram(e, d, "", s.reply_delay);
}

// A histogram family of one series (no labels): cumulative buckets, +Inf, sum, count.
template <size_t N>
void histogram(Exposition& e, const std::string& name, const char* help, const Histogram<N>& h) {
  e.family(name, "histogram", help);
  uint64_t cumulative = 0;
  char bound[32];
  for (size_t b = 0; b < N; ++b) {
    cumulative += h.buckets[b];
    std::snprintf(bound, sizeof bound, "%g", h.bounds[b]);
    e.sample(name + "_bucket", label("le", bound), cumulative);
  }
  e.sample(name + "_bucket", label("le", "+Inf"), h.count);
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.9g", h.sum);
  e.sample_text(name + "_sum", "", sum);
  e.sample(name + "_count", "", h.count);
}

void quality_metrics(Exposition& e, const QualityHistograms& q) {
  histogram(e, "voxrelay_stream_mos", "MOS (E-model) of each stream that received media, at its call's end.", q.mos);
  histogram(e, "voxrelay_stream_jitter_seconds", "Interarrival jitter (RFC 3550) of each stream, at its call's end.",
            q.jitter_seconds);
  histogram(e, "voxrelay_stream_packet_loss_ratio", "Packets lost / expected of each stream, at its call's end.",
            q.loss_ratio);
  histogram(e, "voxrelay_stream_rtt_seconds",
            "Round trip from RTCP (LSR/DLSR) to the party of each stream that measured one, at its call's end.",
            q.rtt_seconds);
}

void webrtc_metrics(Exposition& e, const webrtc::LegCounters& c) {
  e.single("voxrelay_stun_checks_answered_total", "counter", "ICE connectivity checks answered.", c.checks_answered);
  e.family("voxrelay_stun_checks_refused_total", "counter", "ICE connectivity checks refused, by reason.");
  for (size_t r = 0; r < size_t(webrtc::IceRefusal::kCount); ++r)
    e.sample("voxrelay_stun_checks_refused_total", label("reason", webrtc::kIceRefusalNames[webrtc::IceRefusal(r)]),
             c.checks_refused[r]);
  e.single("voxrelay_dtls_handshakes_completed_total", "counter", "DTLS-SRTP handshakes completed.",
           c.handshakes_completed);
  e.family("voxrelay_dtls_handshakes_failed_total", "counter", "DTLS-SRTP handshakes failed, by reason.");
  for (size_t r = 0; r < size_t(webrtc::DtlsFailure::kCount); ++r)
    e.sample("voxrelay_dtls_handshakes_failed_total", label("reason", webrtc::kDtlsFailureNames[webrtc::DtlsFailure(r)]),
             c.handshakes_failed[r]);
}

}  // namespace

std::string metric_name(std::string_view name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(c)) : '_';
  return out;
}

std::string render_metrics(const CallManager& calls, const NgServerStats* server) {
  Exposition e;
  calls_metrics(e, calls);
  worker_metrics(e, calls);
  transcode_metrics(e, calls);
  quality_metrics(e, calls.quality());
  if (server) ng_server_metrics(e, *server);
  if (calls.legs()) webrtc_metrics(e, calls.legs()->counters());
  return e.take();
}

}  // namespace vox::control
