// Packet loss concealment for G.711 input, wrapping SpanDSP's plc_state_t
// (pitch-period repetition fading to silence over 50 ms, no added delay).
// SpanDSP stays out of this header: its state lives behind a pointer, so the
// dataplane can include transcoder headers without SpanDSP's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace vox::codecs {

class G711Plc {
 public:
  G711Plc();
  ~G711Plc();
  G711Plc(G711Plc&&) noexcept;
  G711Plc& operator=(G711Plc&&) noexcept;

  // Records a received frame of decoded PCM. After a loss it rewrites the
  // first quarter pitch period in place to blend out of the synthetic signal.
  void receive(int16_t* pcm, size_t n);
  // Writes n synthetic samples for a lost stretch.
  void conceal(int16_t* pcm, size_t n);
  void reset();

  // Bytes of concealer state (one per G.711-input direction).
  static size_t state_size();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace vox::codecs
