// The errors an NG request can end in, each with rtpengine's error-reason
// wording (proxies and operators' log filters match it literally), and the
// NgError value that carries one through the control plane to the reply.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "base/names.h"
#include "base/result.h"

namespace vox::control {

enum class NgErrc : uint8_t {
  // The request itself.
  kNoPayload,           // nothing after the cookie
  kUnknownFormat,       // the body starts with neither 'd' (bencode) nor '{' (JSON)
  kUndecodableBencode,  // the body is not a bencode dictionary
  kUndecodableJson,     // the body is not a JSON object
  kNoCommand,
  kUnknownCommand,
  kNoCallId,
  kNoFromTag,
  kNoToTag,
  kNoSdp,
  kInvalidLimit,
  // The call table.
  kUnknownCallId,
  kTagsMismatch,
  kSessionLimit,  // --max-sessions: "load limit" for clients that support it
  kDraining,      // `drain`: no new calls; "load limit" too
  kNoStateStore,  // `takeover` without --redis
  kOutOfPorts,
  kUnknownInterface,  // detail: the interface name
  kNoInterfaceForFamily,
  // Media set-up.
  kCannotTranscode,  // detail: "<codec> to <codec>"
  kTranscoderSetup,  // detail: codecs::TranscoderError's name
  kSrtpSetup,        // detail: dataplane::SrtpError's name
  // A lower layer's own reason, which is the whole message (detail).
  kSdp,    // control/sdp.h: SdpError's name
  kCodec,  // control/codec_negotiation.h: codec options, offer and answer plans
  kSrtp,   // control/srtp_negotiation.h, control/sdes.h: transport protocol, SDES
  // The reply: over one UDP datagram (control/ng_reply_fit.h); detail: its size.
  kReplyTooLarge,
  kCount
};

inline constexpr EnumNames<NgErrc> kNgErrcNames = {{
    {NgErrc::kNoPayload, "Invalid data (no payload)"},
    {NgErrc::kUnknownFormat, "Invalid NG data format"},
    {NgErrc::kUndecodableBencode, "Could not decode bencode dictionary"},
    {NgErrc::kUndecodableJson, "Failed to parse JSON document"},
    {NgErrc::kNoCommand, "Dictionary contains no key \"command\""},
    {NgErrc::kUnknownCommand, "Unrecognized command"},
    {NgErrc::kNoCallId, "No call-id in message"},
    {NgErrc::kNoFromTag, "No from-tag in message"},
    {NgErrc::kNoToTag, "No to-tag in message"},
    {NgErrc::kNoSdp, "No SDP body in message"},
    {NgErrc::kInvalidLimit, "Invalid limit"},
    {NgErrc::kUnknownCallId, "Unknown call-id"},
    {NgErrc::kTagsMismatch, "Call-ID not found or tags didn't match"},
    {NgErrc::kSessionLimit, "Parallel session limit reached"},
    {NgErrc::kDraining, "Draining: no new calls"},
    {NgErrc::kNoStateStore, "No call state in Redis (--redis) to take over"},
    {NgErrc::kOutOfPorts, "Ran out of ports"},
    {NgErrc::kUnknownInterface, "Unknown interface"},
    {NgErrc::kNoInterfaceForFamily, "No interface for the requested address family"},
    {NgErrc::kCannotTranscode, "Cannot transcode"},
    {NgErrc::kTranscoderSetup, "Failed to set up transcoding"},
    {NgErrc::kSrtpSetup, "Failed to set up SRTP"},
    {NgErrc::kSdp, "Failed to parse SDP"},
    {NgErrc::kCodec, "Invalid codec request"},
    {NgErrc::kSrtp, "SRTP negotiation failed"},
    {NgErrc::kReplyTooLarge, "Reply too large for one UDP datagram"},
}};
static_assert(kNgErrcNames.complete());
inline const char* to_string(NgErrc e) { return kNgErrcNames[e]; }

struct NgError {
  NgErrc code;
  std::string detail;  // empty: the code's name is the whole message

  // The error-reason: the code's name, with the detail as it reads in
  // rtpengine's messages: "Unknown interface 'x'", "Cannot transcode X to
  // Y", "Failed to set up SRTP: <why>"; kSdp, kCodec and kSrtp's detail is
  // the lower layer's complete reason.
  std::string message() const;
};

// Err{NgError{code, detail}}, for functions that return Result<T, NgError>.
inline Err<NgError> ng_fail(NgErrc code, std::string detail = {}) {
  return Err{NgError{code, std::move(detail)}};
}

}  // namespace vox::control
