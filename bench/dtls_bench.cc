// DTLS-SRTP handshake cost: plain OpenSSL 3 DTLS 1.2 between two SSL
// objects over memory BIOs (the in-memory bound: one SSL_CTX per side,
// X25519, ECDSA P-256, mutual authentication, use_srtp and the key export)
// beside the same handshake through DtlsContext/DtlsSession. Time is the
// server side's only (manual time: SSL_new, every SSL_do_handshake, the
// export and SSL_free; or DtlsSession's constructor, on_datagram, pop,
// release and destructor), the relay's CPU per handshake; the counter
// handshake_us is the whole exchange, both sides. BM_DtlsSessionMemory
// reports sizeof(DtlsSession) and the heap of a server session while
// handshaking and after release(), over 1000 sessions, by a byte count of
// every OpenSSL (CRYPTO_set_mem_functions) and operator new allocation:
// mallinfo2() deltas are biased here, as glibc counts chunks parked in its
// per-thread cache as in use.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "control/webrtc/dtls.h"

// Live heap bytes of OpenSSL and of operator new (malloc_usable_size).
std::atomic<int64_t> g_heap{0};

[[gnu::noinline]] void* counted_malloc(size_t n) {
  void* p = std::malloc(n);
  if (p != nullptr) g_heap.fetch_add(int64_t(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
[[gnu::noinline]] void counted_free(void* p) {
  if (p == nullptr) return;
  g_heap.fetch_sub(int64_t(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}

void* operator new(size_t n) {
  if (void* p = counted_malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, size_t) noexcept {
  counted_free(p);
}

namespace {

void* openssl_malloc(size_t n, const char*, int) {
  return counted_malloc(n);
}
void* openssl_realloc(void* p, size_t n, const char*, int) {
  const int64_t old = p != nullptr ? int64_t(malloc_usable_size(p)) : 0;
  void* q = std::realloc(p, n);
  if (q != nullptr || n == 0) g_heap.fetch_sub(old, std::memory_order_relaxed);
  if (q != nullptr) g_heap.fetch_add(int64_t(malloc_usable_size(q)), std::memory_order_relaxed);
  return q;
}
void openssl_free(void* p, const char*, int) {
  counted_free(p);
}

using namespace vox::control::webrtc;
using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// --- The in-memory bound: OpenSSL alone --------------------------------------

int accept_any(X509_STORE_CTX*, void*) {
  return 1;
}

SSL_CTX* raw_context() {
  SSL_CTX* ctx = SSL_CTX_new(DTLS_method());
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256");
  (void)SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, accept_any, nullptr);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("bench"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

SSL* raw_ssl(SSL_CTX* ctx, bool client) {
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in, -1);
  SSL_set_bio(ssl, in, out);
  SSL_set_mtu(ssl, 1200);
  client ? SSL_set_connect_state(ssl) : SSL_set_accept_state(ssl);
  return ssl;
}

// What `from` wrote, to `to`'s input.
void move_bytes(SSL* from, SSL* to) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(SSL_get_wbio(from), &p);
  if (n <= 0) return;
  BIO_write(SSL_get_rbio(to), p, int(n));
  (void)BIO_reset(SSL_get_wbio(from));
}

void BM_InMemoryOpenSslHandshake(benchmark::State& state) {
  SSL_CTX* client_ctx = raw_context();
  SSL_CTX* server_ctx = raw_context();
  uint8_t keys[56];
  double total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    Clock::duration server{};
    SSL* client = raw_ssl(client_ctx, true);
    auto s0 = Clock::now();
    SSL* srv = raw_ssl(server_ctx, false);
    server += Clock::now() - s0;
    bool client_done = false, server_done = false;
    for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
      client_done = SSL_do_handshake(client) == 1;
      move_bytes(client, srv);
      s0 = Clock::now();
      server_done = SSL_do_handshake(srv) == 1;
      server += Clock::now() - s0;
      move_bytes(srv, client);
    }
    if (!client_done || !server_done || SSL_get_selected_srtp_profile(srv) == nullptr) {
      state.SkipWithError("handshake failed");
      break;
    }
    SSL_export_keying_material(client, keys, sizeof keys, "EXTRACTOR-dtls_srtp", 19, nullptr, 0, 0);
    s0 = Clock::now();
    SSL_export_keying_material(srv, keys, sizeof keys, "EXTRACTOR-dtls_srtp", 19, nullptr, 0, 0);
    SSL_free(srv);
    server += Clock::now() - s0;
    SSL_free(client);
    benchmark::DoNotOptimize(keys);
    state.SetIterationTime(seconds(server));
    total += seconds(Clock::now() - t0);
  }
  state.counters["handshake_us"] =
      benchmark::Counter(total * 1e6, benchmark::Counter::kAvgIterations);
  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server_ctx);
}
BENCHMARK(BM_InMemoryOpenSslHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

// --- The same through DtlsSession --------------------------------------------

void BM_DtlsSessionHandshake(benchmark::State& state) {
  auto client_ctx = std::move(DtlsContext::create({})).value();
  auto server_ctx = std::move(DtlsContext::create({})).value();
  std::vector<uint8_t> d;
  int64_t now = 1;
  double total = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    Clock::duration server_time{};
    DtlsSession client(*client_ctx, true, server_ctx->fingerprint());
    auto s0 = Clock::now();
    auto server = std::make_unique<DtlsSession>(*server_ctx, false, client_ctx->fingerprint());
    server_time += Clock::now() - s0;
    client.start(now);
    for (int round = 0; round < 10 && server->state() == DtlsState::kHandshaking; ++round) {
      while (client.pop(d)) {
        s0 = Clock::now();
        server->on_datagram(d, ++now);
        server_time += Clock::now() - s0;
      }
      for (;;) {
        s0 = Clock::now();
        const bool got = server->pop(d);
        server_time += Clock::now() - s0;
        if (!got) break;
        client.on_datagram(d, ++now);
      }
    }
    if (client.state() != DtlsState::kConnected || server->state() != DtlsState::kConnected) {
      state.SkipWithError("handshake failed");
      break;
    }
    benchmark::DoNotOptimize(server->keys());
    s0 = Clock::now();
    server->release();
    server.reset();
    server_time += Clock::now() - s0;
    state.SetIterationTime(seconds(server_time));
    total += seconds(Clock::now() - t0);
  }
  state.counters["handshake_us"] =
      benchmark::Counter(total * 1e6, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_DtlsSessionHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

// --- Memory per session -------------------------------------------------------

// Datagrams in transit, in storage reserved up front, so moving them
// allocates nothing inside a heap count.
struct Wire {
  std::vector<uint8_t> bytes;
  std::vector<std::pair<size_t, size_t>> datagrams;
  Wire() {
    bytes.reserve(1 << 16);
    datagrams.reserve(256);
  }
  void drain(DtlsSession& s) {
    bytes.clear(), datagrams.clear();
    std::vector<uint8_t> d;
    while (s.pop(d)) {
      datagrams.emplace_back(bytes.size(), d.size());
      bytes.insert(bytes.end(), d.begin(), d.end());
    }
  }
  void deliver(DtlsSession& to) {
    for (auto [at, n] : datagrams) to.on_datagram(std::span(bytes).subspan(at, n), 1);
  }
};

void BM_DtlsSessionMemory(benchmark::State& state) {
  constexpr int kSessions = 1000;
  auto client_ctx = std::move(DtlsContext::create({})).value();
  auto server_ctx = std::move(DtlsContext::create({})).value();
  auto heap = [] { return g_heap.load(std::memory_order_relaxed); };
  for (auto _ : state) {
    std::vector<std::unique_ptr<DtlsSession>> clients(kSessions), servers(kSessions);
    Wire wire;
    int64_t handshaking = 0, kept = 0;
    for (int i = 0; i < kSessions; ++i) {
      clients[i] = std::make_unique<DtlsSession>(*client_ctx, true, server_ctx->fingerprint());
      clients[i]->start(1);
      wire.drain(*clients[i]);
      const int64_t before = heap();
      servers[i] = std::make_unique<DtlsSession>(*server_ctx, false, client_ctx->fingerprint());
      wire.deliver(*servers[i]);
      handshaking += heap() - before;  // its first flight still queued
      wire.drain(*servers[i]);
      kept += heap() - before;
      wire.deliver(*clients[i]);
    }
    for (int i = 0; i < kSessions; ++i) {
      wire.drain(*clients[i]);
      const int64_t before = heap();
      wire.deliver(*servers[i]);
      wire.drain(*servers[i]);
      servers[i]->release();
      kept += heap() - before;
      wire.deliver(*clients[i]);
      if (servers[i]->state() != DtlsState::kConnected) state.SkipWithError("handshake failed");
      clients[i].reset();
    }
    state.counters["sizeof_session_B"] = double(sizeof(DtlsSession));
    state.counters["heap_handshaking_B"] = double(handshaking) / kSessions;
    state.counters["heap_released_B"] = double(kept) / kSessions;  // includes the object
  }
}
BENCHMARK(BM_DtlsSessionMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Before OpenSSL's first allocation, or it refuses.
  if (CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) != 1)
    std::fprintf(stderr, "dtls_bench: cannot count OpenSSL's heap\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
