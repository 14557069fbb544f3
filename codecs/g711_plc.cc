// G711Plc over SpanDSP plc_rx / plc_fillin. plc_state_t is a public struct,
// embedded here so a concealer is one allocation made at construction.
#include "codecs/g711_plc.h"

// SpanDSP's headers need telephony.h (SPAN_DECLARE) first.
// clang-format off
#include <spandsp/telephony.h>
#include <spandsp/plc.h>
// clang-format on

#include <algorithm>

namespace vox::codecs {

struct G711Plc::State {
  plc_state_t plc;
};

G711Plc::G711Plc() : s_(std::make_unique<State>()) {
  plc_init(&s_->plc);
}
G711Plc::~G711Plc() = default;
G711Plc::G711Plc(G711Plc&&) noexcept = default;
G711Plc& G711Plc::operator=(G711Plc&&) noexcept = default;

// SpanDSP takes int lengths; callers pass frames of at most a few hundred samples.
void G711Plc::receive(int16_t* pcm, size_t n) {
  plc_rx(&s_->plc, pcm, int(n));
}
void G711Plc::conceal(int16_t* pcm, size_t n) {
  plc_state_t& p = s_->plc;
  // At the start of a gap SpanDSP 0.0.6 first rotates its circular history
  // so the oldest sample comes first (normalise_history), with a memcpy
  // whose source and destination overlap: undefined behaviour (ASan:
  // memcpy-param-overlap). Rotating here leaves buf_ptr at 0, which makes
  // SpanDSP's rotation a no-op; the result is the same buffer.
  if (p.missing_samples == 0 && p.buf_ptr != 0) {
    std::rotate(p.history, p.history + p.buf_ptr, p.history + PLC_HISTORY_LEN);
    p.buf_ptr = 0;
  }
  plc_fillin(&p, pcm, int(n));
}
void G711Plc::reset() {
  plc_init(&s_->plc);
}

size_t G711Plc::state_size() {
  return sizeof(State);
}

}  // namespace vox::codecs
