// The calls' state for Redis (control/ha/call_state.h): encoding a call,
// which the control thread does after each offer and answer with --redis,
// and decoding one (restart, takeover). The document is an SDES-SRTP call
// as voxrelay saved it (tests/fuzz/corpus/call_state_fuzz/srtp.json).
//
//   ./build/bench/state_bench
#include <benchmark/benchmark.h>

#include "control/ha/call_state.h"

namespace {

constexpr const char* kSrtpCall = R"json({"answered":true,"branches":[],"branches_made":1,"created":1796685370,"id":"corpus-srtp-1","last_signal":1796685371,"parties":[{"address":"127.0.0.1","branch":0,"created":1796685370,"dtls_reverse_passive":null,"has_sdp":true,"iface":0,"label":"","media":[{"bundled":false,"clocks":[[0,8000]],"codec":"PCMU/8000","direction":0,"dtls":[false,false,"","",false],"ice":[false,"","","",""],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"latched_rtcp":["::",0],"latched_rtp":["::",0],"mid":"","offer_plan":null,"offered_mux":false,"port":41320,"proto":"RTP/AVP","rejected":false,"relay_offered_mux":false,"sdes_answer":null,"sdes_offer":[],"sdp_rtcp":["127.0.0.1",38960],"sdp_rtp":["127.0.0.1",38959],"sent":[false,false,false],"srtp":null,"stream":[0,0,false],"transcode":null,"type":"audio","uses_mux":false}],"mux_accept":false,"mux_reject":false,"policy":[false,false,false],"sent_sdp":[0,0,false],"tag":"A","via_branch":""},{"address":"127.0.0.1","branch":1,"created":1796685370,"dtls_reverse_passive":null,"has_sdp":true,"iface":0,"label":"","media":[{"bundled":false,"clocks":[[0,8000]],"codec":"PCMU/8000","direction":0,"dtls":[false,false,"","",false],"ice":[false,"","","",""],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"latched_rtcp":["::",0],"latched_rtp":["::",0],"mid":"","offer_plan":{"added":[],"always":false,"offerer":[{"accepted":false,"codec":{"ch":1,"enc":"PCMU","fmtp":"","pt":0,"rate":8000},"masked":false},{"accepted":false,"codec":{"ch":1,"enc":"telephone-event","fmtp":"0-16","pt":101,"rate":8000},"masked":false}],"offerer_ptime":20,"options":[],"ptime":null,"ptime_reverse":null,"requested":false,"single":false,"to_answerer":[{"ch":1,"enc":"PCMU","fmtp":"","pt":0,"rate":8000},{"ch":1,"enc":"telephone-event","fmtp":"0-16","pt":101,"rate":8000}]},"offered_mux":false,"port":41378,"proto":"RTP/SAVP","rejected":false,"relay_offered_mux":false,"sdes_answer":null,"sdes_offer":["1 AEAD_AES_256_GCM inline:doiWTJCMXZ85Tat0vESjYmgGE3cjej4KXlzXAj3gXWdUX6+kBcxqCCzNwx4=","2 AEAD_AES_128_GCM inline:rArv8BFFJu4QDG5sLqhF7O267xV8LW5d3u/akw==","3 AES_256_CM_HMAC_SHA1_80 inline:C+Xhyk9/093ZoCiyRzVfvqhiWAH1WlYvmzItnEbj9phQQLfS924Lc0r2I+XnDA==","4 AES_CM_128_HMAC_SHA1_80 inline:ev6EJHfRiNE6qRria0Sb1piXvY5HwxkrYKCBF/C4","5 AES_CM_128_HMAC_SHA1_32 inline:okuPFZtLDLfQ5y/KHn3cSafvciM1pYap8NXxDrX3"],"sdp_rtcp":["127.0.0.1",42757],"sdp_rtp":["127.0.0.1",42756],"sent":[false,false,false],"srtp":{"in":"1 AES_CM_128_HMAC_SHA1_80 inline:BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk","out":"1 AES_CM_128_HMAC_SHA1_80 inline:ev6EJHfRiNE6qRria0Sb1piXvY5HwxkrYKCBF/C4","tag":4},"stream":[0,0,false],"transcode":null,"type":"audio","uses_mux":false}],"mux_accept":false,"mux_reject":false,"policy":[false,false,false],"sent_sdp":[0,0,false],"tag":"B","via_branch":""}],"tos":null,"v":1,"worker":0})json";

void BM_EncodeCall(benchmark::State& state) {
  auto call = vox::control::decode_call(kSrtpCall);
  if (!call.ok()) return state.SkipWithError(call.error().c_str());
  const vox::IpAddr interfaces[] = {*vox::IpAddr::parse("127.0.0.1")};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string doc = vox::control::encode_call(**call, interfaces);
    bytes = doc.size();
    benchmark::DoNotOptimize(doc);
  }
  state.counters["bytes"] = double(bytes);
}
BENCHMARK(BM_EncodeCall);

void BM_DecodeCall(benchmark::State& state) {
  for (auto _ : state) {
    auto call = vox::control::decode_call(kSrtpCall);
    benchmark::DoNotOptimize(call);
  }
}
BENCHMARK(BM_DecodeCall);

}  // namespace
BENCHMARK_MAIN();
