// Shared by the DPDK tests: EAL is brought up once per process (it cannot be
// initialised twice) by the global environment in eal_test.cc, on virtual
// devices only, and frames are crafted here.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace vox::dataplane::dpdk::test {

// The EAL arguments every DPDK test process runs with. net_ring0/1: each is
// its own loopback (a queue's TX ring is its RX ring). net_ring2 with a
// nodeaction creates the ethdev "vox_lo" (named after the ring), same
// behaviour. net_null0: RX makes up packets, TX drops them.
inline const std::vector<std::string>& eal_args() {
  static const std::vector<std::string> args = {
      "--no-huge", "--no-pci", "-m", "512", "--no-shconf", "--no-telemetry", "-l", "0",
      "--vdev=net_ring0", "--vdev=net_ring1", "--vdev=net_ring2,nodeaction=vox_lo:0:CREATE",
      "--vdev=net_null0"};
  return args;
}

// Empty when EAL is up; otherwise why not (every test then skips or fails).
const std::string& eal_failure();

// Skips the test when EAL could not start without root; fails it when it
// could not start as root.
#define VOX_REQUIRE_EAL()                                                      \
  do {                                                                         \
    if (!::vox::dataplane::dpdk::test::eal_failure().empty()) {                \
      if (::geteuid() != 0) GTEST_SKIP() << ::vox::dataplane::dpdk::test::eal_failure(); \
      FAIL() << ::vox::dataplane::dpdk::test::eal_failure();                   \
    }                                                                          \
  } while (0)

// An Ethernet II / IPv4 / UDP frame of `payload_len` bytes of payload whose
// first four bytes are `seq` and the rest a pattern derived from it, so each
// received frame can be checked byte for byte against what was sent.
inline std::vector<uint8_t> udp_frame(uint32_t seq, uint16_t dst_port, uint16_t payload_len = 172) {
  constexpr size_t kEth = 14, kIp = 20, kUdp = 8;
  std::vector<uint8_t> f(kEth + kIp + kUdp + payload_len, 0);
  uint8_t* p = f.data();
  const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  const uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::copy(dst_mac, dst_mac + 6, p);
  std::copy(src_mac, src_mac + 6, p + 6);
  store_be16(p + 12, 0x0800);
  uint8_t* ip = p + kEth;
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(kIp + kUdp + payload_len));
  ip[8] = 64;
  ip[9] = 17;  // UDP
  store_be32(ip + 12, 0xc0a80001);  // 192.168.0.1
  store_be32(ip + 16, 0xc0a80002);  // 192.168.0.2
  uint32_t sum = 0;  // RFC 791 header checksum
  for (size_t i = 0; i < kIp; i += 2) sum += load_be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(ip + 10, static_cast<uint16_t>(~sum));
  uint8_t* udp = ip + kIp;
  store_be16(udp, 40000);
  store_be16(udp + 2, dst_port);
  store_be16(udp + 4, static_cast<uint16_t>(kUdp + payload_len));  // checksum 0: none (RFC 768)
  uint8_t* pl = udp + kUdp;
  if (payload_len >= 4) store_be32(pl, seq);
  for (size_t i = 4; i < payload_len; ++i) pl[i] = static_cast<uint8_t>(seq * 31 + i);
  return f;
}

}  // namespace vox::dataplane::dpdk::test
