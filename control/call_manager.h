// The call table and the offer/answer state machine. Turns NG requests
// (already decoded into plain structs by ng_commands.cc) into port
// allocations, flows pushed to the owning worker, and rewritten SDP.
// Every operation validates everything before changing anything: a
// request that fails leaves the call table, the port pools and the
// dataplane exactly as they were. call_manager.cc holds the state machine,
// call_media.cc the media-side resources (ports, flows, slots, counters).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/call.h"
#include "control/config.h"
#include "control/codec_negotiation.h"
#include "control/ng_error.h"
#include "control/port_pool.h"
#include "control/quality.h"
#include "control/srtp_negotiation.h"
#include "dataplane/dataplane.h"
#include "dataplane/srtp_slot.h"
#include "dataplane/transcode.h"

namespace vox::control::webrtc {
class LegControl;
struct LegEvent;
}

namespace vox::control {

// NG "ICE" (rtpengine's values): what the receiver of this SDP gets.
// voxrelay is an ICE-lite agent with one host candidate per component
// wherever it terminates ICE; the party's own candidates never pass.
enum class IceMode : uint8_t {
  kDefault,     // ICE toward the receiver when the sender's SDP had ICE (or it did ICE before)
  kRemove,      // no ICE toward the receiver
  kForce,       // always ICE toward the receiver
  kForceRelay,  // as force: the relay is the only candidate it offers
  kOptional,    // as default: the relay is always the only candidate
  kCount
};
inline constexpr EnumNames<IceMode> kIceModeNames = {{
    {IceMode::kDefault, "default"},
    {IceMode::kRemove, "remove"},
    {IceMode::kForce, "force"},
    {IceMode::kForceRelay, "force-relay"},
    {IceMode::kOptional, "optional"},
}};
static_assert(kIceModeNames.complete());

// NG "ICE-lite": accepted and recorded. voxrelay is always ICE-lite where
// it terminates ICE (it gathers nothing, RFC 8445 §2.5), whatever this says.
enum class IceLiteMode : uint8_t { kUnset, kOffer, kForward, kBackward, kBoth, kOff, kCount };
inline constexpr EnumNames<IceLiteMode> kIceLiteModeNames = {{
    {IceLiteMode::kUnset, ""},
    {IceLiteMode::kOffer, "offer"},
    {IceLiteMode::kForward, "forward"},
    {IceLiteMode::kBackward, "backward"},
    {IceLiteMode::kBoth, "both"},
    {IceLiteMode::kOff, "off"},
}};
static_assert(kIceLiteModeNames.complete());

// Options of one offer or answer, from the NG dictionary.
struct SignalRequest {
  std::string call_id, from_tag, to_tag, sdp;
  std::string via_branch;  // "via-branch": the forked branch an offer goes to, an answer comes from
  std::vector<std::string> direction;        // interface names, [offerer side, answerer side]
  std::optional<IpAddr> media_address;       // "media address": the relay's address in the SDP sent
  std::optional<IpAddr> received_from;       // "received from" (with sip_source)
  bool sip_source = false;                   // flag SIP-source-address
  PartyPolicy policy;                        // asymmetric / strict-source / media-handover
  bool replace_origin = false;               // replace: origin
  bool replace_sdp_version = false;          // replace: SDP-version
  bool replace_zero_address = false;         // replace: zero-address (c=0.0.0.0 -> relay)
  bool replace_session_connection = true;
  bool rtcp_mux_offer = false, rtcp_mux_demux = false, rtcp_mux_accept = false,
       rtcp_mux_reject = false, rtcp_mux_require = false;
  bool no_rtcp_attribute = false, full_rtcp_attribute = false;
  IceMode ice = IceMode::kDefault;        // "ICE"
  IceLiteMode ice_lite = IceLiteMode::kUnset;  // "ICE-lite" (recorded only)
  bool trickle_ice = false;               // flag trickle-ICE: a=ice-options:trickle
  // "DTLS": off/no/disable -> dtls_off; passive/active -> the relay's
  // preferred role toward the receiver of this SDP (where it may choose).
  bool dtls_off = false;
  std::optional<bool> dtls_passive;
  // "DTLS-reverse" passive/active: the same toward the sender of this SDP.
  std::optional<bool> dtls_reverse_passive;
  bool generate_mid = false;  // flag generate-mid
  bool strip_extmap = false;  // flag strip-extmap
  std::string warning;        // from reading the request, for the reply
  // "TOS" (rtpengine's rule): 0..255 the call's TOS from now on; kTosKeep
  // (a negative value) leaves it; kTosDefault (absent, or 256 and over)
  // takes it back to --tos.
  static constexpr int kTosDefault = -1, kTosKeep = -2;
  int tos = kTosDefault;
  std::optional<int> address_family;  // AF_INET / AF_INET6 ("address family")
  std::string label, from_label, to_label;
  CodecRequest codec;  // codec dictionary, codec-* flags, ptime (transcoding)
  // SRTP: "transport protocol" (parse_transport_protocol's value; empty:
  // unchanged) and the "SDES" list (also "SDES-<flag>" in "flags").
  std::string transport_protocol;
  SdesFlags sdes;
};

struct SignalReply {
  std::string sdp;
  std::string warning;
};

// Transcoding over the relay's life: the counters of ended calls plus the
// live transcoders', by dataplane::TranscodeCounter, and how many run now.
struct TranscodeTotals {
  uint64_t counters[dataplane::kTranscodeCounterCount] = {};
  int64_t active = 0;
};

struct CallTotals {
  uint64_t rtp_packets = 0, rtp_bytes = 0, rtcp_packets = 0, rtcp_bytes = 0, errors = 0;
};

// Relay-wide totals kept by the control plane.
struct ControlStats {
  uint64_t offers = 0, answers = 0, deletes = 0, errors = 0;
  uint64_t calls_created = 0, calls_timed_out = 0, calls_deleted = 0;
  uint64_t calls_restored = 0;  // brought up from saved state (restart, takeover)
  uint64_t calls_rejected = 0;  // offers refused: --max-sessions reached, or draining
  uint64_t port_exhaustions = 0;
  // Transcoder counters of calls that have ended (live ones are read from
  // their slots), by dataplane::TranscodeCounter.
  uint64_t transcode_ended[dataplane::kTranscodeCounterCount] = {};
  uint64_t transcoded_streams = 0;  // directions ever set up to transcode
};

class CallManager {
 public:
  CallManager(const Config& config, dataplane::Dataplane& plane);
  ~CallManager();

  struct Clock {
    int64_t mono_ns;
    int64_t unix_s;
  };

  Result<SignalReply, NgError> offer(const SignalRequest& r, Clock now);
  Result<SignalReply, NgError> answer(const SignalRequest& r, Clock now);
  // Marks the call deleted (delay_s < 0: the configured delete delay); it
  // stays for `query` and retransmissions until the delay has passed.
  // A via-branch that names one of several branches of a forked call
  // deletes that branch alone, at once; the call goes on.
  Result<const Call*, NgError> remove(const std::string& call_id, const std::string& from_tag,
                                      const std::string& to_tag, const std::string& via_branch,
                                      int delay_s, Clock now);
  // Tears down a deleted call whose delay is up (a delay of 0: at once,
  // once the delete's reply is built), without the sweep of tick().
  void reap(const std::string& call_id, Clock now);
  // Tears down calls whose time is up (timeouts, delete delay). Returns how many.
  size_t tick(Clock now);

  const Call* find(const std::string& call_id) const;
  std::vector<const Call*> active_calls(size_t limit) const;
  size_t active_count() const;
  size_t size() const { return calls_.size(); }
  CallTotals totals(const Call& c) const;
  // When media last arrived on one flow of m (0: never), as of now_ns: a
  // flow whose packet counter moved since the previous look counts as
  // active now, so the answer is as fine as the looks (the timeout sweep's
  // tick, or a query), as with rtpengine's kernel-forwarded streams.
  int64_t last_packet_ns(const Call& c, const MediaSide& m, bool rtcp, int64_t now_ns) const;
  // The latest of those over the call's flows.
  int64_t last_media_ns(const Call& c, int64_t now_ns) const;
  // Counters and latched source of one flow (zero when kNoFlow).
  dataplane::FlowSnapshot flow_counters(const Call& c, FlowId id) const;
  const ControlStats& stats() const { return stats_; }
  ControlStats& stats() { return stats_; }
  const Config& config() const { return config_; }
  dataplane::Dataplane& plane() { return plane_; }
  const dataplane::Dataplane& plane() const { return plane_; }
  // Free port pairs over all interfaces and workers, or of one interface.
  size_t free_port_pairs() const;
  size_t free_port_pairs(size_t iface) const;
  TranscodeTotals transcode_totals() const;

  // Tears every call down (shutdown); each ends as "shutdown".
  void destroy_all();

  // When a call ends (deleted once its delay is up, timed out, or at
  // shutdown), the quality of each of its streams that received media goes
  // into quality(), and its end-of-call record (control/call_record.h, one
  // JSON line) to the sink, if one is set.
  using RecordSink = std::function<void(const std::string& line)>;
  void set_record_sink(RecordSink sink) { record_sink_ = std::move(sink); }
  const QualityHistograms& quality() const { return quality_; }
  // The quality of the stream `m` of a call (query, the record).
  StreamQuality stream_quality(const Call& c, const MediaSide& m) const;
  // A MOS sample of each stream of the call (MediaSide::quality): every
  // kQualitySampleS by tick(), and as a call's figures are reported at its end.
  void sample_quality(const Call& c, int64_t now_unix) const;

  // Drain (maintenance): offers that would create a call are refused with
  // kDraining ("load limit" to a proxy that supports it, which then tries
  // its next relay); calls already up go on to their end.
  void set_draining(bool on) { draining_ = on; }
  bool draining() const { return draining_; }

  // ---- saved state (high availability, control/ha/) ----
  // Told of every change to a call's state worth keeping: changed() after
  // an offer, answer, branch delete or WebRTC leg event that changed it,
  // and when the timeout sweep sees a flow latch a new source; gone()
  // when the call is deleted or timed out. Shutdown (destroy_all) tells
  // nothing: the saved state is for the next start. The sink must not
  // call back into the call manager.
  class StateSink {
   public:
    virtual ~StateSink() = default;
    virtual void changed(const Call& c) = 0;
    virtual void gone(const std::string& call_id) = 0;
    // Its figures, for `statistics` ("redis") and /metrics (voxrelay_redis_*).
    struct Figure {
      const char* name;  // "writes", "taken over"
      const char* help;
      bool counter;      // else a gauge
      int64_t value;
    };
    virtual std::vector<Figure> figures() const { return {}; }
    // Brings up the followed calls now (NG `takeover`: a standby whose
    // media address is not the kernel's, on the DPDK backend, or an
    // operator's script); how many came up.
    virtual size_t take_over(Clock) { return 0; }
  };
  void set_state_sink(StateSink* sink) { state_sink_ = sink; }
  const StateSink* state_sink() const { return state_sink_; }
  StateSink* state_sink() { return state_sink_; }
  // Brings a call up from its saved state (ha/call_state.h's decode_call)
  // as it was, without an NG command: its ports bound again (the same
  // numbers), its flows installed with their latched sources, SRTP
  // contexts made from its keys, transcoders from its plans (fresh codec
  // state), WebRTC legs from its ICE credentials (a finished DTLS
  // handshake is not run again). Its timers go on from the saved wall
  // clock times; media counts as seen now. Fails, changing nothing, when
  // the call exists, a port is taken or out of range, or a context
  // cannot be made.
  Result<const Call*, std::string> restore(std::unique_ptr<Call> c, Clock now);

  // ---- WebRTC legs (call_webrtc.cc) ----
  // The handshake thread that runs ICE and DTLS for calls' WebRTC sides
  // (null: none; a WebRTC offer is then refused).
  void attach_legs(webrtc::LegControl* legs) { legs_ = legs; }
  webrtc::LegControl* legs() const { return legs_; }
  // Applies what a leg reports: a nominated ICE peer, consent lost, DTLS
  // keys (installed, then the side's media is enabled), a failure.
  void apply_leg_event(const webrtc::LegEvent& e, int64_t now_ns);

 private:
  // Creates, changes or removes the legs of c's sides after an offer or answer.
  void sync_legs(Call& c);
  // Removes side m's leg, if it has one (the side is released or goes plain).
  void drop_leg(MediaSide& m);
  friend struct CallManagerTestPeer;  // tests/control: drives install_flows directly

  // ---- restore (call_restore.cc) ----
  // Binds every port of c's sides (parties and branches), the saved
  // numbers; the error names the first that fails, with nothing bound.
  std::optional<std::string> claim_ports(Call& c);
  void state_changed(const Call& c) {
    if (state_sink_) state_sink_->changed(c);
  }
  void state_gone(const std::string& id) {
    if (state_sink_) state_sink_->gone(id);
  }
  // The sweep's look at c's flows: where they latched
  // (MediaSide::latched_rtp) and the stream each party sends
  // (MediaSide::sent_stream); true when one moved.
  bool note_media(Call& c);

  // ---- forking (call_manager.cc) ----
  // The callee side an offer from the caller, or an answer to it, is for:
  // by the request's to-tag, else its via-branch, parties[1] or a parked
  // branch; for an offer naming a via-branch not seen yet, `fresh` (made
  // here: a new branch). Changes nothing in c.
  Party* pick_branch(Call& c, const SignalRequest& r, bool offer, Party& fresh);
  // Commits pick_branch's choice: b becomes parties[1], the branch it
  // replaces is parked (its flows off).
  void enter_branch(Call& c, Party* b, const std::string& via_branch);
  // Deletes the branch of that via-branch when the call has others; false
  // when the delete is for the whole call.
  bool drop_branch(Call& c, const std::string& via_branch, int64_t now_ns);
  void release_party(Call& c, Party& p);

  // ---- the state machine (call_manager.cc) ----
  // A call for this first offer (admission control, interfaces), not yet in the table.
  Result<std::unique_ptr<Call>, NgError> new_call(const SignalRequest& r, const Sdp& sdp, Clock now);
  // The interface a call side uses: the one of that name (and family);
  // for a BASE of names BASE:SUFFIX, the next of them in turn with a free
  // port pair on `worker`; no name or an unknown one, the default (the
  // first interface, or its BASE group).
  Result<int, NgError> resolve_interface(const std::string& name, std::optional<int> family,
                                         int worker);
  int pick_worker();
  // Transcoders for what this answer needs, made before anything changes.
  struct StreamTranscoders {
    std::unique_ptr<dataplane::TranscodeSlot> offerer_to_answerer, answerer_to_offerer;
  };
  // The SRTP contexts one side's two flows need for `keys`, made before
  // anything changes; `change` is false when the installed keys are the
  // same (the running contexts keep their replay windows and ROCs).
  struct SideSrtp {
    bool change = false;
    std::optional<SdesSession> keys;
    std::unique_ptr<dataplane::SrtpSlot> rtp, rtcp;
  };
  // All an answer installs, per stream of the answerer, made before
  // anything changes.
  struct AnswerMedia {
    std::vector<std::optional<AnswerPlan>> plans;
    std::vector<StreamTranscoders> transcoders;
    std::vector<SrtpAnswerPlan> srtp;
    std::vector<SideSrtp> srtp_a, srtp_b;  // the offerer's and the answerer's sides
    std::string warning;
  };
  // Fills `m` (codec plans and transcoders; SRTP plans and contexts); the
  // error, if any.
  std::optional<NgError> prepare_answer_codecs(const SignalRequest& r, const Sdp& sdp,
                                               const Party& b, AnswerMedia& m);
  std::optional<NgError> prepare_answer_srtp(const SignalRequest& r, const Sdp& sdp,
                                             const Party& a, const Party& b, AnswerMedia& m);
  void destroy(Call& c);
  using CallMap = std::unordered_map<std::string, std::unique_ptr<Call>>;
  // Tears a call down and takes it out of the table (a delete or timeout due).
  void erase(CallMap::iterator it, int64_t ended_unix);
  void end_call(const Call& c, const char* reason, int64_t ended_unix);

  // ---- media-side resources (call_media.cc) ----
  Result<std::unique_ptr<dataplane::TranscodeSlot>, NgError> make_transcoder(const StreamPlan& p);
  // Gives side m's flow the transcoder made for `plan` (null: none),
  // keeping a running one whose plan is unchanged (re-INVITE: continuous
  // SSRC/seq/ts).
  void set_transcoder(Call& c, MediaSide& m, std::unique_ptr<dataplane::TranscodeSlot> slot,
                      const StreamPlan* plan);
  void retire_transcoder(MediaSide& m);  // adds its counters to the totals
  Result<SideSrtp, NgError> prepare_srtp(const MediaSide& m, std::optional<SdesSession> keys);
  // Hands the slots to the worker (kSetSrtp on both flows; null: plain).
  void set_srtp(Call& c, MediaSide& m, SideSrtp s);
  // The answer's transcoders and SRTP contexts, after its flows.
  void install_answer_media(Call& c, Party& a, Party& b, AnswerMedia& m);
  bool allocate_side(Call& c, Party& p, MediaSide& m);
  // Binds the pair (port, port + 1) on p's interface for m and gives it
  // two flow ids (the caller made sure there are two); false, having
  // bound nothing, when a port is taken.
  bool bind_side(Call& c, const Party& p, MediaSide& m, uint16_t port);
  // Ports and flow ids for every stream `sdp` does not reject (nor
  // `skip`: the relay rejects it), on both parties' sides (ma: a's, mb:
  // b's, copies the caller commits); false when they ran out, having
  // given back what it took.
  bool allocate_media(Call& c, Party& a, Party& b, const Sdp& sdp, const std::vector<bool>& skip,
                      std::vector<MediaSide>& ma, std::vector<MediaSide>& mb);
  void release_side(Call& c, Party& p, MediaSide& m);
  // NG "TOS" of an offer or answer (SignalRequest::tos) on every port of
  // the call, its branches' too.
  void apply_tos(Call& c, int request);
  // Pushes every side's flows (add or update) and opens both parties'
  // source learning windows (--latch-window-ms from now). This is also
  // what the WebRTC handshake calls once a side's dtls.connected or
  // ice_peer changed (install_stream_flows for one stream, then flush).
  // Toward a DTLS side (dtls.enabled) that is not connected yet, both
  // directions of the stream stay off (no kFlowEnabled on either side's
  // flows): no media passes until the keys exist. An ICE side
  // (ice.enabled) is sent to at ice_peer (ice_peer_rtcp for RTCP without
  // mux), as its flows' sdp_source with kFlowAsymmetric, so latching never
  // moves it; before nomination that is port 0: nothing is sent to it.
  void install_flows(Call& c, int64_t now_ns);
  // Both parties' flows of stream `index` (add or update), posted, not
  // flushed.
  void install_stream_flows(Call& c, size_t index, int64_t latch_until_ns);
  // Side x's two flows, sending what they receive to peer y (null: no
  // peer, the flows are off).
  void install_side_flows(Call& c, const Party& px, MediaSide& x, const MediaSide* y,
                          int64_t latch_until_ns);
  // A parked branch's flows, off (nothing passes until it is back in dialogue).
  void park_flows(Call& c, Party& p);
  FlowId take_flow_id(int w);

  const Config& config_;
  dataplane::Dataplane& plane_;
  std::vector<PortPool> pools_;  // one per interface
  size_t round_robin_ = 0;       // resolve_interface's turn in BASE:SUFFIX groups
  std::mt19937 rng_{std::random_device{}()};
  std::random_device ice_random_;  // ICE credentials (RFC 8445 §5.3: unguessable)  // transcoders' SSRC and first seq/ts (RFC 3550 §5.1)
  std::vector<std::vector<FlowId>> free_flow_ids_;  // per worker
  std::vector<size_t> calls_per_worker_;
  CallMap calls_;
  ControlStats stats_;
  bool draining_ = false;
  QualityHistograms quality_;
  int64_t last_quality_sample_ns_ = 0;
  RecordSink record_sink_;
  StateSink* state_sink_ = nullptr;
  // WebRTC legs: who runs them, and each leg's side by id.
  webrtc::LegControl* legs_ = nullptr;
  uint64_t next_leg_id_ = 1;
  std::unordered_map<uint64_t, std::string> leg_calls_;  // leg id -> call id
};

}  // namespace vox::control
