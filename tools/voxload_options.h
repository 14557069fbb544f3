// voxload's command line: one Options struct with the defaults, filled and
// checked by parse_options (CLI11), as voxload --help lists them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "voxload_ng_flood.h"
#include "voxload_transcode.h"
#include "voxload_webrtc.h"

namespace voxload {

struct Options {
  std::string ng;
  int calls = 0;
  double pps_per_stream = 50;  // 20 ms packetization
  double rate = 0;             // total pps over all streams; 0 = pps_per_stream x streams
  double duration = 10;
  double warmup = 2;
  std::string local = "127.0.0.1";
  std::string local_b;  // B's (callee's) media sockets; empty = --local
  std::vector<std::string> direction;  // NG interface names: [facing A, facing B]; empty = relay's default
  int payload = 172;  // UDP payload bytes: 12 RTP header + 160 µ-law samples
  bool json = false;
  bool keep_calls = false;
  int tick_us = 200;
  std::string io = "uring";
  int relay_pid = 0;
  int ng_timeout_ms = 1000;
  int drain_ms = 200;  // after the window: packets arriving later count as lost
  bool direct = false;  // calibration: no relay, A and B send to each other
  bool transcode = false;  // A offers PCMU, B answers Opus: the relay transcodes both ways
  bool socket_drops = false;  // read /proc/net/udp drops at the window's edges (always with --transcode)
  TranscodeOptions tc;
  WebrtcOptions wr;  // --webrtc-calls and its companions
  NgFloodOptions flood;  // --ng-flood and its companions
};

// Fills opt from the command line. nullopt to go on; otherwise the exit
// status (0 after --help, 2 after a bad option, with CLI11's message printed).
std::optional<int> parse_options(int argc, char** argv, Options* opt);

}  // namespace voxload
