// voxload's flags: names, help texts, defaults and checks (CLI11). Scripts
// (bench/*.sh, tests/integration/) pass these names: keep them stable.
#include "voxload_options.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "voxload_marker.h"

namespace voxload {

std::optional<int> parse_options(int argc, char** argv, Options* out) {
  Options& opt = *out;
  CLI::App app{"voxload: NG call setup + paced RTP load through a relay; loss and latency"};
  app.add_option("--ng", opt.ng, "Relay NG address IP:PORT (required unless --direct)");
  auto* calls_opt =
      app.add_option("--calls", opt.calls, "Concurrent calls (2 streams each)")->check(CLI::Range(1, 100000));
  auto* pps = app.add_option("--pps-per-stream", opt.pps_per_stream, "Packets/s per stream (50 = 20 ms ptime)")
                  ->capture_default_str()
                  ->check(CLI::Range(0.1, 100000.0));
  app.add_option("--rate", opt.rate, "Total packets/s over all streams (instead of --pps-per-stream)")
      ->check(CLI::Range(1.0, 10000000.0))
      ->excludes(pps);
  app.add_option("--duration", opt.duration, "Measured seconds")->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  app.add_option("--warmup", opt.warmup, "Unmeasured seconds before the window")->capture_default_str()->check(
      CLI::Range(0.0, 3600.0));
  app.add_option("--local", opt.local, "Local IP for the media sockets (side A's, and B's without --local-b)")
      ->capture_default_str();
  app.add_option("--local-b", opt.local_b, "Local IP for side B's (the callee's) media sockets (default: --local)");
  app.add_option("--direction", opt.direction,
                 "A,B: NG interface names sent as the offer's direction (A's side first, then B's), "
                 "e.g. trunk,clients")
      ->delimiter(',')
      ->expected(2);
  auto* payload_opt = app.add_option("--payload", opt.payload, "UDP payload bytes per packet (RTP header included)")
      ->capture_default_str()
      ->check(CLI::Range(int(kMinPayload), 1472));
  app.add_flag("--json", opt.json, "Print the report as one JSON line");
  app.add_flag("--keep-calls", opt.keep_calls, "Do not delete the calls at the end");
  app.add_option("--tick-us", opt.tick_us, "Pacing tick: packets due are sent in one batch per tick")
      ->capture_default_str()
      ->check(CLI::Range(20, 100000));
  app.add_option("--io", opt.io, "uring or epoll")->capture_default_str()->check(CLI::IsMember({"uring", "epoll"}));
  app.add_option("--relay-pid", opt.relay_pid, "Sample this process's CPU time at the window's start and end");
  app.add_option("--ng-timeout-ms", opt.ng_timeout_ms, "NG reply timeout per attempt")->capture_default_str();
  app.add_option("--drain-ms", opt.drain_ms, "Wait after sending stops; later arrivals count as lost")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  app.add_flag("--socket-drops", opt.socket_drops,
               "Report the kernel's receive-buffer drops at the relay's media sockets and at ours "
               "(/proc/net/udp, read at the window's start and end; on by default with --transcode)");
  auto* tc_flag = app.add_flag("--transcode", opt.transcode,
                               "A offers PCMU + telephone-event with codec {transcode: [opus]}, B answers "
                               "opus/48000/2: the relay transcodes both ways (PCMU packets are 172 bytes; "
                               "latency from the RTP timeline, see voxload_transcode.h)");
  app.add_option("--opus-rate", opt.tc.opus_rate, "--transcode: B's Opus encoder input rate (48000 full band, 8000 narrowband)")
      ->capture_default_str()
      ->check(CLI::IsMember({8000, 48000}))
      ->needs(tc_flag);
  app.add_option("--opus-bitrate", opt.tc.opus_bitrate, "--transcode: B's Opus bitrate, bit/s")
      ->capture_default_str()
      ->check(CLI::Range(6000, 510000))
      ->needs(tc_flag);
  app.add_flag("--answer-no-fec{false}", opt.tc.answer_fec,
               "--transcode: B answers useinbandfec=0, so the relay sends no in-band FEC")
      ->needs(tc_flag);
  app.add_flag("--direct", opt.direct,
               "Calibration without a relay: each side sends straight to the other's socket, "
               "measuring the generator's own cost and latency floor")
      ->excludes(tc_flag);
  tc_flag->excludes(payload_opt);
  // WebRTC client mode (voxload_webrtc.h): the browser side of each call.
  auto* wr_flag = app.add_option("--webrtc-calls", opt.wr.calls,
                                 "WebRTC mode: this many calls whose A side is a browser (ICE, DTLS-SRTP) and B a "
                                 "plain RTP peer; each is set up, checked, handshaken, sent a first packet, deleted")
                      ->check(CLI::Range(1, 100000))
                      ->excludes(calls_opt)
                      ->excludes(tc_flag);
  app.add_option("--concurrency", opt.wr.concurrency, "--webrtc-calls: calls (handshakes) in flight at once; 1: one at a time")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000))
      ->needs(wr_flag);
  app.add_option("--webrtc-mode", opt.wr.mode,
                 "calls: each call whole (offer .. delete) in turn; phases: every call's offer/answer, then every "
                 "ICE check, handshake, first packet, [media], [hold], delete, with the relay's CPU and RSS per phase")
      ->capture_default_str()
      ->check(CLI::IsMember({"calls", "phases"}))
      ->needs(wr_flag);
  app.add_option("--webrtc-leg", opt.wr.leg,
                 "dtls: UDP/TLS/RTP/SAVPF with ICE; sdes: RTP/SAVP with a=crypto; plain: RTP/AVP (baselines for --media-s)")
      ->capture_default_str()
      ->check(CLI::IsMember({"dtls", "sdes", "plain"}))
      ->needs(wr_flag);
  app.add_option("--sdes-suite", opt.wr.sdes_suite, "--webrtc-leg sdes: the crypto suite offered")
      ->capture_default_str()
      ->needs(wr_flag);
  app.add_flag("--split-handshake", opt.wr.split_handshake,
               "phases: stop every handshake after the relay's first flight and sample the relay's RSS there")
      ->needs(wr_flag);
  app.add_option("--media-s", opt.wr.media_s, "phases: seconds of media from every browser after the first packets")
      ->check(CLI::Range(0.0, 3600.0))
      ->needs(wr_flag);
  app.add_option("--media-pps", opt.wr.media_pps, "phases: total packets/s of that media")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1000000.0))
      ->needs(wr_flag);
  app.add_option("--hold-s", opt.wr.hold_s, "phases: seconds to hold every call up before the last RSS sample")
      ->check(CLI::Range(0.0, 3600.0))
      ->needs(wr_flag);
  app.add_option("--step-timeout-ms", opt.wr.step_timeout_ms, "--webrtc-calls: limit on each ICE/DTLS/first-packet step")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000))
      ->needs(wr_flag);
  // NG flood mode (voxload_ng_flood.h): garbage at --ng, nothing else.
  auto* flood_flag = app.add_option("--ng-flood", opt.flood.rate,
                                    "NG flood mode: this many garbage datagrams/s at --ng (half without cookie, "
                                    "half with an undecodable body), from --local")
                         ->check(CLI::Range(1.0, 10000000.0))
                         ->excludes(calls_opt)
                         ->excludes(wr_flag);
  app.add_option("--ng-flood-seconds", opt.flood.seconds, "--ng-flood: seconds, then it stops")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0))
      ->needs(flood_flag);
  app.add_option("--ng-flood-sockets", opt.flood.sockets, "--ng-flood: source sockets (sendmmsg batches alternate)")
      ->capture_default_str()
      ->check(CLI::Range(1, 2))
      ->needs(flood_flag);
  app.add_option("--ng-flood-kind", opt.flood.kind,
                 "--ng-flood: garbage, or ping (valid pings with fresh cookies: replies the relay caches)")
      ->capture_default_str()
      ->check(CLI::IsMember({"garbage", "ping"}))
      ->needs(flood_flag);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (opt.calls == 0 && opt.wr.calls == 0 && opt.flood.rate == 0) {
    std::fprintf(stderr, "voxload: --calls (or --webrtc-calls, --ng-flood) is required\n");
    return 2;
  }
  return std::nullopt;
}

}  // namespace voxload
