// SRTP costs, raw libsrtp2 beside voxrelay's wrapper in one binary so the
// TARGETS.md ratio (wrapper <= 1.10 x libsrtp2 per packet) is measured in
// one run: protect and unprotect of a 172-octet RTP packet for
// AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, srtp_create, and the cost
// of one SRTP call setup (see BM_CallSetup below for what it counts), also
// through the real CallManager (BM_CallManagerSetup).
#include <benchmark/benchmark.h>
#include <srtp2/srtp.h>
#include <time.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "bench/raw_srtp.h"
#include "control/call_manager.h"
#include "control/sdes.h"
#include "dataplane/srtp_context.h"
#include "dataplane/inline_dataplane.h"

namespace {

using namespace vox;
using dataplane::SrtpDirection;
using dataplane::SrtpKey;
using dataplane::SrtpStream;
using dataplane::SrtpSuite;

constexpr size_t kRtpLength = 172;  // 12-octet header + 20 ms of G.711
constexpr size_t kBatch = 1024;     // unprotect: packets sealed per untimed refill

std::array<uint8_t, kRtpLength> plain_packet() {
  std::array<uint8_t, kRtpLength> p{};
  const uint8_t header[12] = {0x80, 0x00, 0x1f, 0x4c, 0x00, 0x07,
                              0xd0, 0xa0, 0x3c, 0x5a, 0x8e, 0x11};
  std::memcpy(p.data(), header, sizeof(header));
  for (size_t i = 12; i < kRtpLength; ++i) p[i] = uint8_t(0x1e + i);
  return p;
}

SrtpKey fixed_key(SrtpSuite suite) {
  SrtpKey k;
  k.suite = suite;
  const auto& info = dataplane::srtp_suite_info(suite);
  k.key_salt_length = uint8_t(info.key_length + info.salt_length);
  for (size_t i = 0; i < k.key_salt_length; ++i) k.key_salt[i] = uint8_t(i * 13 + 7);
  return k;
}

// Packet buffer with libsrtp2's documented worst-case tailroom.
struct alignas(64) Buffer {
  uint8_t bytes[kRtpLength + SRTP_MAX_TRAILER_LEN + 4];
};

void set_sequence(uint8_t* p, uint16_t seq) {
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
}

// --- raw libsrtp2 ------------------------------------------------------------------

// libsrtp2 directly, with the test key.
struct RawSession : bench::RawSrtpSession {
  RawSession(SrtpSuite suite, srtp_ssrc_type_t type) : RawSrtpSession(suite, fixed_key(suite), type) {}
};

// The same packet with the next sequence number, protected in place, per
// iteration (a fresh copy each time, as a relay writes a new packet).
void BM_Protect_libsrtp2(benchmark::State& state, SrtpSuite suite) {
  RawSession s(suite, ssrc_any_outbound);
  const auto plain = plain_packet();
  Buffer buf;
  uint16_t seq = 0;
  for (auto _ : state) {
    std::memcpy(buf.bytes, plain.data(), kRtpLength);
    set_sequence(buf.bytes, ++seq);
    int len = int(kRtpLength);
    if (srtp_protect(s.ctx, buf.bytes, &len) != srtp_err_status_ok) state.SkipWithError("protect");
    benchmark::DoNotOptimize(len);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_Protect_voxrelay(benchmark::State& state, SrtpSuite suite) {
  auto s = SrtpStream::create(fixed_key(suite), SrtpDirection::kOutbound);
  if (!s.ok()) return state.SkipWithError("SrtpStream::create");
  const auto plain = plain_packet();
  Buffer buf;
  uint16_t seq = 0;
  for (auto _ : state) {
    std::memcpy(buf.bytes, plain.data(), kRtpLength);
    set_sequence(buf.bytes, ++seq);
    auto r = s->protect_rtp(buf.bytes, kRtpLength, sizeof(buf.bytes));
    if (!r.ok()) state.SkipWithError("protect");
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

// Unprotect needs a new index every time (replay protection): batches of
// kBatch packets are sealed outside the timed region, and each timed
// iteration copies one into the work buffer and unprotects it.
template <class Seal, class Open>
void unprotect_loop(benchmark::State& state, Seal seal, Open open) {
  const auto plain = plain_packet();
  std::vector<Buffer> sealed(kBatch);
  std::vector<int> lengths(kBatch);
  Buffer buf;
  uint16_t seq = 0;
  size_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      for (size_t i = 0; i < kBatch; ++i) {
        std::memcpy(sealed[i].bytes, plain.data(), kRtpLength);
        set_sequence(sealed[i].bytes, ++seq);
        lengths[i] = seal(sealed[i].bytes);
      }
      next = 0;
      state.ResumeTiming();
    }
    std::memcpy(buf.bytes, sealed[next].bytes, size_t(lengths[next]));
    if (!open(buf.bytes, lengths[next])) state.SkipWithError("unprotect");
    ++next;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_Unprotect_libsrtp2(benchmark::State& state, SrtpSuite suite) {
  RawSession out(suite, ssrc_any_outbound), in(suite, ssrc_any_inbound);
  unprotect_loop(
      state,
      [&](uint8_t* p) {
        int len = int(kRtpLength);
        srtp_protect(out.ctx, p, &len);
        return len;
      },
      [&](uint8_t* p, int len) { return srtp_unprotect(in.ctx, p, &len) == srtp_err_status_ok; });
}

void BM_Unprotect_voxrelay(benchmark::State& state, SrtpSuite suite) {
  RawSession out(suite, ssrc_any_outbound);
  auto in = SrtpStream::create(fixed_key(suite), SrtpDirection::kInbound);
  if (!in.ok()) return state.SkipWithError("SrtpStream::create");
  unprotect_loop(
      state,
      [&](uint8_t* p) {
        int len = int(kRtpLength);
        srtp_protect(out.ctx, p, &len);
        return len;
      },
      [&](uint8_t* p, int len) { return in->unprotect_rtp(p, size_t(len)).ok(); });
}

BENCHMARK_CAPTURE(BM_Protect_libsrtp2, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_Protect_voxrelay, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_Unprotect_libsrtp2, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_Unprotect_voxrelay, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_Protect_libsrtp2, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);
BENCHMARK_CAPTURE(BM_Protect_voxrelay, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);
BENCHMARK_CAPTURE(BM_Unprotect_libsrtp2, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);
BENCHMARK_CAPTURE(BM_Unprotect_voxrelay, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);

// Paired: on a shared VM the per-benchmark medians above drift by tens of
// percent between benchmarks, so the ratio is also measured inside one
// benchmark: alternating blocks of 256 packets through libsrtp2 and through
// SrtpStream (same packets, separate contexts, the order flipped every
// block), each block timed in thread CPU time (a preemption of this
// shared VM lands in neither). Counters: libsrtp2_ns and
// voxrelay_ns per packet, ratio = voxrelay / libsrtp2.
double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

template <bool kUnprotect>
void BM_Paired(benchmark::State& state, SrtpSuite suite) {
  constexpr size_t kBlock = 256;
  RawSession raw_out(suite, ssrc_any_outbound), raw_in(suite, ssrc_any_inbound),
      sealer(suite, ssrc_any_outbound);
  auto vox_out = SrtpStream::create(fixed_key(suite), SrtpDirection::kOutbound);
  auto vox_in = SrtpStream::create(fixed_key(suite), SrtpDirection::kInbound);
  if (!vox_out.ok() || !vox_in.ok()) return state.SkipWithError("SrtpStream::create");
  const auto plain = plain_packet();
  std::vector<Buffer> sealed(kBlock);
  std::vector<int> lengths(kBlock);
  Buffer buf;
  uint16_t seq = 0, raw_seq = 0, vox_seq = 0;
  double raw_ns = 0, vox_ns = 0;
  bool failed = false;
  auto time_block = [&](bool raw) {
    const double t0 = thread_cpu_ns();
    uint16_t& s = raw ? raw_seq : vox_seq;
    for (size_t i = 0; i < kBlock; ++i) {
      if constexpr (kUnprotect) {
        std::memcpy(buf.bytes, sealed[i].bytes, size_t(lengths[i]));
        int len = lengths[i];
        failed |= raw ? srtp_unprotect(raw_in.ctx, buf.bytes, &len) != srtp_err_status_ok
                      : !vox_in->unprotect_rtp(buf.bytes, size_t(len)).ok();
      } else {
        std::memcpy(buf.bytes, plain.data(), kRtpLength);
        set_sequence(buf.bytes, ++s);
        int len = int(kRtpLength);
        failed |= raw ? srtp_protect(raw_out.ctx, buf.bytes, &len) != srtp_err_status_ok
                      : !vox_out->protect_rtp(buf.bytes, kRtpLength, sizeof(buf.bytes)).ok();
      }
      benchmark::ClobberMemory();
    }
    const double ns = thread_cpu_ns() - t0;
    (raw ? raw_ns : vox_ns) += ns;
  };
  bool raw_first = true;
  int64_t blocks = 0;
  for (auto _ : state) {
    if constexpr (kUnprotect) {
      for (size_t i = 0; i < kBlock; ++i) {
        std::memcpy(sealed[i].bytes, plain.data(), kRtpLength);
        set_sequence(sealed[i].bytes, ++seq);
        lengths[i] = int(kRtpLength);
        srtp_protect(sealer.ctx, sealed[i].bytes, &lengths[i]);
      }
    }
    time_block(raw_first);
    time_block(!raw_first);
    raw_first = !raw_first;
    ++blocks;
  }
  if (failed) state.SkipWithError("protect/unprotect failed");
  const double packets = double(blocks) * kBlock;
  state.counters["libsrtp2_ns"] = raw_ns / packets;
  state.counters["voxrelay_ns"] = vox_ns / packets;
  state.counters["ratio"] = vox_ns / raw_ns;
}
void BM_PairedProtect(benchmark::State& state, SrtpSuite suite) {
  BM_Paired<false>(state, suite);
}
void BM_PairedUnprotect(benchmark::State& state, SrtpSuite suite) {
  BM_Paired<true>(state, suite);
}
BENCHMARK_CAPTURE(BM_PairedProtect, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_PairedUnprotect, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_PairedProtect, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);
BENCHMARK_CAPTURE(BM_PairedUnprotect, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);

// --- setup costs ------------------------------------------------------------------------

// srtp_create + srtp_dealloc of one session (TARGETS.md: 4.7 µs with OpenSSL,
// 813 µs with Debian's NSS build).
void BM_SrtpCreate_libsrtp2(benchmark::State& state, SrtpSuite suite) {
  for (auto _ : state) {
    RawSession s(suite, ssrc_any_inbound);
    if (!s.ctx) state.SkipWithError("srtp_create");
    benchmark::DoNotOptimize(s.ctx);
  }
}
BENCHMARK_CAPTURE(BM_SrtpCreate_libsrtp2, AES_CM_128_HMAC_SHA1_80, SrtpSuite::kAesCm128HmacSha1_80);
BENCHMARK_CAPTURE(BM_SrtpCreate_libsrtp2, AEAD_AES_128_GCM, SrtpSuite::kAeadAes128Gcm);

// One SRTP call setup as the relay performs it: offer + answer on both of
// its sides, with key generation and SRTP context creation for each, then
// the call's teardown (contexts freed). Party A's offer and party B's answer
// arrive as text (their own crypto is not the relay's cost).
//  - SrtpToSrtp (re-encryption, the heaviest case): parse A's offer and
//    choose a line, generate the relay's key for A and render the answer
//    line; generate 5 keys and render the 5-line offer to B; parse and match
//    B's answer; create 4 contexts (A in/out, B in/out).
//  - RtpToSrtp (one SRTP side): the offer to B, B's answer, 2 contexts.
// items_per_second is call setups per second on one core.
struct CallInputs {
  std::vector<std::string> a_offer_text;  // a softphone's typical two lines
  std::string b_answer_text;              // B takes our first line (tag 1, AEAD_AES_256_GCM)
  CallInputs() {
    control::SdesFlags only32;
    only32.only_given = true;
    only32.only = uint8_t(1u << unsigned(SrtpSuite::kAesCm128HmacSha1_80) |
                          1u << unsigned(SrtpSuite::kAesCm128HmacSha1_32));
    auto a = control::make_sdes_offer(only32);
    for (const auto& l : *a) a_offer_text.push_back(control::render_sdes_crypto(l));
    auto b_key = control::generate_srtp_key(SrtpSuite::kAeadAes256Gcm);
    control::SdesCrypto b{.tag = 1, .key = *b_key, .lifetime = {}, .other_params = {}};
    b_answer_text = control::render_sdes_crypto(b);
  }
};

void BM_CallSetup(benchmark::State& state, bool srtp_both_sides) {
  const CallInputs in;
  std::vector<std::string_view> a_offer(in.a_offer_text.begin(), in.a_offer_text.end());
  const std::string_view b_answer[1] = {in.b_answer_text};
  const control::SdesFlags flags;
  for (auto _ : state) {
    std::vector<SrtpStream> streams;
    streams.reserve(4);
    if (srtp_both_sides) {
      auto to_a = control::make_sdes_answer(a_offer, flags);
      std::string answer_line = control::render_sdes_crypto(to_a->line);
      benchmark::DoNotOptimize(answer_line.data());
      streams.push_back(
          std::move(SrtpStream::create(to_a->session.inbound, SrtpDirection::kInbound).value()));
      streams.push_back(
          std::move(SrtpStream::create(to_a->session.outbound, SrtpDirection::kOutbound).value()));
    }
    auto offer = control::make_sdes_offer(flags);
    std::string offer_lines;
    for (const auto& l : *offer) offer_lines += control::render_sdes_crypto(l);
    benchmark::DoNotOptimize(offer_lines.data());
    auto to_b = control::accept_sdes_answer(*offer, b_answer);
    if (!to_b.ok()) state.SkipWithError("answer");
    streams.push_back(
        std::move(SrtpStream::create(to_b->inbound, SrtpDirection::kInbound).value()));
    streams.push_back(
        std::move(SrtpStream::create(to_b->outbound, SrtpDirection::kOutbound).value()));
    benchmark::DoNotOptimize(streams.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK_CAPTURE(BM_CallSetup, SrtpToSrtp, true);
BENCHMARK_CAPTURE(BM_CallSetup, RtpToSrtp, false);

// The same through the real CallManager, the done-when figure:
// offer (the callee is offered RTP/SAVP with five fresh keys), the callee's
// answer (one line, AES_CM_128_HMAC_SHA1_80), SRTP contexts built for both
// flows of each SRTP side and handed to the worker in kSetSrtp commands
// (applied in-line by the in-memory dataplane, as in tests/control/),
// then delete and teardown, where the worker frees them. SDP parsing and
// rendering, ports and flows are part of each setup. RtpToSrtp: a plain
// caller, 4 contexts; SrtpToSrtp: an SRTP caller too, 8 contexts.
// items_per_second is call setups per second on one core.
void BM_CallManagerSetup(benchmark::State& state, bool srtp_caller) {
  auto body = [](const char* addr, int port, const char* proto, const std::string& crypto) {
    return std::string("v=0\r\no=- 1 1 IN IP4 ") + addr + "\r\ns=-\r\nc=IN IP4 " + addr +
           "\r\nt=0 0\r\nm=audio " + std::to_string(port) + " " + proto +
           " 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" + crypto;
  };
  auto line = [](uint32_t tag, SrtpSuite suite) {
    control::SdesCrypto c{
        .tag = tag, .key = *control::generate_srtp_key(suite), .lifetime = {}, .other_params = {}};
    return "a=crypto:" + control::render_sdes_crypto(c) + "\r\n";
  };
  control::Config config;
  config.interfaces.push_back(
      {"default", *IpAddr::parse("203.0.113.1"), *IpAddr::parse("203.0.113.1")});
  config.port_min = 30000;
  config.port_max = 30099;
  config.delete_delay_s = 0;
  dataplane::InlineDataplane plane{1};
  control::CallManager cm(config, plane);
  const control::CallManager::Clock now{1'000'000'000'000, 1'700'000'000};

  control::SignalRequest offer, answer;
  offer.call_id = answer.call_id = "bench";
  offer.from_tag = answer.from_tag = "A";
  answer.to_tag = "B";
  offer.sdp = srtp_caller ? body("192.0.2.10", 4000, "RTP/SAVP",
                                 line(1, SrtpSuite::kAesCm128HmacSha1_80) +
                                     line(2, SrtpSuite::kAesCm128HmacSha1_32))
                          : body("192.0.2.10", 4000, "RTP/AVP", "");
  offer.transport_protocol = "RTP/SAVP";
  answer.sdp = body("198.51.100.7", 5000, "RTP/SAVP", line(4, SrtpSuite::kAesCm128HmacSha1_80));

  for (auto _ : state) {
    auto o = cm.offer(offer, now);
    auto a = cm.answer(answer, now);
    if (!o.ok() || !a.ok()) return state.SkipWithError("offer/answer failed");
    benchmark::DoNotOptimize(a->sdp.data());
    if (!cm.remove("bench", "", "", "", 0, now).ok() || cm.tick(now) != 1)
      return state.SkipWithError("delete failed");
  }
  // Every setup installed SRTP on both flows of each SRTP side.
  if (plane.applied[size_t(dataplane::CommandType::kSetSrtp)] != int64_t(state.iterations()) * (srtp_caller ? 4 : 2))
    state.SkipWithError("SRTP slots not installed");
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK_CAPTURE(BM_CallManagerSetup, RtpToSrtp, false);
BENCHMARK_CAPTURE(BM_CallManagerSetup, SrtpToSrtp, true);

}  // namespace

BENCHMARK_MAIN();
