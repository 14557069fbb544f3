// RFC 4733 telephone-event payloads: the §2.3 event block read and written
// in place, and the §3.2 DTMF event table (digits <-> event codes).
#include "codecs/rfc4733.h"

namespace vox::codecs {

namespace {
constexpr char kDtmfDigits[] = "0123456789*#ABCD";  // §3.2, events 0..15
}

Result<TelephoneEvent, TelephoneEventError> parse_telephone_event(const uint8_t* p, size_t len) {
  if (len < kTelephoneEventSize) return Err{TelephoneEventError::kTooShort};
  TelephoneEvent e;
  e.event = p[0];
  e.end = (p[1] & 0x80) != 0;
  e.volume = p[1] & 0x3f;
  e.duration = uint16_t((p[2] << 8) | p[3]);
  return e;
}

size_t build_telephone_event(const TelephoneEvent& e, uint8_t* out, size_t cap) {
  if (cap < kTelephoneEventSize) return 0;
  out[0] = e.event;
  out[1] = uint8_t((e.end ? 0x80 : 0) | (e.volume > 63 ? 63 : e.volume));
  out[2] = uint8_t(e.duration >> 8);
  out[3] = uint8_t(e.duration);
  return kTelephoneEventSize;
}

int dtmf_event_for_digit(char digit) {
  if (digit >= 'a' && digit <= 'd') digit = char(digit - 'a' + 'A');
  for (int i = 0; i < 16; ++i)
    if (kDtmfDigits[i] == digit) return i;
  return -1;
}

char dtmf_digit_for_event(uint8_t event) {
  return event < 16 ? kDtmfDigits[event] : '\0';
}

}  // namespace vox::codecs
