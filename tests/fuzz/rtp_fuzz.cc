// libFuzzer target for dataplane/rtp.h and dataplane/demux.h: parse any
// input; when it parses, the view must tile the buffer exactly, the field
// writers must round-trip, and classification must agree with the header.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/demux.h"
#include "dataplane/rtp.h"

using namespace vox::dataplane;

namespace {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const PacketKind kind = classify_packet(data, size);
  check(uint8_t(kind) < kPacketKindCount);
  if (kind == PacketKind::kRtp || kind == PacketKind::kRtcp) check(size >= 2 && (data[0] >> 6) == 2);

  auto r = parse_rtp(data, size);
  if (!r.ok()) {
    check(to_string(r.error()) != nullptr);
    return 0;
  }
  const RtpView& v = *r;
  check(v.data == data && v.length == size && size >= kRtpFixedHeaderLength);
  check(kind == PacketKind::kRtp || kind == PacketKind::kRtcp);
  check(v.header_length >= kRtpFixedHeaderLength && v.header_length <= size);
  check(v.payload_offset == v.header_length);
  check(size_t(v.header_length) + v.payload_length + v.padding_length == size);
  check(v.header_length == kRtpFixedHeaderLength + 4 * size_t(v.csrc_count) +
                               (v.has_extension ? 4 + size_t(v.extension_length_bytes) : 0));
  check(v.extension_length_bytes % 4 == 0);
  check(v.has_extension || (v.extension_profile == 0 && v.extension_length_bytes == 0));
  check(v.padding == (v.padding_length != 0));
  check(!v.padding || data[size - 1] == v.padding_length);
  check(v.payload_type < 128 && v.csrc_count < 16);

  // Rewrite a copy in place; only the rewritten fields may change.
  std::vector<uint8_t> buf(data, data + size);  // exactly sized: ASan sees stray writes
  uint8_t* copy = buf.data();
  set_rtp_ssrc(copy, ~v.ssrc);
  set_rtp_sequence(copy, uint16_t(v.sequence + 1));
  set_rtp_timestamp(copy, v.timestamp + 160);
  set_rtp_payload_type(copy, uint8_t(v.payload_type ^ 1), !v.marker);
  auto w = parse_rtp(copy, size);
  check(w.ok());
  check(w->ssrc == ~v.ssrc && w->sequence == uint16_t(v.sequence + 1) &&
        w->timestamp == v.timestamp + 160 && w->payload_type == (v.payload_type ^ 1) &&
        w->marker == !v.marker);
  check(w->header_length == v.header_length && w->payload_length == v.payload_length &&
        w->padding_length == v.padding_length);
  check(std::memcmp(copy + 12, data + 12, size - 12) == 0 && copy[0] == data[0]);
  return 0;
}
