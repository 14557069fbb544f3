// voxload's NG flood mode (--ng-flood=RATE): garbage at the relay's NG
// socket, paced at RATE datagrams/s for --ng-flood-seconds, from one or two
// sockets in sendmmsg batches, so a test can check that NG keeps answering
// (issue 16). Half the datagrams have no cookie (dropped unanswered), half a
// unique cookie and an undecodable body (an error reply, unless the relay's
// rate limit refuses them first). --ng-flood-kind=ping: valid pings with
// unique cookies instead, each a reply the relay caches (its reply cache's
// bound). Reports what it sent and the replies.
#pragma once

#include <string>

#include "base/endpoint.h"

namespace voxload {

struct NgFloodOptions {
  double rate = 0;      // --ng-flood: datagrams/s; 0 = not this mode
  double seconds = 5;   // --ng-flood-seconds: the flood stops by itself after this
  int sockets = 2;      // --ng-flood-sockets: 1 or 2 source sockets (on --local)
  std::string kind = "garbage";  // --ng-flood-kind: garbage or ping
};

struct Options;
// Runs the flood; the exit status (0: it ran its time).
int run_ng_flood(const Options& opt, const vox::Endpoint& ng, const vox::IpAddr& local);

}  // namespace voxload
