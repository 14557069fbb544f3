// libFuzzer target for control/webrtc/dtls_session.cc: a server DtlsSession
// (the relay answering a=setup:active) fed the input as datagrams, each
// prefixed by its length (2 octets, big-endian; a short tail is one more
// datagram), pumping pop() after each and running the timer. Must never
// crash or leak, whatever OpenSSL makes of the records. One DtlsContext
// for the whole run (certificate generation is the costly part).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "control/webrtc/dtls.h"

using namespace vox::control::webrtc;

namespace {

DtlsContext& context() {
  static std::unique_ptr<DtlsContext> ctx = [] {
    DtlsOptions o;
    o.mtu = 300;  // more fragments of the server's flight
    return std::move(DtlsContext::create(o)).value();
  }();
  return *ctx;
}

constexpr char kPeerFingerprint[] =
    "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:"
    "BB:CC:DD:EE:FF";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DtlsSession server(context(), false, kPeerFingerprint);
  if (server.state() != DtlsState::kHandshaking) __builtin_trap();
  std::span<const uint8_t> in(data, size);
  std::vector<uint8_t> out;
  int64_t now = 1'000'000'000;
  server.start(now);
  while (!in.empty()) {
    size_t n = in.size();
    if (in.size() >= 2) {
      n = std::min<size_t>(size_t(in[0]) << 8 | in[1], in.size() - 2);
      in = in.subspan(2);
    }
    server.on_datagram(in.first(n), now);
    in = in.subspan(n);
    while (server.pop(out))
      if (out.size() > size_t(context().mtu())) __builtin_trap();
    now += 1'000'000;
  }
  server.on_timer(now + kDtlsHandshakeLimitNs);
  if (server.state() == DtlsState::kConnected) __builtin_trap();  // no client can have our key
  while (server.pop(out)) {
  }
  server.release();
  return 0;
}
