// The table of rtpengine options voxrelay accepts without implementing
// them as rtpengine does, or refuses. Ordered as `rtpengine --help` lists
// them.
#include "control/rtpengine_options.h"

#include <array>

namespace vox::control {

namespace {

constexpr auto W = CompatAction::kWarn;
constexpr auto R = CompatAction::kRefuse;

constexpr std::string_view kOneLogLevel = "ignored: voxrelay has one log level (--log-level)";
constexpr std::string_view kNoLogFormat = "ignored: voxrelay's log lines are not split or marked";
constexpr std::string_view kRedisTuning =
    "ignored: voxrelay writes from one thread, deletes asynchronously and retries every "
    "--redis-disable-time";
constexpr std::string_view kNoHttp =
    "ignored: voxrelay serves plain HTTP (--listen-http: /metrics) only: no HTTPS, no "
    "WebSocket, no Janus";
constexpr std::string_view kNoGraphite = "ignored: voxrelay does not send to Graphite";
constexpr std::string_view kNoRecording =
    "ignored: voxrelay does not record calls; NG requests that ask to record get a warning";
constexpr std::string_view kNoDtx = "ignored: voxrelay has no DTX or silence handling of its own";
constexpr std::string_view kNoMqtt = "ignored: voxrelay does not publish to MQTT";
constexpr std::string_view kNoPlayback = "ignored: voxrelay does not play media into calls";
constexpr std::string_view kScheduling =
    "ignored: voxrelay's threads run at the default policy (pin them with taskset/systemd)";
constexpr std::string_view kCertificate =
    "ignored: the generated DTLS certificate is ECDSA P-256 signed with SHA-256; give "
    "--dtls-cert/--dtls-key for another";

constexpr std::array kOptions = std::to_array<CompatOption>({
    {"--log-level-core", true, W, kOneLogLevel},
    {"--log-level-spandsp", true, W, kOneLogLevel},
    {"--log-level-ffmpeg", true, W, kOneLogLevel},
    {"--log-level-transcoding", true, W, kOneLogLevel},
    {"--log-level-codec", true, W, kOneLogLevel},
    {"--log-level-rtcp", true, W, kOneLogLevel},
    {"--log-level-ice", true, W, kOneLogLevel},
    {"--log-level-crypto", true, W, kOneLogLevel},
    {"--log-level-srtp", true, W, kOneLogLevel},
    {"--log-level-internals", true, W, kOneLogLevel},
    {"--log-level-http", true, W, kOneLogLevel},
    {"--log-level-control", true, W, kOneLogLevel},
    {"--log-level-dtx", true, W, kOneLogLevel},
    {"--split-logs", false, W, kNoLogFormat},
    {"--max-log-line-length", true, W, kNoLogFormat},
    {"--log-mark-prefix", true, W, kNoLogFormat},
    {"--log-mark-suffix", true, W, kNoLogFormat},
    {"--thread-stack", true, W, "ignored: threads keep the default stack size"},
    {"-S,--save-interface-ports", false, W,
     "ignored: voxrelay allocates ports on an interface's first address of each family only"},
    {"-l,--listen-tcp", true, R,
     "the legacy TCP control protocol is not implemented: use NG (--listen-ng)"},
    {"-u,--listen-udp", true, R,
     "the legacy UDP (rtpproxy) control protocol is not implemented: use NG (--listen-ng)"},
    {"-N,--listen-tcp-ng", true, W, "ignored: voxrelay serves NG over UDP only (--listen-ng)"},
    {"-c,--listen-cli", true, W, "ignored: no rtpengine CLI; voxctl speaks NG to --listen-ng"},
    {"-g,--graphite", true, W, kNoGraphite},
    {"-G,--graphite-interval", true, W, kNoGraphite},
    {"--graphite-prefix", true, W, kNoGraphite},
    {"--graphite-timeout", true, W, kNoGraphite},
    {"--redis-num-threads", true, W, kRedisTuning},
    {"--redis-allowed-errors", true, W, kRedisTuning},
    {"-y,--redis-delete-async", false, W, kRedisTuning},
    {"--redis-delete-async-interval", true, W, kRedisTuning},
    {"--active-switchover", false, R,
     "no NG-driven switchover: a voxrelay standby takes the calls over when the media address "
     "moves to it (README, high availability)"},
    {"-b,--b2b-url", true, R,
     "voxrelay does not tell a B2BUA about media timeouts over XML-RPC (it deletes the call "
     "and logs it): refusing rather than leave such calls up in the B2BUA"},
    {"-x,--xmlrpc-format", true, W, "ignored: no XML-RPC (see --b2b-url)"},
    {"--log-facility-cdr", true, W, "ignored: voxrelay writes its end-of-call records to --cdr-file"},
    {"--log-facility-rtcp", true, W, "ignored: voxrelay does not log RTCP"},
    {"--log-facility-dtmf", true, W, "ignored: voxrelay does not log DTMF events"},
    {"--dtmf-log-dest", true, R,
     "voxrelay does not send DTMF events anywhere: refusing rather than lose them"},
    {"--dtmf-log-ng-tcp", false, R,
     "voxrelay does not send DTMF events anywhere: refusing rather than lose them"},
    {"--dtmf-no-suppress", false, W,
     "ignored: voxrelay never suppresses audio during DTMF (it relays, or transcodes both)"},
    {"--dtmf-digit-delay", true, W, "ignored: no DTMF trigger detection"},
    {"--log-format", true, W, "ignored: one log format"},
    {"--media-num-threads", true, W, kNoPlayback},
    {"--sip-source", false, W,
     "ignored: the SDP address is used unless NG `trust-address` is absent and the proxy "
     "sends `received-from` (as rtpengine's default)"},
    {"--max-load", true, W, "not enforced yet: admission is limited by --max-sessions only"},
    {"--max-cpu", true, W, "not enforced yet: admission is limited by --max-sessions only"},
    {"--max-bandwidth", true, W, "not enforced yet: admission is limited by --max-sessions only"},
    {"--homer", true, W, "ignored: voxrelay sends nothing to Homer (HEP)"},
    {"--homer-protocol", true, W, "ignored: voxrelay sends nothing to Homer (HEP)"},
    {"--homer-id", true, W, "ignored: voxrelay sends nothing to Homer (HEP)"},
    {"--recording-dir", true, W, kNoRecording},
    {"--recording-method", true, W, kNoRecording},
    {"--recording-format", true, W, kNoRecording},
    {"--iptables-chain", true, W, "ignored: voxrelay adds no firewall rules"},
    {"--scheduling", true, W, kScheduling},
    {"--priority", true, W, kScheduling},
    {"--idle-scheduling", true, W, kScheduling},
    {"--idle-priority", true, W, kScheduling},
    {"--log-srtp-keys", false, W, "ignored: voxrelay never logs keys"},
    {"--mysql-host", true, W, kNoPlayback},
    {"--mysql-port", true, W, kNoPlayback},
    {"--mysql-user", true, W, kNoPlayback},
    {"--mysql-pass", true, W, kNoPlayback},
    {"--mysql-query", true, W, kNoPlayback},
    {"--endpoint-learning", true, W,
     "ignored: voxrelay learns endpoints its own way (--latch-window-ms; README, latching)"},
    {"--jitter-buffer", true, W, "ignored: voxrelay has no jitter buffer; relayed media keeps its timing"},
    {"--jb-clock-drift", false, W, "ignored: voxrelay has no jitter buffer"},
    {"--debug-srtp", false, W, "ignored: voxrelay never logs keys"},
    {"--reject-invalid-sdp", false, W, "ignored: voxrelay always refuses SDP it cannot parse"},
    {"--dtls-rsa-key-size", true, W, kCertificate},
    {"--dtls-cert-cipher", true, W, kCertificate},
    {"--dtls-signature", true, W, kCertificate},
    {"--listen-https", true, W, kNoHttp},
    {"--https-cert", true, W, kNoHttp},
    {"--https-key", true, W, kNoHttp},
    {"--http-threads", true, W, kNoHttp},
    {"--software-id", true, W, "ignored: voxrelay names itself \"voxrelay\""},
    {"--poller-per-thread", false, W, "ignored: every worker has its own poller"},
    {"--dtx-delay", true, W, kNoDtx},
    {"--max-dtx", true, W, kNoDtx},
    {"--dtx-buffer", true, W, kNoDtx},
    {"--dtx-lag", true, W, kNoDtx},
    {"--dtx-shift", true, W, kNoDtx},
    {"--dtx-cn-params", true, W, kNoDtx},
    {"--amr-dtx", true, W, kNoDtx},
    {"--silence-detect", true, W, kNoDtx},
    {"--cn-payload", true, W, kNoDtx},
    {"--mqtt-host", true, W, kNoMqtt},
    {"--mqtt-port", true, W, kNoMqtt},
    {"--mqtt-id", true, W, kNoMqtt},
    {"--mqtt-keepalive", true, W, kNoMqtt},
    {"--mqtt-user", true, W, kNoMqtt},
    {"--mqtt-pass", true, W, kNoMqtt},
    {"--mqtt-cafile", true, W, kNoMqtt},
    {"--mqtt-capath", true, W, kNoMqtt},
    {"--mqtt-certfile", true, W, kNoMqtt},
    {"--mqtt-keyfile", true, W, kNoMqtt},
    {"--mqtt-publish-qos", true, W, kNoMqtt},
    {"--mqtt-publish-topic", true, W, kNoMqtt},
    {"--mqtt-publish-interval", true, W, kNoMqtt},
    {"--mqtt-publish-scope", true, W, kNoMqtt},
    {"--mos", true, W, "ignored: voxrelay's MOS is the E-model's listening quality from what it measures (README, call quality)"},
    {"--socket-cpu-affinity", true, W, "ignored: pin workers with taskset/systemd CPUAffinity"},
    {"--janus-secret", true, W, kNoHttp},
});

}  // namespace

std::span<const CompatOption> rtpengine_compat_options() {
  return kOptions;
}

}  // namespace vox::control
