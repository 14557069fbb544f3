// Tests for control/webrtc/dtls_*.cc: a client and a server DtlsSession,
// each with its own DtlsContext (so their certificates differ), pumped
// through pop()/on_datagram() in memory; the a=fingerprint syntax; PEM
// identities made with the openssl CLI; and the exported keys driving a
// real SrtpStream pair. OpenSSL 3.0 runs its retransmission timer on the
// wall clock (see dtls.h), so the retransmission tests use a 20 ms initial
// timeout and wait that long for real.
#include "control/webrtc/dtls.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "dataplane/srtp_context.h"

namespace vox::control::webrtc {
namespace {

using dataplane::SrtpDirection;
using dataplane::SrtpStream;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000'000 * kMs;  // the fake clock's start

std::unique_ptr<DtlsContext> make_context(DtlsOptions o = {}) {
  auto c = DtlsContext::create(o);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error());
  return c.ok() ? std::move(c).value() : nullptr;
}

// Datagrams moved from one side to the other; return false to drop it.
using Filter = std::function<bool(bool from_client, const std::vector<uint8_t>&)>;

struct Pair {
  std::unique_ptr<DtlsContext> client_ctx, server_ctx;
  std::unique_ptr<DtlsSession> client, server;
  int64_t now = kT0;
  std::vector<size_t> sizes;  // of every datagram sent, either way

  explicit Pair(DtlsOptions client_opt = {}, DtlsOptions server_opt = {})
      : client_ctx(make_context(client_opt)), server_ctx(make_context(server_opt)) {}
  // The relay is the client toward the server's certificate, and vice versa.
  void make(std::string_view client_sees = {}, std::string_view server_sees = {}) {
    client = std::make_unique<DtlsSession>(
        *client_ctx, true, client_sees.empty() ? server_ctx->fingerprint() : client_sees);
    server = std::make_unique<DtlsSession>(
        *server_ctx, false, server_sees.empty() ? client_ctx->fingerprint() : server_sees);
  }
  // Delivers datagrams both ways until there are none; returns how many moved.
  int pump(const Filter& filter = {}) {
    int moved = 0;
    std::vector<uint8_t> d;
    for (bool progress = true; progress;) {
      progress = false;
      for (bool from_client : {true, false}) {
        DtlsSession& src = from_client ? *client : *server;
        DtlsSession& dst = from_client ? *server : *client;
        while (src.pop(d)) {
          progress = true;
          sizes.push_back(d.size());
          now += kMs;
          if (!filter || filter(from_client, d)) dst.on_datagram(d, now), ++moved;
        }
      }
    }
    return moved;
  }
  bool connected() const {
    return client->state() == DtlsState::kConnected && server->state() == DtlsState::kConnected;
  }
  bool settled() const {
    return client->state() != DtlsState::kHandshaking && server->state() != DtlsState::kHandshaking;
  }
  // Pumps, running both sides' timers when nothing moves, until both sides
  // connected or failed or `real_limit` of real time passed.
  void run(const Filter& filter = {},
           std::chrono::milliseconds real_limit = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + real_limit;
    while (!settled() && std::chrono::steady_clock::now() < deadline) {
      if (pump(filter) > 0) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const int64_t t = std::min(client->next_timer_ns(), server->next_timer_ns());
      if (t != INT64_MAX) now = std::max(now, t);
      client->on_timer(now);
      server->on_timer(now);
    }
  }
  void handshake() {
    make();
    client->start(now);
    server->start(now);
    pump();
  }
};

bool no_keys(const DtlsSession& s) {
  return s.keys().inbound.key_salt_length == 0 && s.keys().outbound.key_salt_length == 0;
}

// --- names and fingerprints ----------------------------------------------------------

TEST(DtlsNames, TablesNameEveryValue) {
  EXPECT_STREQ(to_string(DtlsState::kHandshaking), "handshaking");
  EXPECT_STREQ(to_string(DtlsState::kFailed), "failed");
  EXPECT_STREQ(to_string(DtlsFailure::kFingerprintMismatch), "fingerprint-mismatch");
  EXPECT_STREQ(to_string(DtlsFailure::kBadFingerprint), "bad-fingerprint");
  EXPECT_STREQ(to_string(DtlsFailure::kNoSrtpProfile), "no-srtp-profile");
  EXPECT_STREQ(to_string(DtlsFailure::kTimeout), "timeout");
  EXPECT_STREQ(to_string(DtlsHash::kSha256), "sha-256");
}

TEST(DtlsFingerprint, ParsesVariants) {
  const std::string upper =
      "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3F:F8:2B:9F:"
      "B8:6C:AC:E2:0F:00:00:01";
  auto f = parse_dtls_fingerprint(upper);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->hash, DtlsHash::kSha256);
  EXPECT_EQ(f->length, 32);
  EXPECT_EQ(f->digest[0], 0x4a);
  EXPECT_EQ(f->digest[31], 0x01);
  EXPECT_EQ(render_dtls_fingerprint(*f), upper);

  std::string lower = upper;
  for (char& c : lower) c = char(std::tolower(c));
  EXPECT_EQ(parse_dtls_fingerprint(lower), f);
  EXPECT_EQ(parse_dtls_fingerprint("SHA-256" + upper.substr(7)), f);
  EXPECT_EQ(parse_dtls_fingerprint("  \tsha-256 \t " + upper.substr(8) + " \r\n"), f);

  auto hex = [](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (i ? ":" : "") + std::string(i % 2 ? "0f" : "A0");
    return s;
  };
  EXPECT_EQ(parse_dtls_fingerprint("sha-1 " + hex(20))->hash, DtlsHash::kSha1);
  EXPECT_EQ(parse_dtls_fingerprint("sha-224 " + hex(28))->hash, DtlsHash::kSha224);
  EXPECT_EQ(parse_dtls_fingerprint("Sha-384 " + hex(48))->hash, DtlsHash::kSha384);
  EXPECT_EQ(parse_dtls_fingerprint("SHA-512 " + hex(64))->length, 64);
  EXPECT_EQ(render_dtls_fingerprint(*parse_dtls_fingerprint("sha-1 " + hex(20))),
            "sha-1 A0:0F:A0:0F:A0:0F:A0:0F:A0:0F:A0:0F:A0:0F:A0:0F:A0:0F:A0:0F");
}

TEST(DtlsFingerprint, RejectsMalformed) {
  const std::string h32 =
      "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3F:F8:2B:9F:B8:6C:AC:E2:0F:00:"
      "00:01";
  EXPECT_TRUE(parse_dtls_fingerprint("sha-256 " + h32));
  for (const std::string& bad : {
           std::string(""), std::string("sha-256"), "sha-256 " + h32.substr(3),  // 31 octets
           "sha-256 " + h32 + ":02",                                             // 33 octets
           "sha-256 " + h32 + ":",                                               // trailing colon
           "md5 " + h32.substr(0, 47),                                           // unsupported hash
           "sha256 " + h32,                                      // not the IANA name
           "sha-256 " + h32.substr(0, 5) + "-" + h32.substr(6),  // not a colon
           "sha-256 " + h32.substr(0, 3) + "G" + h32.substr(4),  // not hex
           "sha-256 " + h32.substr(0, 3) + "4" + h32.substr(5),  // one digit
           "sha-1 " + h32,                                       // length of sha-256
           h32,                                                  // no hash name
       })
    EXPECT_FALSE(parse_dtls_fingerprint(bad)) << bad;
}

// --- the context ---------------------------------------------------------------------

TEST(DtlsContext, GeneratedIdentitiesDiffer) {
  auto a = make_context(), b = make_context();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->fingerprint().size(), 8u + 32 * 3 - 1);
  EXPECT_EQ(a->fingerprint().substr(0, 8), "sha-256 ");
  EXPECT_TRUE(parse_dtls_fingerprint(a->fingerprint()));
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_EQ(a->mtu(), 1200);
}

TEST(DtlsContext, RejectsBadOptions) {
  auto error_of = [](DtlsOptions o) {
    auto c = DtlsContext::create(o);
    return c.ok() ? std::string() : c.error();
  };
  DtlsOptions o;
  o.mtu = 255;
  EXPECT_NE(error_of(o).find("mtu 255"), std::string::npos);
  o.mtu = 70000;
  EXPECT_NE(error_of(o).find("mtu"), std::string::npos);
  o = {};
  o.ciphers = "NO-SUCH-CIPHER";
  EXPECT_NE(error_of(o).find("cipher"), std::string::npos);
  o = {};
  o.srtp_profiles = "SRTP_AEAD_AES_128_GCM:SRTP_NULL_SHA1_80";
  EXPECT_NE(error_of(o).find("SRTP_NULL_SHA1_80"), std::string::npos);
  o = {};
  o.cert_file = "/nonexistent/cert.pem";
  const std::string e = error_of(o);
  EXPECT_NE(e.find("/nonexistent/cert.pem"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  o = {};
  o.key_file = "/tmp/key.pem";
  EXPECT_NE(error_of(o).find("without a certificate"), std::string::npos);
}

class DtlsPem : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dtls_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  // A P-256 certificate and key from the openssl CLI.
  bool make_pem(const char* cert, const char* key) {
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=pemtest "
        "-days 2 -keyout " +
        path(key) + " -out " + path(cert) + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
  // "sha-256 AB:..." as the openssl CLI computes it.
  std::string cli_fingerprint(const char* cert, const char* hash = "sha256") {
    const std::string cmd =
        std::string("openssl x509 -noout -fingerprint -") + hash + " -in " + path(cert);
    FILE* p = popen(cmd.c_str(), "r");
    char buf[256] = {};
    if (p == nullptr) return {};
    const bool got = fgets(buf, sizeof buf, p) != nullptr;
    pclose(p);
    std::string line = got ? buf : "";
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return {};
    line = line.substr(eq + 1);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return std::string(hash) == "sha256" ? "sha-256 " + line : "sha-1 " + line;
  }
  std::filesystem::path dir_;
};

TEST_F(DtlsPem, LoadsCertificateAndKey) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  ASSERT_TRUE(make_pem("a.pem", "a.key"));
  ASSERT_TRUE(make_pem("b.pem", "b.key"));
  DtlsOptions o;
  o.cert_file = path("a.pem");
  o.key_file = path("a.key");
  auto c = DtlsContext::create(o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ((*c)->fingerprint(), cli_fingerprint("a.pem"));

  // Certificate and key in one file.
  {
    std::ofstream both(path("both.pem"));
    both << std::ifstream(path("a.pem")).rdbuf() << std::ifstream(path("a.key")).rdbuf();
  }
  o.cert_file = path("both.pem");
  o.key_file.clear();
  auto c2 = DtlsContext::create(o);
  ASSERT_TRUE(c2.ok()) << c2.error();
  EXPECT_EQ((*c2)->fingerprint(), (*c)->fingerprint());

  // A key that is not the certificate's.
  o.cert_file = path("a.pem");
  o.key_file = path("b.key");
  auto bad = DtlsContext::create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("mismatch"), std::string::npos) << bad.error();
  // Not PEM at all.
  { std::ofstream(path("junk.pem")) << "not a certificate\n"; }
  o.cert_file = path("junk.pem");
  o.key_file = path("a.key");
  auto junk = DtlsContext::create(o);
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().find("junk.pem"), std::string::npos) << junk.error();
  EXPECT_EQ(junk.error().find('\n'), std::string::npos);

  // A PEM identity completes a handshake with a generated one.
  o.cert_file = path("a.pem");
  o.key_file = path("a.key");
  Pair p(o, {});
  p.handshake();
  EXPECT_TRUE(p.connected()) << p.client->failure_detail() << " / " << p.server->failure_detail();

  // The peer names it by its sha-1, in lower case (RFC 8122 §5 allows any
  // registered hash).
  std::string sha1 = cli_fingerprint("a.pem", "sha1");
  ASSERT_EQ(sha1.size(), 6u + 20 * 3 - 1) << sha1;
  for (char& ch : sha1) ch = char(std::tolower(ch));
  Pair q(o, {});
  q.make({}, sha1);
  q.client->start(q.now);
  q.pump();
  EXPECT_TRUE(q.connected()) << q.server->failure_detail();
}

// --- handshakes ----------------------------------------------------------------------

TEST(DtlsSession, HandshakeConnectsWithMatchingKeys) {
  Pair p;
  p.make();
  EXPECT_EQ(p.client->state(), DtlsState::kHandshaking);
  p.server->start(p.now);  // a server sends nothing first
  std::vector<uint8_t> d;
  EXPECT_FALSE(p.server->pop(d));
  p.client->start(p.now);
  ASSERT_NE(p.client->next_timer_ns(), INT64_MAX);  // the ClientHello's retransmission
  p.pump();
  ASSERT_TRUE(p.connected()) << p.client->failure_detail() << " / " << p.server->failure_detail();
  EXPECT_EQ(p.client->failure(), DtlsFailure::kNone);
  EXPECT_EQ(p.client->next_timer_ns(), INT64_MAX);
  EXPECT_EQ(p.server->next_timer_ns(), INT64_MAX);

  const SdesSession& c = p.client->keys();
  const SdesSession& s = p.server->keys();
  EXPECT_EQ(c.tag, 0u);
  EXPECT_TRUE(c.outbound.valid());
  EXPECT_TRUE(c.inbound.valid());
  EXPECT_EQ(c.outbound, s.inbound);
  EXPECT_EQ(c.inbound, s.outbound);
  EXPECT_NE(c.inbound, c.outbound);
  // GCM by default: 16 octets of key, 12 of salt (RFC 7714 §12).
  EXPECT_EQ(c.outbound.suite, SrtpSuite::kAeadAes128Gcm);
  EXPECT_EQ(c.outbound.key_salt_length, 28);
  EXPECT_EQ(p.client->srtp_profile(), "SRTP_AEAD_AES_128_GCM");
  EXPECT_EQ(p.server->srtp_profile(), "SRTP_AEAD_AES_128_GCM");
  EXPECT_EQ(p.client->cipher(), p.server->cipher());
  EXPECT_NE(p.client->cipher().find("ECDHE-ECDSA"), std::string_view::npos) << p.client->cipher();
  EXPECT_GT(p.client->handshake_ns(), 0);
  EXPECT_GT(p.server->handshake_ns(), 0);
  for (size_t n : p.sizes) EXPECT_LE(n, 1200u);
}

TEST(DtlsSession, TwoHandshakesGiveDifferentKeys) {
  Pair a, b;
  a.handshake();
  b.handshake();
  ASSERT_TRUE(a.connected() && b.connected());
  EXPECT_NE(a.client->keys().outbound, b.client->keys().outbound);
}

TEST(DtlsSession, CmWhenThePeerOffersOnlyIt) {
  DtlsOptions cm;
  cm.srtp_profiles = "SRTP_AES128_CM_SHA1_80";
  Pair p(cm, {});
  p.handshake();
  ASSERT_TRUE(p.connected());
  EXPECT_EQ(p.server->srtp_profile(), "SRTP_AES128_CM_SHA1_80");
  EXPECT_EQ(p.server->keys().inbound.suite, SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(p.server->keys().inbound.key_salt_length, 30);
  EXPECT_EQ(p.client->keys().outbound, p.server->keys().inbound);
}

TEST(DtlsSession, ServerPreferenceWins) {
  DtlsOptions cm_first;
  cm_first.srtp_profiles = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM";
  Pair p(cm_first, {});  // the client prefers CM; the server (relay default) GCM
  p.handshake();
  ASSERT_TRUE(p.connected());
  EXPECT_EQ(p.client->srtp_profile(), "SRTP_AEAD_AES_128_GCM");
}

TEST(DtlsSession, NoCommonProfileFails) {
  DtlsOptions cm32;
  cm32.srtp_profiles = "SRTP_AES128_CM_SHA1_32";
  Pair p(cm32, {});
  p.handshake();
  EXPECT_EQ(p.server->state(), DtlsState::kFailed);
  EXPECT_EQ(p.server->failure(), DtlsFailure::kNoSrtpProfile);
  EXPECT_NE(p.client->state(), DtlsState::kConnected);
  EXPECT_TRUE(no_keys(*p.server));
  EXPECT_TRUE(no_keys(*p.client));
}

TEST(DtlsSession, ClientRejectsServerWithOtherCertificate) {
  Pair p;
  auto other = make_context();
  p.make(other->fingerprint(), {});
  p.client->start(p.now);
  p.pump();
  EXPECT_EQ(p.client->state(), DtlsState::kFailed);
  EXPECT_EQ(p.client->failure(), DtlsFailure::kFingerprintMismatch);
  EXPECT_EQ(p.server->state(), DtlsState::kFailed);  // the client's bad_certificate alert
  EXPECT_EQ(p.server->failure(), DtlsFailure::kAlert);
  EXPECT_NE(p.server->failure_detail().find("bad certificate"), std::string_view::npos)
      << p.server->failure_detail();
  EXPECT_TRUE(no_keys(*p.client));
  EXPECT_TRUE(no_keys(*p.server));
  EXPECT_TRUE(p.client->srtp_profile().empty());
}

TEST(DtlsSession, ServerRejectsClientWithOtherCertificate) {
  Pair p;
  auto other = make_context();
  p.make({}, other->fingerprint());
  p.client->start(p.now);
  p.pump();
  EXPECT_EQ(p.server->state(), DtlsState::kFailed);
  EXPECT_EQ(p.server->failure(), DtlsFailure::kFingerprintMismatch);
  EXPECT_EQ(p.client->state(), DtlsState::kFailed);
  EXPECT_EQ(p.client->failure(), DtlsFailure::kAlert);
  EXPECT_TRUE(no_keys(*p.client));
  EXPECT_TRUE(no_keys(*p.server));
}

TEST(DtlsSession, FingerprintCaseDoesNotMatter) {
  Pair p;
  std::string lower = p.server_ctx->fingerprint();
  for (char& c : lower) c = char(std::tolower(c));
  p.make("SHA-256 " + lower.substr(8), {});
  p.client->start(p.now);
  p.pump();
  EXPECT_TRUE(p.connected()) << p.client->failure_detail();
}

TEST(DtlsSession, BadFingerprintFailsAtOnce) {
  auto ctx = make_context();
  for (std::string_view fp : {"md5 00:11", "", "sha-256 zz"}) {
    DtlsSession s(*ctx, true, fp);
    EXPECT_EQ(s.state(), DtlsState::kFailed);
    EXPECT_EQ(s.failure(), DtlsFailure::kBadFingerprint);
    s.start(kT0);
    std::vector<uint8_t> d;
    EXPECT_FALSE(s.pop(d));
    EXPECT_EQ(s.next_timer_ns(), INT64_MAX);
    s.on_datagram(std::vector<uint8_t>{22, 0xfe, 0xfd}, kT0);
    EXPECT_EQ(s.failure(), DtlsFailure::kBadFingerprint);
  }
}

TEST(DtlsSession, SmallMtuFragmentsFlights) {
  DtlsOptions o;
  o.mtu = 300;
  Pair small(o, o), big;
  small.handshake();
  big.handshake();
  ASSERT_TRUE(small.connected()) << small.client->failure_detail();
  ASSERT_TRUE(big.connected());
  for (size_t n : small.sizes) EXPECT_LE(n, 300u);
  EXPECT_GT(small.sizes.size(), big.sizes.size());  // the certificate flights were split
  EXPECT_EQ(small.client->keys().outbound, small.server->keys().inbound);
}

TEST(DtlsSession, DroppedFlightsAreRetransmitted) {
  DtlsOptions o;
  o.initial_timeout_ms = 20;
  Pair p(o, o);
  p.make();
  p.client->start(p.now);
  // The first ClientHello and the server's first flight are lost.
  int client_sent = 0, server_sent = 0;
  std::vector<uint8_t> first_hello;
  p.run([&](bool from_client, const std::vector<uint8_t>& d) {
    if (from_client && client_sent++ == 0) {
      first_hello = d;
      return false;
    }
    if (!from_client && server_sent++ == 0) return false;
    return true;
  });
  ASSERT_TRUE(p.connected()) << p.client->failure_detail() << " / " << p.server->failure_detail();
  EXPECT_EQ(p.client->keys().outbound, p.server->keys().inbound);
  EXPECT_FALSE(first_hello.empty());
  EXPECT_GE(client_sent, 3);  // the hello twice, then the client's second flight
}

TEST(DtlsSession, ServerAnswersRetransmissionAfterConnecting) {
  DtlsOptions o;
  o.initial_timeout_ms = 20;
  Pair p(o, o);
  p.make();
  p.client->start(p.now);
  // The server's last flight (ChangeCipherSpec, Finished) is lost once: the
  // server is connected, the client retransmits its flight, and the
  // connected server repeats its own.
  bool dropped = false;
  p.run([&](bool from_client, const std::vector<uint8_t>&) {
    if (!from_client && p.server->state() == DtlsState::kConnected && !dropped) {
      dropped = true;
      return false;
    }
    return true;
  });
  EXPECT_TRUE(dropped);
  ASSERT_TRUE(p.connected()) << p.client->failure_detail() << " / " << p.server->failure_detail();
  EXPECT_EQ(p.client->keys().outbound, p.server->keys().inbound);
}

TEST(DtlsSession, ReleasedServerResendsItsLastFlight) {
  // As the relay does: the server frees OpenSSL's state as soon as it is
  // connected. Its last flight is lost; the client retransmits its own and
  // the released server answers from the copy it kept.
  DtlsOptions o;
  o.initial_timeout_ms = 20;
  Pair p(o, o);
  p.make();
  p.client->start(p.now);
  int dropped = 0, resent = 0;
  p.run([&](bool from_client, const std::vector<uint8_t>&) {
    if (from_client || p.server->state() != DtlsState::kConnected) return true;
    p.server->release();
    if (dropped++ == 0) return false;
    ++resent;
    return true;
  });
  ASSERT_TRUE(p.connected()) << p.client->failure_detail() << " / " << p.server->failure_detail();
  EXPECT_EQ(dropped, 1 + resent);
  EXPECT_GE(resent, 1);
  EXPECT_EQ(p.client->keys().outbound, p.server->keys().inbound);
  EXPECT_EQ(p.client->keys().inbound, p.server->keys().outbound);

  // Only a retransmitted Finished (a handshake record of epoch 1) makes it
  // resend: not a plaintext handshake record, not application data.
  std::vector<uint8_t> d;
  const std::vector<uint8_t> hello_epoch0{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 1};
  const std::vector<uint8_t> data_epoch1{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 1};
  const std::vector<uint8_t> finished_epoch1{22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 1};
  p.server->on_datagram(hello_epoch0, p.now);
  p.server->on_datagram(data_epoch1, p.now);
  EXPECT_FALSE(p.server->pop(d));
  p.server->on_datagram(finished_epoch1, p.now);
  EXPECT_TRUE(p.server->pop(d));
  // A released client has nothing to resend.
  p.client->release();
  p.client->on_datagram(finished_epoch1, p.now);
  EXPECT_FALSE(p.client->pop(d));
}

TEST(DtlsSession, GivesUpAfterThirtySeconds) {
  Pair p;
  p.make();
  p.client->start(kT0);
  p.server->start(kT0);
  std::vector<uint8_t> d;
  while (p.client->pop(d)) {
  }
  EXPECT_LE(p.client->next_timer_ns(), kT0 + kDtlsHandshakeLimitNs);
  EXPECT_EQ(p.server->next_timer_ns(), kT0 + kDtlsHandshakeLimitNs);
  p.client->on_timer(kT0 + kDtlsHandshakeLimitNs - kMs);
  EXPECT_EQ(p.client->state(), DtlsState::kHandshaking);
  p.client->on_timer(kT0 + kDtlsHandshakeLimitNs);
  p.server->on_timer(kT0 + kDtlsHandshakeLimitNs);
  for (auto* s : {p.client.get(), p.server.get()}) {
    EXPECT_EQ(s->state(), DtlsState::kFailed);
    EXPECT_EQ(s->failure(), DtlsFailure::kTimeout);
    EXPECT_EQ(s->next_timer_ns(), INT64_MAX);
  }
}

TEST(DtlsSession, GarbageDoesNotBreakTheServer) {
  Pair p;
  p.make();
  std::mt19937 rng(7);
  std::vector<uint8_t> d;
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> g(rng() % 300);
    for (auto& b : g) b = uint8_t(rng());
    if (!g.empty() && i % 2) g[0] = 22;  // claims to be a handshake record
    if (g.size() > 3 && i % 4 == 1) g[1] = 0xfe, g[2] = 0xfd;
    p.server->on_datagram(g, p.now);
    while (p.server->pop(d)) {
    }
  }
  p.server->on_datagram({}, p.now);
  // Records that do not parse are dropped silently (RFC 6347 §4.1.2.7):
  // the real client still gets through.
  ASSERT_EQ(p.server->state(), DtlsState::kHandshaking) << p.server->failure_detail();
  p.client->start(p.now);
  p.pump();
  EXPECT_TRUE(p.connected()) << p.server->failure_detail();
}

TEST(DtlsSession, TruncatedHelloIsHarmless) {
  Pair p;
  p.make();
  p.client->start(p.now);
  std::vector<uint8_t> hello;
  ASSERT_TRUE(p.client->pop(hello));
  for (size_t n = 0; n < hello.size(); n += 7) {
    DtlsSession server(*p.server_ctx, false, p.client_ctx->fingerprint());
    server.on_datagram(std::span(hello).first(n), p.now);
    std::vector<uint8_t> d;
    EXPECT_FALSE(server.pop(d)) << n;  // nothing to answer
    EXPECT_NE(server.state(), DtlsState::kConnected);
  }
}

TEST(DtlsSession, ReleaseKeepsKeysAndDropsState) {
  Pair p;
  p.handshake();
  ASSERT_TRUE(p.connected());
  const SdesSession keys = p.client->keys();
  const std::string cipher(p.client->cipher());
  p.client->release();
  p.server->release();
  EXPECT_EQ(p.client->state(), DtlsState::kConnected);
  EXPECT_EQ(p.client->keys().outbound, keys.outbound);
  EXPECT_EQ(p.client->cipher(), cipher);
  EXPECT_EQ(p.client->srtp_profile(), "SRTP_AEAD_AES_128_GCM");
  p.client->on_datagram(std::vector<uint8_t>{21, 0xfe, 0xfd, 0, 1}, p.now);
  std::vector<uint8_t> d;
  EXPECT_FALSE(p.client->pop(d));
  EXPECT_EQ(p.client->state(), DtlsState::kConnected);

  // Released while handshaking: failed.
  Pair q;
  q.make();
  q.client->start(q.now);
  q.client->release();
  EXPECT_EQ(q.client->state(), DtlsState::kFailed);
  EXPECT_EQ(q.client->failure(), DtlsFailure::kProtocol);
}

TEST(DtlsSession, ForgedAlertAfterConnectingIsIgnored) {
  // A plaintext (epoch 0) fatal alert after the handshake is not the
  // peer's: its alerts are now encrypted, so this one is dropped.
  Pair p;
  p.handshake();
  ASSERT_TRUE(p.connected());
  p.server->on_datagram(std::vector<uint8_t>{21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 0},
                        p.now);
  EXPECT_EQ(p.server->state(), DtlsState::kConnected);
}

// --- the keys drive SRTP -------------------------------------------------------------

std::vector<uint8_t> rtp_packet(uint16_t seq) {
  std::vector<uint8_t> p(172);
  p[0] = 0x80, p[1] = 0x00, p[2] = uint8_t(seq >> 8), p[3] = uint8_t(seq);
  p[4] = 0x00, p[5] = 0x07, p[6] = 0xd0, p[7] = 0xa0;
  p[8] = 0x3c, p[9] = 0x5a, p[10] = 0x8e, p[11] = 0x11;
  for (size_t i = 12; i < p.size(); ++i) p[i] = uint8_t(0x1e + i);
  return p;
}

void expect_srtp_flows(const SrtpKey& sender_out, const SrtpKey& receiver_in) {
  auto out = SrtpStream::create(sender_out, SrtpDirection::kOutbound);
  auto in = SrtpStream::create(receiver_in, SrtpDirection::kInbound);
  ASSERT_TRUE(out.ok() && in.ok());
  const auto plain = rtp_packet(1);
  auto buf = plain;
  buf.resize(plain.size() + out->rtp_trailer());
  auto n = out->protect_rtp(buf.data(), plain.size(), buf.size());
  ASSERT_TRUE(n.ok());
  EXPECT_NE(std::vector<uint8_t>(buf.begin() + 12, buf.begin() + 40),
            std::vector<uint8_t>(plain.begin() + 12, plain.begin() + 40));
  auto m = in->unprotect_rtp(buf.data(), *n);
  ASSERT_TRUE(m.ok()) << dataplane::to_string(m.error());
  buf.resize(*m);
  EXPECT_EQ(buf, plain);
}

TEST(DtlsSession, ExportedKeysProtectAndUnprotect) {
  for (const char* profiles : {"SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"}) {
    DtlsOptions o;
    o.srtp_profiles = profiles;
    Pair p(o, o);
    p.handshake();
    ASSERT_TRUE(p.connected()) << profiles;
    expect_srtp_flows(p.client->keys().outbound, p.server->keys().inbound);
    expect_srtp_flows(p.server->keys().outbound, p.client->keys().inbound);
    // The other direction's key does not authenticate: the keys are per direction.
    auto out = SrtpStream::create(p.client->keys().outbound, SrtpDirection::kOutbound);
    auto wrong = SrtpStream::create(p.client->keys().inbound, SrtpDirection::kInbound);
    auto buf = rtp_packet(2);
    const size_t len = buf.size();
    buf.resize(len + out->rtp_trailer());
    auto n = out->protect_rtp(buf.data(), len, buf.size());
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(wrong->unprotect_rtp(buf.data(), *n).ok());
  }
}

// --- memory --------------------------------------------------------------------------

// Heap per server session while it waits for the client's second flight,
// and after release(): an established call keeps no OpenSSL state. Only
// the server's calls are counted (the clients allocate in between).
// mallinfo2() counts chunks parked in glibc's per-thread cache as in use,
// so the figures lean low by a few hundred octets (bench/dtls_bench.cc
// counts exactly); the bounds below are far from both.
TEST(DtlsSession, ReleaseFreesOpenSslState) {
  constexpr int kSessions = 50;
  auto client_ctx = make_context(), server_ctx = make_context();
  std::vector<std::unique_ptr<DtlsSession>> clients, servers(kSessions);
  std::vector<std::vector<uint8_t>> hellos(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    clients.push_back(std::make_unique<DtlsSession>(*client_ctx, true, server_ctx->fingerprint()));
    clients.back()->start(kT0);
    ASSERT_TRUE(clients.back()->pop(hellos[i]));
  }
  auto heap = [] { return int64_t(mallinfo2().uordblks); };
  // Datagrams in transit, in storage reserved up front so moving them
  // allocates nothing inside a count.
  struct Wire {
    std::vector<uint8_t> bytes;
    std::vector<std::pair<size_t, size_t>> datagrams;
    void drain(DtlsSession& s) {
      bytes.clear(), datagrams.clear();
      std::vector<uint8_t> d;
      while (s.pop(d)) {
        datagrams.emplace_back(bytes.size(), d.size());
        bytes.insert(bytes.end(), d.begin(), d.end());
      }
    }
    void deliver(DtlsSession& to) {
      for (auto [at, n] : datagrams) to.on_datagram(std::span(bytes).subspan(at, n), kT0);
    }
  } wire;
  wire.bytes.reserve(1 << 16);
  wire.datagrams.reserve(256);
  int64_t handshaking = 0, kept = 0;
  for (int i = 0; i < kSessions; ++i) {
    const int64_t before = heap();
    servers[i] = std::make_unique<DtlsSession>(*server_ctx, false, client_ctx->fingerprint());
    servers[i]->on_datagram(hellos[i], kT0);
    handshaking += heap() - before;  // with its first flight queued
    wire.drain(*servers[i]);
    kept += heap() - before;
    wire.deliver(*clients[i]);
  }
  if (handshaking <= 0) GTEST_SKIP() << "mallinfo2 does not see this allocator (sanitizer?)";
  for (int i = 0; i < kSessions; ++i) {
    wire.drain(*clients[i]);
    const int64_t before = heap();
    wire.deliver(*servers[i]);
    ASSERT_EQ(servers[i]->state(), DtlsState::kConnected);
    wire.drain(*servers[i]);
    servers[i]->release();
    kept += heap() - before;
  }
  const double per_handshaking = double(handshaking) / kSessions;
  const double per_released = double(kept) / kSessions;
  std::printf("heap per server session: %.0f B handshaking, %.0f B released; sizeof %zu B\n",
              per_handshaking, per_released, sizeof(DtlsSession));
  EXPECT_GT(per_handshaking, 4096);
  // What stays: the DtlsSession object itself (make_unique) and the
  // server's copy of its last flight (ChangeCipherSpec + Finished, under
  // 100 B, in one datagram), nothing more.
  EXPECT_LT(per_released, double(sizeof(DtlsSession)) + 64 + 160);
}

}  // namespace
}  // namespace vox::control::webrtc
