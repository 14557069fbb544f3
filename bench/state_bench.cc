// The calls' state for Redis (control/ha/call_state.h): encoding a call,
// which the control thread does after each offer and answer with --redis,
// and decoding one (restart, takeover). The documents are an SDES-SRTP call
// as voxrelay saved it (tests/fuzz/corpus/call_state_fuzz/srtp.json) and a
// plain PCMU call after its answer (what bench/ha_bench.py sets up). As in
// the relay, each encode reuses the buffer of an earlier one.
//
//   ./build/bench/state_bench
#include <benchmark/benchmark.h>

#include "control/ha/call_state.h"

namespace {

constexpr const char* kSrtpCall = R"json({"answered":true,"branches":[],"branches_made":1,"created":1796685370,"id":"corpus-srtp-1","last_signal":1796685371,"parties":[{"address":"127.0.0.1","branch":0,"created":1796685370,"dtls_reverse_passive":null,"has_sdp":true,"iface":0,"label":"","media":[{"bundled":false,"clocks":[[0,8000]],"codec":"PCMU/8000","direction":0,"dtls":[false,false,"","",false],"ice":[false,"","","",""],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"latched_rtcp":["::",0],"latched_rtp":["::",0],"mid":"","offer_plan":null,"offered_mux":false,"port":41320,"proto":"RTP/AVP","rejected":false,"relay_offered_mux":false,"sdes_answer":null,"sdes_offer":[],"sdp_rtcp":["127.0.0.1",38960],"sdp_rtp":["127.0.0.1",38959],"sent":[false,false,false],"srtp":null,"stream":[0,0,false],"transcode":null,"type":"audio","uses_mux":false}],"mux_accept":false,"mux_reject":false,"policy":[false,false,false],"sent_sdp":[0,0,false],"tag":"A","via_branch":""},{"address":"127.0.0.1","branch":1,"created":1796685370,"dtls_reverse_passive":null,"has_sdp":true,"iface":0,"label":"","media":[{"bundled":false,"clocks":[[0,8000]],"codec":"PCMU/8000","direction":0,"dtls":[false,false,"","",false],"ice":[false,"","","",""],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"latched_rtcp":["::",0],"latched_rtp":["::",0],"mid":"","offer_plan":{"added":[],"always":false,"offerer":[{"accepted":false,"codec":{"ch":1,"enc":"PCMU","fmtp":"","pt":0,"rate":8000},"masked":false},{"accepted":false,"codec":{"ch":1,"enc":"telephone-event","fmtp":"0-16","pt":101,"rate":8000},"masked":false}],"offerer_ptime":20,"options":[],"ptime":null,"ptime_reverse":null,"requested":false,"single":false,"to_answerer":[{"ch":1,"enc":"PCMU","fmtp":"","pt":0,"rate":8000},{"ch":1,"enc":"telephone-event","fmtp":"0-16","pt":101,"rate":8000}]},"offered_mux":false,"port":41378,"proto":"RTP/SAVP","rejected":false,"relay_offered_mux":false,"sdes_answer":null,"sdes_offer":["1 AEAD_AES_256_GCM inline:doiWTJCMXZ85Tat0vESjYmgGE3cjej4KXlzXAj3gXWdUX6+kBcxqCCzNwx4=","2 AEAD_AES_128_GCM inline:rArv8BFFJu4QDG5sLqhF7O267xV8LW5d3u/akw==","3 AES_256_CM_HMAC_SHA1_80 inline:C+Xhyk9/093ZoCiyRzVfvqhiWAH1WlYvmzItnEbj9phQQLfS924Lc0r2I+XnDA==","4 AES_CM_128_HMAC_SHA1_80 inline:ev6EJHfRiNE6qRria0Sb1piXvY5HwxkrYKCBF/C4","5 AES_CM_128_HMAC_SHA1_32 inline:okuPFZtLDLfQ5y/KHn3cSafvciM1pYap8NXxDrX3"],"sdp_rtcp":["127.0.0.1",42757],"sdp_rtp":["127.0.0.1",42756],"sent":[false,false,false],"srtp":{"in":"1 AES_CM_128_HMAC_SHA1_80 inline:BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk","out":"1 AES_CM_128_HMAC_SHA1_80 inline:ev6EJHfRiNE6qRria0Sb1piXvY5HwxkrYKCBF/C4","tag":4},"stream":[0,0,false],"transcode":null,"type":"audio","uses_mux":false}],"mux_accept":false,"mux_reject":false,"policy":[false,false,false],"sent_sdp":[0,0,false],"tag":"B","via_branch":""}],"tos":null,"v":1,"worker":0})json";

constexpr const char* kPlainCall = R"json({"v":1,"id":"c1","worker":0,"parties":[{"address":"127.0.0.1","tag":"a","label":"","via_branch":"","branch":0,"iface":0,"has_sdp":true,"policy":[false,false,false],"mux_accept":false,"mux_reject":false,"dtls_reverse_passive":null,"media":[{"type":"audio","proto":"RTP/AVP","port":30072,"sdp_rtp":["127.0.0.1",2000],"sdp_rtcp":["127.0.0.1",2001],"latched_rtp":["::",0],"latched_rtcp":["::",0],"stream":[0,0,false],"offered_mux":false,"uses_mux":false,"rejected":false,"relay_offered_mux":false,"direction":0,"codec":"PCMU/8000","clocks":[[0,8000]],"offer_plan":null,"transcode":null,"sdes_offer":[],"sdes_answer":null,"srtp":null,"ice":[false,"","","",""],"dtls":[false,false,"","",false],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"sent":[false,false,false],"mid":"","bundled":false}],"created":1796694561,"sent_sdp":[0,0,false]},{"address":"127.0.0.1","tag":"b","label":"","via_branch":"","branch":1,"iface":0,"has_sdp":true,"policy":[false,false,false],"mux_accept":false,"mux_reject":false,"dtls_reverse_passive":null,"media":[{"type":"audio","proto":"RTP/AVP","port":30028,"sdp_rtp":["127.0.0.1",2002],"sdp_rtcp":["127.0.0.1",2003],"latched_rtp":["::",0],"latched_rtcp":["::",0],"stream":[0,0,false],"offered_mux":false,"uses_mux":false,"rejected":false,"relay_offered_mux":false,"direction":0,"codec":"PCMU/8000","clocks":[[0,8000]],"offer_plan":{"offerer":[{"codec":{"pt":0,"enc":"PCMU","rate":8000,"ch":1,"fmtp":""},"masked":false,"accepted":false},{"codec":{"pt":101,"enc":"telephone-event","rate":8000,"ch":1,"fmtp":"0-16"},"masked":false,"accepted":false}],"to_answerer":[{"pt":0,"enc":"PCMU","rate":8000,"ch":1,"fmtp":""},{"pt":101,"enc":"telephone-event","rate":8000,"ch":1,"fmtp":"0-16"}],"added":[],"options":[],"always":false,"single":false,"ptime":null,"ptime_reverse":null,"offerer_ptime":20,"requested":false},"transcode":null,"sdes_offer":[],"sdes_answer":null,"srtp":null,"ice":[false,"","","",""],"dtls":[false,false,"","",false],"ice_peer":["::",0],"ice_peer_rtcp":["::",0],"sent":[false,false,false],"mid":"","bundled":false}],"created":1796694561,"sent_sdp":[0,0,false]}],"branches":[],"branches_made":1,"answered":true,"created":1796694561,"last_signal":1796694561,"tos":null})json";

void encode(benchmark::State& state, const char* saved) {
  auto call = vox::control::decode_call(saved);
  if (!call.ok()) return state.SkipWithError(call.error().c_str());
  const vox::IpAddr interfaces[] = {*vox::IpAddr::parse("127.0.0.1")};
  std::string doc;
  for (auto _ : state) {
    doc = vox::control::encode_call(**call, interfaces, std::move(doc));
    benchmark::DoNotOptimize(doc);
  }
  state.counters["bytes"] = double(doc.size());
}
void BM_EncodeCall(benchmark::State& state) { encode(state, kSrtpCall); }
BENCHMARK(BM_EncodeCall);
void BM_EncodePlainCall(benchmark::State& state) { encode(state, kPlainCall); }
BENCHMARK(BM_EncodePlainCall);

void BM_DecodeCall(benchmark::State& state) {
  for (auto _ : state) {
    auto call = vox::control::decode_call(kSrtpCall);
    benchmark::DoNotOptimize(call);
  }
}
BENCHMARK(BM_DecodeCall);

}  // namespace
BENCHMARK_MAIN();
