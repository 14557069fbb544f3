// Tests for dataplane/rtcp.h: golden compounds (hand-checked against RFC 3550
// §6.4, RFC 4585 §6.3.1 for the reduced-size PLI), their report blocks,
// every error, and every truncation prefix parsed from an exactly sized heap
// copy (run under ASan).
#include "dataplane/rtcp.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace vox::dataplane {
namespace {

// SR with one report block, then SDES with a CNAME.
constexpr uint8_t kSrSdes[] = {
    0x81, 0xc8, 0x00, 0x0c,  // V=2 P=0 RC=1 | PT=200 SR | length 12 (52 octets)
    0x3c, 0x5a, 0x8e, 0x11,  // SSRC of sender
    0xe7, 0x4b, 0x1a, 0x2c,  // NTP timestamp, most significant word
    0x80, 0x00, 0x00, 0x00,  // NTP timestamp, least significant word (.5 s)
    0x00, 0x07, 0xd0, 0xa0,  // RTP timestamp 512160
    0x00, 0x00, 0x00, 0xfa,  // sender's packet count 250
    0x00, 0x00, 0x9c, 0x40,  // sender's octet count 40000
    0x1a, 0x2b, 0x3c, 0x4d,  // report block 1: SSRC_1
    0x05, 0x00, 0x00, 0x12,  // fraction lost 5/256 | cumulative lost 18
    0x00, 0x01, 0x1f, 0x4c,  // extended highest sequence number
    0x00, 0x00, 0x00, 0x2a,  // interarrival jitter 42
    0x1a, 0x2b, 0x80, 0x00,  // LSR
    0x00, 0x01, 0x80, 0x00,  // DLSR 1.5 s
    0x81, 0xca, 0x00, 0x04,  // V=2 P=0 SC=1 | PT=202 SDES | length 4 (20 octets)
    0x3c, 0x5a, 0x8e, 0x11,  // chunk 1: SSRC
    0x01, 0x09, 'u', 's',    // CNAME, 9 octets "user@host"
    'e', 'r', '@', 'h',      //
    'o', 's', 't', 0x00,     // end of items (chunk now 32-bit aligned)
};
static_assert(sizeof(kSrSdes) == 72);

// RR with one report block, SDES CNAME, BYE with a reason.
constexpr uint8_t kRrSdesBye[] = {
    0x81, 0xc9, 0x00, 0x07,  // V=2 P=0 RC=1 | PT=201 RR | length 7 (32 octets)
    0x1a, 0x2b, 0x3c, 0x4d,  // SSRC of packet sender
    0x3c, 0x5a, 0x8e, 0x11,  // report block 1: SSRC_1
    0x00, 0x00, 0x00, 0x00,  // no loss
    0x00, 0x00, 0x1f, 0x4d,  // extended highest sequence number
    0x00, 0x00, 0x00, 0x10,  // jitter 16
    0x4b, 0x1a, 0x2c, 0x80,  // LSR: middle 32 bits of the SR's NTP timestamp
    0x00, 0x00, 0x40, 0x00,  // DLSR 0.25 s
    0x81, 0xca, 0x00, 0x05,  // SC=1 | PT=202 SDES | length 5 (24 octets)
    0x1a, 0x2b, 0x3c, 0x4d,  // chunk 1: SSRC
    0x01, 0x0c, 'b', 'o',    // CNAME, 12 octets "bob@10.0.0.2"
    'b', '@', '1', '0',      //
    '.', '0', '.', '0',      //
    '.', '2', 0x00, 0x00,    // end of items + pad to 32 bits
    0x81, 0xcb, 0x00, 0x03,  // SC=1 | PT=203 BYE | length 3 (16 octets)
    0x1a, 0x2b, 0x3c, 0x4d,  // SSRC
    0x04, 'd', 'o', 'n',     // reason, 4 octets "done"
    'e', 0x00, 0x00, 0x00,   // pad to 32 bits
};
static_assert(sizeof(kRrSdesBye) == 72);

// Empty RR, then a BYE carrying 4 octets of padding (§6.4.1 P bit).
constexpr uint8_t kRrByePadded[] = {
    0x80, 0xc9, 0x00, 0x01,  // RC=0 | RR | length 1
    0x1a, 0x2b, 0x3c, 0x4d,  // SSRC
    0xa1, 0xcb, 0x00, 0x02,  // P=1 SC=1 | BYE | length 2 (12 octets)
    0x1a, 0x2b, 0x3c, 0x4d,  // SSRC
    0x00, 0x00, 0x00, 0x04,  // padding, count 4
};

// Reduced-size RTCP (RFC 5506): a lone PLI (RFC 4585 §6.3.1, PSFB FMT=1).
constexpr uint8_t kPli[] = {
    0x81, 0xce, 0x00, 0x02,  // FMT=1 | PT=206 PSFB | length 2
    0x1a, 0x2b, 0x3c, 0x4d,  // SSRC of packet sender
    0x3c, 0x5a, 0x8e, 0x11,  // SSRC of media source
};

std::vector<uint8_t> bytes(const uint8_t* p, size_t n) { return std::vector<uint8_t>(p, p + n); }

struct Seen {
  uint8_t type, count;
  uint16_t length;
  size_t offset;
  bool padding;
  bool operator==(const Seen&) const = default;
};
std::vector<Seen> walk(const RtcpCompoundView& v) {
  std::vector<Seen> out;
  for (RtcpPacketHeader h : v)
    out.push_back({h.type, h.count, h.length, size_t(h.data - v.data), h.padding});
  return out;
}

TEST(RtcpParse, SrSdes) {
  auto r = parse_rtcp_compound(kSrSdes, sizeof(kSrSdes));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const RtcpCompoundView& v = *r;
  EXPECT_EQ(v.data, kSrSdes);
  EXPECT_EQ(v.length, 72);
  EXPECT_EQ(v.num_packets, 2);
  EXPECT_EQ(v.first_type, kRtcpSr);
  EXPECT_EQ(v.padding_length, 0);
  EXPECT_TRUE(v.has_sender_ssrc);
  EXPECT_EQ(v.sender_ssrc, 0x3c5a8e11u);
  ASSERT_TRUE(v.has_sender_info);
  EXPECT_EQ(v.sender_info.ntp_timestamp, 0xe74b1a2c80000000ull);
  EXPECT_EQ(v.sender_info.rtp_timestamp, 512160u);
  EXPECT_EQ(v.sender_info.packet_count, 250u);
  EXPECT_EQ(v.sender_info.octet_count, 40000u);
  std::vector<Seen> want = {{kRtcpSr, 1, 52, 0, false}, {kRtcpSdes, 1, 20, 52, false}};
  EXPECT_EQ(walk(v), want);
}

TEST(RtcpParse, RrSdesBye) {
  auto r = parse_rtcp_compound(std::span<const uint8_t>(kRrSdesBye));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const RtcpCompoundView& v = *r;
  EXPECT_EQ(v.num_packets, 3);
  EXPECT_EQ(v.first_type, kRtcpRr);
  EXPECT_TRUE(v.has_sender_ssrc);
  EXPECT_EQ(v.sender_ssrc, 0x1a2b3c4du);
  EXPECT_FALSE(v.has_sender_info);
  std::vector<Seen> want = {{kRtcpRr, 1, 32, 0, false},
                            {kRtcpSdes, 1, 24, 32, false},
                            {kRtcpBye, 1, 16, 56, false}};
  EXPECT_EQ(walk(v), want);
  // The callback form sees the same packets.
  std::vector<uint8_t> types;
  for_each_rtcp_packet(v, [&](const RtcpPacketHeader& h) { types.push_back(h.type); });
  EXPECT_EQ(types, (std::vector<uint8_t>{kRtcpRr, kRtcpSdes, kRtcpBye}));
}

TEST(RtcpParse, PaddingOnLastPacket) {
  auto r = parse_rtcp_compound(kRrByePadded, sizeof(kRrByePadded));
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->num_packets, 2);
  EXPECT_EQ(r->padding_length, 4);
  std::vector<Seen> want = {{kRtcpRr, 0, 8, 0, false}, {kRtcpBye, 1, 12, 8, true}};
  EXPECT_EQ(walk(*r), want);
  // A lone SR may be padded too: it is both first and last.
  auto b = bytes(kSrSdes, 52);
  b[0] |= 0x20;
  b[3] += 1;  // one more word...
  b.insert(b.end(), {0, 0, 0, 4});  // ...of padding
  r = parse_rtcp_compound(b.data(), b.size());
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->padding_length, 4);
  EXPECT_TRUE(r->has_sender_info);
}

TEST(RtcpParse, ReducedSize) {
  auto r = parse_rtcp_compound(kPli, sizeof(kPli));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), RtcpError::kBadFirstType);
  r = parse_rtcp_compound(kPli, sizeof(kPli), /*allow_reduced_size=*/true);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->num_packets, 1);
  EXPECT_EQ(r->first_type, kRtcpPsfb);
  EXPECT_TRUE(r->has_sender_ssrc);
  EXPECT_EQ(r->sender_ssrc, 0x1a2b3c4du);
  EXPECT_FALSE(r->has_sender_info);
  std::vector<Seen> want = {{kRtcpPsfb, 1, 12, 0, false}};
  EXPECT_EQ(walk(*r), want);
  // An empty SDES (SC=0, header only) carries no SSRC at all.
  const uint8_t empty_sdes[] = {0x80, 0xca, 0x00, 0x00};
  r = parse_rtcp_compound(empty_sdes, sizeof(empty_sdes), true);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_FALSE(r->has_sender_ssrc);
  EXPECT_EQ(r->sender_ssrc, 0u);
  // Reduced size still applies every other check, and SR/RR first still work.
  EXPECT_EQ(parse_rtcp_compound(kSrSdes, sizeof(kSrSdes), true)->num_packets, 2);
}

TEST(RtcpParse, Errors) {
  auto err = [](const std::vector<uint8_t>& b, bool reduced = false) {
    auto r = parse_rtcp_compound(b.data(), b.size(), reduced);
    EXPECT_FALSE(r.ok());
    return r.ok() ? RtcpError(255) : r.error();
  };
  auto sr_sdes = [] { return bytes(kSrSdes, sizeof(kSrSdes)); };
  auto padded = [] { return bytes(kRrByePadded, sizeof(kRrByePadded)); };

  EXPECT_EQ(err({}), RtcpError::kTooShort);
  EXPECT_EQ(err({0x80, 0xc9, 0x00}), RtcpError::kTooShort);
  EXPECT_EQ(err(std::vector<uint8_t>(kRtcpMaxLength + 1, 0x80)), RtcpError::kTooLong);
  {
    auto b = sr_sdes();
    b.push_back(0);
    EXPECT_EQ(err(b), RtcpError::kBadLength);
    EXPECT_EQ(err(bytes(kSrSdes, 70)), RtcpError::kBadLength);
  }
  {
    auto b = sr_sdes();
    b[0] = 0x01;  // first packet V=0
    EXPECT_EQ(err(b), RtcpError::kBadVersion);
    b = sr_sdes();
    b[52] = 0x41;  // second packet V=1
    EXPECT_EQ(err(b), RtcpError::kBadVersion);
    b[52] = 0xc1;  // V=3
    EXPECT_EQ(err(b), RtcpError::kBadVersion);
  }
  {
    auto b = sr_sdes();
    b[55] = 5;  // SDES claims 24 octets, 20 left
    EXPECT_EQ(err(b), RtcpError::kLengthOverflow);
    b = sr_sdes();
    b[2] = 0xff;
    b[3] = 0xff;
    EXPECT_EQ(err(b), RtcpError::kLengthOverflow);
  }
  EXPECT_EQ(err(bytes(kSrSdes + 52, 20)), RtcpError::kBadFirstType);  // SDES first
  EXPECT_EQ(err(bytes(kRrSdesBye + 56, 16)), RtcpError::kBadFirstType);  // BYE first
  {
    auto b = sr_sdes();
    b[0] |= 0x20;  // P on the SR, which is not last
    EXPECT_EQ(err(b), RtcpError::kPaddingNotLast);
    EXPECT_EQ(err(b, true), RtcpError::kPaddingNotLast);
  }
  {
    auto b = padded();
    b.back() = 0;  // count 0
    EXPECT_EQ(err(b), RtcpError::kBadPadding);
    b.back() = 3;  // not a multiple of 4
    EXPECT_EQ(err(b), RtcpError::kBadPadding);
    b.back() = 12;  // more than the 8 octets after the BYE header
    EXPECT_EQ(err(b), RtcpError::kBadPadding);
    b.back() = 8;  // everything after the header: allowed
    EXPECT_TRUE(parse_rtcp_compound(b.data(), b.size()).ok());
  }
  {
    auto b = sr_sdes();
    b[0] = 0x82;  // RC=2, one block present
    EXPECT_EQ(err(b), RtcpError::kReportOverflow);
    // SR of 8 octets: SSRC but no sender info.
    EXPECT_EQ(err({0x80, 0xc8, 0x00, 0x01, 1, 2, 3, 4}), RtcpError::kReportOverflow);
    // RR of 4 octets: not even the SSRC.
    EXPECT_EQ(err({0x80, 0xc9, 0x00, 0x00}), RtcpError::kReportOverflow);
    // RR whose padding eats into the SSRC.
    EXPECT_EQ(err({0xa0, 0xc9, 0x00, 0x02, 1, 2, 3, 4, 0, 0, 0, 8}), RtcpError::kReportOverflow);
    // An RR later in the compound is checked too.
    EXPECT_EQ(err({0x80, 0xc9, 0x00, 0x01, 1, 2, 3, 4, 0x81, 0xc9, 0x00, 0x01, 1, 2, 3, 4}),
              RtcpError::kReportOverflow);
  }
}

std::vector<RtcpReportBlock> blocks_of(const uint8_t* p, size_t len, bool reduced = false) {
  std::vector<RtcpReportBlock> out;
  auto r = parse_rtcp_compound(p, len, reduced);
  EXPECT_TRUE(r.ok());
  if (r.ok()) for_each_rtcp_report_block(*r, [&](const RtcpReportBlock& b) { out.push_back(b); });
  return out;
}

TEST(RtcpReportBlocks, OfSrAndRrInOrder) {
  auto sr = blocks_of(kSrSdes, sizeof(kSrSdes));  // after the SR's sender info
  ASSERT_EQ(sr.size(), 1u);
  EXPECT_EQ(sr[0].ssrc, 0x1a2b3c4du);
  EXPECT_EQ(sr[0].fraction_lost, 5);
  EXPECT_EQ(sr[0].cumulative_lost, 18);
  EXPECT_EQ(sr[0].highest_seq, 0x00011f4cu);
  EXPECT_EQ(sr[0].jitter, 42u);
  EXPECT_EQ(sr[0].last_sr, 0x1a2b8000u);
  EXPECT_EQ(sr[0].delay_since_sr, 0x00018000u);

  auto rr = blocks_of(kRrSdesBye, sizeof(kRrSdesBye));  // right after the sender's SSRC
  ASSERT_EQ(rr.size(), 1u);
  EXPECT_EQ(rr[0].ssrc, 0x3c5a8e11u);
  EXPECT_EQ(rr[0].fraction_lost, 0);
  EXPECT_EQ(rr[0].cumulative_lost, 0);
  EXPECT_EQ(rr[0].highest_seq, 0x1f4du);
  EXPECT_EQ(rr[0].jitter, 16u);
  EXPECT_EQ(rr[0].last_sr, 0x4b1a2c80u);
  EXPECT_EQ(rr[0].delay_since_sr, 0x4000u);

  EXPECT_TRUE(blocks_of(kRrByePadded, sizeof(kRrByePadded)).empty());  // RC=0
  EXPECT_TRUE(blocks_of(kPli, sizeof(kPli), true).empty());            // no SR/RR at all

  // SR with two blocks, then an RR (not first: a later SR/RR counts too)
  // whose block has a negative cumulative loss (duplicates, §6.4.1).
  auto b = bytes(kSrSdes, 52);
  b[0] = 0x82;  // RC=2
  b[3] = 0x12;  // length 18: one more block
  const uint8_t second[24] = {0x0b, 0x0b, 0x0b, 0x0b, 0xff, 0x00, 0x00, 0x01};
  b.insert(b.end(), second, second + 24);
  const uint8_t rr2[] = {0x81, 0xc9, 0x00, 0x07, 1, 2, 3, 4,  // RC=1 | RR | length 7
                         0x0c, 0x0c, 0x0c, 0x0c, 0x40, 0xff, 0xff, 0xfe};
  b.insert(b.end(), rr2, rr2 + sizeof(rr2));
  b.resize(b.size() + 16);  // the rest of its block
  auto three = blocks_of(b.data(), b.size());
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].ssrc, 0x1a2b3c4du);
  EXPECT_EQ(three[1].ssrc, 0x0b0b0b0bu);
  EXPECT_EQ(three[1].fraction_lost, 255);
  EXPECT_EQ(three[1].cumulative_lost, 1);
  EXPECT_EQ(three[2].ssrc, 0x0c0c0c0cu);
  EXPECT_EQ(three[2].fraction_lost, 64);
  EXPECT_EQ(three[2].cumulative_lost, -2);
}

// A prefix is valid exactly when it ends on a packet boundary: the length
// fields must tile the datagram (A.2).
void check_prefixes(const uint8_t* pkt, size_t len, bool reduced) {
  auto full = parse_rtcp_compound(pkt, len, reduced);
  ASSERT_TRUE(full.ok());
  std::set<size_t> boundaries;
  for (RtcpPacketHeader h : *full) boundaries.insert(size_t(h.data - pkt) + h.length);
  for (size_t n = 0; n < len; ++n) {
    auto b = bytes(pkt, n);
    auto r = parse_rtcp_compound(b.data(), n, reduced);
    ASSERT_EQ(r.ok(), boundaries.count(n) == 1) << "prefix " << n;
    if (r.ok()) {
      size_t sum = 0;
      for (RtcpPacketHeader h : *r) sum += h.length;
      EXPECT_EQ(sum, n);
      EXPECT_EQ(size_t(r->num_packets), size_t(std::distance(boundaries.begin(), boundaries.find(n))) + 1);
    }
  }
}

TEST(RtcpParse, TruncationPrefixes) {
  for (bool reduced : {false, true}) {
    check_prefixes(kSrSdes, sizeof(kSrSdes), reduced);
    check_prefixes(kRrSdesBye, sizeof(kRrSdesBye), reduced);
    check_prefixes(kRrByePadded, sizeof(kRrByePadded), reduced);
  }
  check_prefixes(kPli, sizeof(kPli), true);
}

TEST(RtcpFeedback, StrippedFromTheCompoundInPlace) {
  // SR-less compound: RR, RTPFB NACK, SDES (empty chunk list), PSFB PLI.
  std::vector<uint8_t> d = {0x80, 201, 0, 1, 1, 2, 3, 4,                      // RR
                            0x81, 205, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0, 0,  // NACK
                            0x80, 202, 0, 0,                                  // SDES
                            0x81, 206, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};         // PLI
  ASSERT_TRUE(parse_rtcp_compound(d).ok());
  const uint16_t n = strip_rtcp_feedback(d.data(), uint16_t(d.size()));
  ASSERT_EQ(n, 12u);
  const std::vector<uint8_t> want = {0x80, 201, 0, 1, 1, 2, 3, 4, 0x80, 202, 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.begin() + n), want);
  EXPECT_TRUE(parse_rtcp_compound(d.data(), n).ok());
  // Nothing but feedback: nothing left.
  std::vector<uint8_t> fb = {0x81, 206, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(strip_rtcp_feedback(fb.data(), uint16_t(fb.size())), 0u);
  // No feedback: unchanged.
  std::vector<uint8_t> rr = {0x80, 201, 0, 1, 1, 2, 3, 4};
  EXPECT_EQ(strip_rtcp_feedback(rr.data(), uint16_t(rr.size())), 8u);
}

TEST(RtcpErrorNames, AreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kRtcpErrorCount; ++i) {
    const char* s = to_string(RtcpError(i));
    ASSERT_NE(s, nullptr);
    names.insert(s);
  }
  EXPECT_EQ(names.size(), kRtcpErrorCount);
  EXPECT_EQ(names.count("rtcp-unknown-error"), 0u);
}

}  // namespace
}  // namespace vox::dataplane
