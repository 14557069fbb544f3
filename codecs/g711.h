// G.711 (ITU-T G.711) µ-law and A-law sample codecs, table driven.
// Used by the transcoding pipeline; pure computation, no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vox::codecs {

int16_t ulaw_to_linear(uint8_t u);
uint8_t linear_to_ulaw(int16_t pcm);
int16_t alaw_to_linear(uint8_t a);
uint8_t linear_to_alaw(int16_t pcm);

// Whole-frame variants (n samples).
void ulaw_decode(const uint8_t* in, int16_t* out, size_t n);
void ulaw_encode(const int16_t* in, uint8_t* out, size_t n);
void alaw_decode(const uint8_t* in, int16_t* out, size_t n);
void alaw_encode(const int16_t* in, uint8_t* out, size_t n);

}  // namespace vox::codecs
