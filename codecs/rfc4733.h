// RFC 4733 telephone-event payloads (DTMF as RTP events): parse and build
// the 4-octet event block, map DTMF digits to event codes, and convert event
// durations and timestamps between RTP clocks (8 kHz G.711, 48 kHz Opus per
// RFC 7587) when a transcoder passes events from one side to the other.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.h"

namespace vox::codecs {

// RFC 4733 §2.3: event (8) | E (1) R (1) volume (6) | duration (16).
struct TelephoneEvent {
  uint8_t event = 0;      // §3.2: 0-9, 10 = '*', 11 = '#', 12-15 = A-D
  bool end = false;       // E bit: the last packet(s) of the event
  uint8_t volume = 0;     // 0..63, power level as -dBm0; 0 for non-tone events
  uint16_t duration = 0;  // in RTP clock units since the event timestamp
};

inline constexpr size_t kTelephoneEventSize = 4;
inline constexpr uint32_t kMaxEventDuration = 0xffff;  // §2.5.1.3

enum class TelephoneEventError : uint8_t {
  kTooShort,  // fewer than the 4 octets of an event block (§2.3)
};

// Reads the first event block; the R bit is ignored as §2.3.4 requires.
// Trailing octets are ignored (one block per packet; redundancy uses RFC 2198,
// which arrives with its own payload type).
Result<TelephoneEvent, TelephoneEventError> parse_telephone_event(const uint8_t* p, size_t len);

// Writes 4 octets (R = 0, volume clamped to 63). Returns 0 if cap < 4.
size_t build_telephone_event(const TelephoneEvent& e, uint8_t* out, size_t cap);

// §3.2 event codes of the 16 DTMF digits; -1 / '\0' for anything else.
int dtmf_event_for_digit(char digit);
char dtmf_digit_for_event(uint8_t event);

// Rescales a count of RTP clock units (a duration or a timestamp difference)
// from one clock rate to another, rounding to nearest.
constexpr int64_t rescale_clock(int64_t units, uint32_t from_hz, uint32_t to_hz) {
  if (from_hz == to_hz) return units;
  const int64_t num = units * int64_t(to_hz);
  const int64_t half = int64_t(from_hz) / 2;
  return num >= 0 ? (num + half) / int64_t(from_hz) : -((-num + half) / int64_t(from_hz));
}

// Timestamp of a point expressed on another clock: `ts` is an RTP timestamp
// on clock `from_hz`, (from_ref, to_ref) a pair of timestamps denoting the
// same instant on both clocks. Modulo-2^32 arithmetic (RFC 3550 §5.1).
constexpr uint32_t convert_timestamp(uint32_t ts, uint32_t from_ref, uint32_t to_ref,
                                     uint32_t from_hz, uint32_t to_hz) {
  const int32_t delta = int32_t(ts - from_ref);
  return uint32_t(int64_t(to_ref) + rescale_clock(delta, from_hz, to_hz));
}

// A long event (§2.5.1.3) is reported in segments of at most 0xffff units:
// segment k starts at start_ts + k * 0xffff. Gives the segment carrying the
// total duration `total` so far.
struct EventSegment {
  uint32_t index;
  uint32_t timestamp;
  uint16_t duration;
};
constexpr EventSegment event_segment(uint32_t start_ts, uint64_t total) {
  const uint32_t k = total == 0 ? 0 : uint32_t((total - 1) / kMaxEventDuration);
  return {k, start_ts + k * kMaxEventDuration, uint16_t(total - uint64_t(k) * kMaxEventDuration)};
}

}  // namespace vox::codecs
