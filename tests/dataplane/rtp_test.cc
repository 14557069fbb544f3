// Tests for dataplane/rtp.h: golden packets (hand-checked against RFC 3550
// §5.1/§5.3.1 and RFC 4733 §2.3), every error, every truncation prefix (run
// under ASan: each prefix is copied to an exactly sized heap buffer).
#include "dataplane/rtp.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace vox::dataplane {
namespace {

// 20 ms of PCMU as a trunk sends it: 12-octet header + 160 samples.
constexpr uint8_t kG711Packet[] = {
    0x80, 0x00, 0x1f, 0x4c,  // V=2 P=0 X=0 CC=0 | M=0 PT=0 (PCMU) | seq 8012
    0x00, 0x07, 0xd0, 0xa0,  // timestamp 512160
    0x3c, 0x5a, 0x8e, 0x11,  // SSRC 0x3c5a8e11
    // 160 octets: the G.711 µ-law digital milliwatt (1 kHz, 0 dBm0) x 20
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
    0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e,
};
static_assert(sizeof(kG711Packet) == 172);

// P=1 X=1 CC=2, M=1 PT=96, RFC 8285 one-byte extension (profile 0xBEDE) of one
// word, 5 payload octets, 3 padding octets.
constexpr uint8_t kFullPacket[] = {
    0xb2, 0xe0, 0x00, 0x01,  // V=2 P=1 X=1 CC=2 | M=1 PT=96 | seq 1
    0x00, 0x00, 0x00, 0x64,  // timestamp 100
    0x11, 0x22, 0x33, 0x44,  // SSRC
    0xaa, 0xbb, 0xcc, 0xdd,  // CSRC 1
    0x01, 0x02, 0x03, 0x04,  // CSRC 2
    0xbe, 0xde, 0x00, 0x01,  // extension: profile 0xBEDE, length 1 word
    0x10, 0xab, 0x00, 0x00,  // ID=1 L=0 value 0xab, then padding
    0x01, 0x02, 0x03, 0x04, 0x05,  // payload
    0x00, 0x00, 0x03,              // padding, count 3
};
static_assert(sizeof(kFullPacket) == 36);

// RFC 4733 §2.3 telephone-event, first packet of digit '5': M=1 PT=101,
// event 5, E=0 R=0 volume 10, duration 160 (20 ms at 8 kHz).
constexpr uint8_t kDtmfPacket[] = {
    0x80, 0xe5, 0x1f, 0x4d,  // V=2 | M=1 PT=101 | seq 8013
    0x00, 0x07, 0xd1, 0x40,  // timestamp 512320
    0x3c, 0x5a, 0x8e, 0x11,  // SSRC
    0x05, 0x0a, 0x00, 0xa0,  // event 5 | E R volume=10 | duration 160
};

std::vector<uint8_t> bytes(const uint8_t* p, size_t n) { return std::vector<uint8_t>(p, p + n); }

// The view's offsets and lengths must tile the packet exactly.
void expect_consistent(const RtpView& v, const uint8_t* p, size_t len) {
  EXPECT_EQ(v.data, p);
  EXPECT_EQ(v.length, len);
  EXPECT_EQ(v.payload_offset, v.header_length);
  EXPECT_EQ(size_t(v.header_length) + v.payload_length + v.padding_length, len);
  EXPECT_EQ(v.header_length,
            12 + 4 * v.csrc_count + (v.has_extension ? 4 + v.extension_length_bytes : 0));
  EXPECT_EQ(v.padding, v.padding_length > 0);
  EXPECT_EQ(v.payload(), p + v.payload_offset);
}

TEST(RtpParse, G711Packet) {
  auto r = parse_rtp(kG711Packet, sizeof(kG711Packet));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const RtpView& v = *r;
  EXPECT_FALSE(v.marker);
  EXPECT_FALSE(v.padding);
  EXPECT_FALSE(v.has_extension);
  EXPECT_EQ(v.payload_type, 0);
  EXPECT_EQ(v.csrc_count, 0);
  EXPECT_EQ(v.sequence, 8012);
  EXPECT_EQ(v.timestamp, 512160u);
  EXPECT_EQ(v.ssrc, 0x3c5a8e11u);
  EXPECT_EQ(v.header_length, 12);
  EXPECT_EQ(v.payload_offset, 12);
  EXPECT_EQ(v.payload_length, 160);
  EXPECT_EQ(v.padding_length, 0);
  EXPECT_EQ(v.extension_profile, 0);
  EXPECT_EQ(v.extension_length_bytes, 0);
  EXPECT_EQ(v.payload()[0], 0x1e);
  expect_consistent(v, kG711Packet, sizeof(kG711Packet));
}

TEST(RtpParse, CsrcExtensionPadding) {
  auto r = parse_rtp(kFullPacket, sizeof(kFullPacket));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const RtpView& v = *r;
  EXPECT_TRUE(v.marker);
  EXPECT_TRUE(v.padding);
  EXPECT_TRUE(v.has_extension);
  EXPECT_EQ(v.payload_type, 96);
  EXPECT_EQ(v.csrc_count, 2);
  EXPECT_EQ(v.csrc(0), 0xaabbccddu);
  EXPECT_EQ(v.csrc(1), 0x01020304u);
  EXPECT_EQ(v.sequence, 1);
  EXPECT_EQ(v.timestamp, 100u);
  EXPECT_EQ(v.ssrc, 0x11223344u);
  EXPECT_EQ(v.extension_profile, 0xbede);
  EXPECT_EQ(v.extension_length_bytes, 4);
  EXPECT_EQ(v.extension_data(), kFullPacket + 24);
  EXPECT_EQ(v.header_length, 28);
  EXPECT_EQ(v.payload_offset, 28);
  EXPECT_EQ(v.payload_length, 5);
  EXPECT_EQ(v.padding_length, 3);
  EXPECT_EQ(v.payload()[0], 0x01);
  EXPECT_EQ(v.payload()[4], 0x05);
  expect_consistent(v, kFullPacket, sizeof(kFullPacket));
}

TEST(RtpParse, TelephoneEvent) {
  auto r = parse_rtp(std::span<const uint8_t>(kDtmfPacket));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const RtpView& v = *r;
  EXPECT_TRUE(v.marker);
  EXPECT_EQ(v.payload_type, 101);
  EXPECT_EQ(v.sequence, 8013);
  EXPECT_EQ(v.timestamp, 512320u);
  EXPECT_EQ(v.payload_length, 4);
  // RFC 4733 §2.3 fields, read from the view's payload.
  EXPECT_EQ(v.payload()[0], 5);             // event: digit 5
  EXPECT_EQ(v.payload()[1] & 0x80, 0);      // E: not the end
  EXPECT_EQ(v.payload()[1] & 0x3f, 10);     // volume -10 dBm0
  EXPECT_EQ(load_be16(v.payload() + 2), 160);  // duration
  expect_consistent(v, kDtmfPacket, sizeof(kDtmfPacket));
}

TEST(RtpParse, EdgeCasesThatAreValid) {
  // Header only, no payload.
  auto r = parse_rtp(kG711Packet, 12);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload_length, 0);
  // Extension with zero-length data (§5.3.1 allows length 0).
  const uint8_t ext0[] = {0x90, 0x08, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0x10, 0x00, 0x00, 0x00};
  r = parse_rtp(ext0, sizeof(ext0));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->extension_profile, 0x1000);
  EXPECT_EQ(r->extension_length_bytes, 0);
  EXPECT_EQ(r->header_length, 16);
  EXPECT_EQ(r->payload_length, 0);
  // Padding that is the whole payload.
  const uint8_t allpad[] = {0xa0, 0x08, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  r = parse_rtp(allpad, sizeof(allpad));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->payload_length, 0);
  EXPECT_EQ(r->padding_length, 4);
  // Full CSRC list (CC=15): 72-octet header.
  std::vector<uint8_t> cc15(72, 0);
  cc15[0] = 0x8f;
  r = parse_rtp(cc15.data(), cc15.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header_length, 72);
  // Largest length a UDP payload can have.
  std::vector<uint8_t> big(kRtpMaxLength, 0);
  big[0] = 0x80;
  r = parse_rtp(big.data(), big.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload_length, kRtpMaxLength - 12);
}

TEST(RtpParse, Errors) {
  auto err = [](std::vector<uint8_t> b) {
    auto r = parse_rtp(b.data(), b.size());
    EXPECT_FALSE(r.ok());
    return r.ok() ? RtpError(255) : r.error();
  };
  EXPECT_EQ(err({}), RtpError::kTooShort);
  EXPECT_EQ(err(bytes(kG711Packet, 11)), RtpError::kTooShort);
  EXPECT_EQ(err(std::vector<uint8_t>(kRtpMaxLength + 1, 0x80)), RtpError::kTooLong);

  for (uint8_t version : {0, 1, 3}) {
    auto b = bytes(kG711Packet, sizeof(kG711Packet));
    b[0] = uint8_t((b[0] & 0x3f) | version << 6);
    EXPECT_EQ(err(b), RtpError::kBadVersion) << int(version);
  }
  // CC=2 needs 20 octets; 19 given. CC=15 in a 172-octet packet is fine, in 71 not.
  EXPECT_EQ(err({0x82, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7}),
            RtpError::kCsrcOverflow);
  {
    std::vector<uint8_t> b(71, 0);
    b[0] = 0x8f;
    EXPECT_EQ(err(b), RtpError::kCsrcOverflow);
  }
  // X set but no room for the 4-octet extension header (after CSRCs too).
  EXPECT_EQ(err({0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}), RtpError::kExtensionOverflow);
  EXPECT_EQ(err({0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0}),
            RtpError::kExtensionOverflow);
  EXPECT_EQ(err({0x91, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 9, 9, 0xbe, 0xde, 0}),
            RtpError::kExtensionOverflow);
  // Extension length says 2 words, only 1 present; 0xffff words never fits.
  EXPECT_EQ(err({0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 2, 1, 2, 3, 4}),
            RtpError::kExtensionOverflow);
  {
    auto b = bytes(kFullPacket, sizeof(kFullPacket));
    b[22] = 0xff;
    b[23] = 0xff;
    EXPECT_EQ(err(b), RtpError::kExtensionOverflow);
  }
  // Padding count 0; padding count larger than what follows the header.
  {
    auto b = bytes(kFullPacket, sizeof(kFullPacket));
    b.back() = 0;
    EXPECT_EQ(err(b), RtpError::kBadPadding);
    b.back() = 9;  // 8 octets follow the header
    EXPECT_EQ(err(b), RtpError::kBadPadding);
    b.back() = 8;  // exactly the rest: valid
    EXPECT_TRUE(parse_rtp(b.data(), b.size()).ok());
  }
  // P set on a header-only packet: the "count" octet is the SSRC's last octet.
  EXPECT_EQ(err({0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}), RtpError::kBadPadding);
  EXPECT_EQ(err({0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}), RtpError::kBadPadding);
}

// Every prefix of a valid packet is parsed from an exactly sized heap copy, so
// ASan flags any read past the end. The outcome is known exactly: a prefix is
// valid iff it holds the header and (if P) its last octet is a fitting count.
void check_prefixes(const uint8_t* pkt, size_t len) {
  auto full = parse_rtp(pkt, len);
  ASSERT_TRUE(full.ok());
  const size_t header = full->header_length;
  for (size_t n = 0; n < len; ++n) {
    auto b = bytes(pkt, n);
    auto r = parse_rtp(b.data(), n);
    bool expect_ok = n >= header;
    if (expect_ok && full->padding) expect_ok = b[n - 1] >= 1 && b[n - 1] <= n - header;
    ASSERT_EQ(r.ok(), expect_ok) << "prefix " << n;
    if (r.ok()) {
      expect_consistent(*r, b.data(), n);
    } else if (n < 12) {
      EXPECT_EQ(r.error(), RtpError::kTooShort);
    }
  }
}

TEST(RtpParse, TruncationPrefixes) {
  check_prefixes(kG711Packet, sizeof(kG711Packet));
  check_prefixes(kFullPacket, sizeof(kFullPacket));
  check_prefixes(kDtmfPacket, sizeof(kDtmfPacket));
}

TEST(RtpWrite, RewritesFieldsInPlace) {
  auto b = bytes(kFullPacket, sizeof(kFullPacket));
  set_rtp_ssrc(b.data(), 0xdeadbeef);
  set_rtp_sequence(b.data(), 0xfffe);
  set_rtp_timestamp(b.data(), 0x80000001);
  set_rtp_payload_type(b.data(), 8, false);
  auto r = parse_rtp(b.data(), b.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ssrc, 0xdeadbeefu);
  EXPECT_EQ(r->sequence, 0xfffe);
  EXPECT_EQ(r->timestamp, 0x80000001u);
  EXPECT_EQ(r->payload_type, 8);
  EXPECT_FALSE(r->marker);
  // Nothing else moved: V P X CC, CSRCs, extension, payload, padding.
  EXPECT_EQ(b[0], kFullPacket[0]);
  EXPECT_EQ(std::memcmp(b.data() + 12, kFullPacket + 12, sizeof(kFullPacket) - 12), 0);
  set_rtp_payload_type(b.data(), 0xff, true);  // PT is masked to 7 bits
  EXPECT_EQ(b[1], 0xff);
  set_rtp_payload_type(b.data(), 101, true);
  EXPECT_EQ(b[1], 0xe5);
  EXPECT_EQ(load_be16(b.data() + 2), 0xfffe);
}

TEST(RtpErrorNames, AreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kRtpErrorCount; ++i) {
    const char* s = to_string(RtpError(i));
    ASSERT_NE(s, nullptr);
    names.insert(s);
  }
  EXPECT_EQ(names.size(), kRtpErrorCount);
  EXPECT_EQ(names.count("rtp-unknown-error"), 0u);
}

}  // namespace
}  // namespace vox::dataplane
