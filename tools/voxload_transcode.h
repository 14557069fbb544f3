// voxload --transcode: the pieces of the load harness that exercise G.711 <->
// Opus transcoding through a relay (voxrelay or rtpengine).
//
//  - Call setup: side A offers PCMU (PT 0) + telephone-event/8000 with the NG
//    `codec` dictionary {"transcode": ["opus"]}; side B answers opus/48000/2
//    (useinbandfec=1 unless --answer-no-fec) on the payload type the relay
//    offered it, plus telephone-event/48000 when the relay offered that (so
//    neither relay needs in-band DTMF detection).
//  - Media: A sends 20 ms of µ-law speech-like audio per packet (172 bytes),
//    B sends real Opus packets, both from tables built once at startup and
//    looped (5 s), so the generator pays no codec cost per packet.
//  - Receive accounting. The relay re-encodes the payload, so nothing the
//    sender writes into it survives; what survives is the RTP timeline: one
//    output packet per 20 ms input frame, with timestamps advancing one
//    frame (960 at 48 kHz, 160 at 8 kHz) per input frame. An output packet
//    maps to input packet counter anchor + (its timestamp - the stream's
//    first output timestamp) / frame. The anchor starts at the newest
//    packet sent on the stream before its first output arrived (kernel
//    receive time), and during the warm-up it moves back whenever an
//    output would otherwise map to an input sent after it arrived. It is
//    frozen when the window opens. Loss = inputs sent in the window minus
//    distinct outputs that map to them; a constant anchor error only shifts
//    which 20 ms slots count, not how many (outputs that map past the
//    newest input sent are matched to its scheduled send time).
//    Latency = arrival - send time of the input the output maps to. Since
//    the anchor is the newest input that could have produced the output,
//    this is the relay's processing and queueing delay after the last
//    input it needed. Codec delay is not in it: a relay that holds a frame
//    back until the next input arrives (output k leaves with input k+1)
//    shows 20 ms less than an audio measurement would, and a relay whose
//    outputs never cross in under 20 ms during the warm-up looks 20 ms
//    faster per whole 20 ms. Arrivals that map to inputs sent after them
//    are counted (`latency_negative`; they mean the anchor moved too late).
//    Without a marker in the payload, a packet of another call arriving at
//    the wrong socket cannot be told apart (`misrouted` stays 0); a wrong
//    payload type or PCMU size is counted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/ng_value.h"
#include "base/endpoint.h"

namespace voxload {

struct TranscodeOptions {
  int opus_rate = 48000;     // B's Opus encoder input rate: 48000 (full band) or 8000 (narrowband)
  int opus_bitrate = 24000;  // B's Opus bitrate, bit/s
  bool answer_fec = true;    // B's answer says useinbandfec=1 (the relay then sends in-band FEC)
};

// What the relay offered side B: the payload types to answer with.
struct OpusOffer {
  int opus_pt = -1;  // opus/48000/2
  int te_pt = -1;    // telephone-event/48000, -1 if not offered
};
// First audio m= section's rtpmaps; nullopt when it has no opus/48000/2.
std::optional<OpusOffer> parse_opus_offer(std::string_view sdp);

// The session part of voxload's SDP (v=, o=, s=, c=, t=) for a party at ip.
std::string sdp_session_lines(const vox::IpAddr& ip, uint64_t session_id);

class TranscodeLoad {
 public:
  static constexpr size_t kPcmuFrame = 160;  // 20 ms of µ-law
  static constexpr uint32_t kHistory = 256;  // send stamps kept per stream (5 s at 50 pps)

  // Encodes B's Opus table with libopus; an error string if libopus refuses.
  std::optional<std::string> init(const TranscodeOptions& opt, size_t streams);

  // The NG `codec` dictionary for the offer.
  static vox::control::NgValue offer_codec_dict();
  // From the SDP the relay sent toward B: B's answer SDP (and records the
  // call's PTs); an error string when the relay offered no opus/48000/2.
  std::optional<std::string> answer_sdp(uint32_t call, std::string_view offer_to_b, const vox::IpAddr& ip,
                                        uint16_t port, uint64_t session_id, std::string* sdp_out);

  // Sending: stream s = 2 * call + direction (0: A -> B, PCMU; 1: B -> A, Opus).
  uint8_t send_pt(uint32_t s) const { return streams_[s].send_pt; }
  uint32_t send_ts_step(uint32_t s) const { return (s & 1) ? 960 : 160; }
  // Writes the payload of input packet `counter` of stream s at out; returns its length.
  size_t write_payload(uint32_t s, uint32_t counter, uint8_t* out) const;
  // Largest RTP packet this mode sends (header included).
  size_t max_packet_size() const;
  // Records when packet `counter` of stream s was (or will be) sent, and its
  // RTP sequence number.
  void on_build(uint32_t s, uint32_t counter, int64_t send_ns, uint16_t seq) {
    Stream& st = streams_[s];
    if (counter == 0) st.seq0 = seq;
    st.stamps[counter % kHistory] = send_ns;
    st.built = counter + 1;
  }

  enum class Rx : uint8_t {
    kOk,         // counter / send_ns valid
    kNotRtp,     // not RTP version 2, or shorter than its header
    kRtcp,       // RTCP (RFC 5761 PT range), e.g. the relay's own reports
    kWrongPt,    // not the payload type this side negotiated to receive
    kWrongSize,  // PCMU payload that is not 160 bytes
    kUnmatched,  // timestamp maps before the send history or over 1 s past the newest input
  };
  // A relay that keeps the input's RTP sequence numbers (rtpengine does when
  // transcoding) tells which input each output was made from: seq_lag is
  // how many packets before the mapped input that one was sent (0..kMaxSeqLag),
  // -1 when the output's sequence number is no recent input's (voxrelay
  // numbers its own), and seq_send_ns its send time.
  static constexpr int kMaxSeqLag = 7;
  struct RxResult {
    Rx kind;
    uint32_t counter = 0;
    int64_t send_ns = 0;
    bool anchor_moved = false;  // the stream's earlier outputs mapped one or more inputs later
    int seq_lag = -1;
    int64_t seq_send_ns = 0;
  };
  // A packet of stream s (it arrived on the other side's socket) received at
  // rx_mono_ns (CLOCK_MONOTONIC). warmup: before the window (the anchor may
  // still move back).
  RxResult classify(uint32_t s, const uint8_t* p, size_t len, int64_t rx_mono_ns, bool warmup);

  // Diagnostics: streams that received anything; input packets all anchors
  // moved back by during the warm-up (0 when every stream's first output
  // crossed the relay in under one packet interval).
  size_t anchored_streams() const;
  uint64_t anchor_shift_sum() const;

 private:
  struct Stream {
    uint8_t send_pt = 0;
    uint8_t rx_pt = 0;
    uint16_t seq0 = 0;  // RTP sequence number of input 0
    uint32_t built = 0;  // counters [0, built) have stamps (the last kHistory of them)
    bool anchored = false;
    uint32_t anchor_counter = 0;
    uint32_t anchor_ts = 0;
    uint32_t anchor_shift = 0;
    std::array<int64_t, kHistory> stamps{};
  };

  std::vector<Stream> streams_;
  std::vector<uint8_t> pcmu_;          // frames of kPcmuFrame bytes
  std::vector<std::vector<uint8_t>> opus_;  // one Opus packet per 20 ms frame
  size_t max_opus_ = 0;
  TranscodeOptions opt_;
};

}  // namespace voxload
