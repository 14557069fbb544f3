// Tests for IpAddr::same_prefix (dataplane/endpoint.h): the on-link test of
// the DPDK engine's next hops and of --dpdk-gateway's port.
#include "base/endpoint.h"

#include <gtest/gtest.h>

namespace vox {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

TEST(IpAddr, SamePrefixOnWholeAndPartialOctets) {
  EXPECT_TRUE(ip("2001:db8::1").same_prefix(ip("2001:db8::ffff"), 64));
  EXPECT_FALSE(ip("2001:db8::1").same_prefix(ip("2001:db8:0:1::1"), 64));
  EXPECT_TRUE(ip("2001:db8::1").same_prefix(ip("2001:db8:0:1::1"), 63));  // differ in bit 64 only
  EXPECT_TRUE(ip("2001:db8:5::1").same_prefix(ip("2001:db8:5:ff::1"), 48));
  // 5 = ...0101, 4 = ...0100: they differ in bit 48 (counting from 1).
  EXPECT_FALSE(ip("2001:db8:5::1").same_prefix(ip("2001:db8:4::1"), 48));
  EXPECT_TRUE(ip("2001:db8:5::1").same_prefix(ip("2001:db8:4::1"), 47));
  EXPECT_TRUE(ip("fd00::1").same_prefix(ip("2001::1"), 0));
  EXPECT_TRUE(ip("fd00::1").same_prefix(ip("fd00::1"), 128));
  EXPECT_FALSE(ip("fd00::1").same_prefix(ip("fd00::2"), 128));
  EXPECT_FALSE(ip("fd00::1").same_prefix(ip("fd00::2"), 200));  // past 128: all of it
  EXPECT_TRUE(ip("fd00::1").same_prefix(ip("fd00::2"), 126));
  // IPv4 in the v4-mapped form: /n is bits 96 + n.
  EXPECT_TRUE(ip("10.77.0.1").same_prefix(ip("10.77.0.254"), 96 + 24));
  EXPECT_FALSE(ip("10.77.0.1").same_prefix(ip("10.77.1.1"), 96 + 24));
  EXPECT_TRUE(ip("10.77.0.1").same_prefix(ip("10.77.1.1"), 96 + 23));
  EXPECT_FALSE(ip("10.77.0.1").same_prefix(ip("10.77.2.1"), 96 + 23));
  EXPECT_FALSE(ip("10.77.0.1").same_prefix(ip("fd00::1"), 96));  // the mapped prefix differs
}

}  // namespace
}  // namespace vox
