// Big-endian wire field access. Network headers are read and written only
// through these helpers, never through bit-field structs (STYLE.md).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace vox {

inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint64_t load_be64(const uint8_t* p) {
  return uint64_t(load_be32(p)) << 32 | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, uint32_t(v >> 32));
  store_be32(p + 4, uint32_t(v));
}

// Fields as they lie on the wire (network byte order in a native integer),
// for compares and one's complement sums, which need no byte order
// (RFC 1071 §2(B)).
inline uint16_t load_wire16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_wire32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t to_wire16(uint16_t host) {
  return std::endian::native == std::endian::little ? __builtin_bswap16(host) : host;
}
inline uint32_t to_wire32(uint32_t host) {
  return std::endian::native == std::endian::little ? __builtin_bswap32(host) : host;
}

}  // namespace vox
