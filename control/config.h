// voxrelay's configuration: one struct, filled from the config file and the
// command line (rtpengine's flag names where the meaning is the same),
// validated at start. A bad value is a one-line error naming the key; the
// daemon then exits with code 2.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"
#include "control/ha/redis_link.h"

namespace vox::control {

// --interface=[NAME/]ADDRESS[!ADVERTISED]: a local address media is relayed
// on; NG "direction" picks interfaces by name per call side. ADDRESS is an
// IP address, a network device (all its addresses), "any" (every
// non-loopback address) or a host name (resolved once at start). Names
// BASE:SUFFIX form a round-robin group that "direction=BASE" picks from.
struct InterfaceConfig {
  std::string name = "default";
  IpAddr local;
  IpAddr advertised;  // what goes into SDP (differs behind 1:1 NAT)
};

// --dpdk-port=ETHDEV[=NAME[,NAME...]]: a DPDK port and the interfaces (by
// --interface name) whose addresses live on it; interfaces no port names
// live on the first. Its gateways (one per family) are the --dpdk-gateway
// addresses inside one of its interfaces' subnets.
struct DpdkPortConfig {
  std::string ethdev;  // empty: the first port DPDK finds
  std::vector<std::string> interfaces;
  IpAddr gateway;      // IPv4; unspecified: every IPv4 destination on link
  IpAddr gateway6;     // IPv6; unspecified: every IPv6 destination on link
};

struct Config {
  std::vector<InterfaceConfig> interfaces;  // at least one after parsing
  std::vector<Endpoint> listen_ng;          // NG sockets; default 127.0.0.1:22222
  std::vector<Endpoint> listen_http;        // Prometheus /metrics over HTTP; none by default
  std::vector<IpAddr> ng_allow;             // empty: any source may send NG commands
  int ng_rate_limit = 20000;                // NG requests/s per source address, burst twice that; 0: no limit
  uint16_t port_min = 30000;
  uint16_t port_max = 40000;
  int timeout_s = 60;          // no media on any stream for this long: delete
  int silent_timeout_s = 3600; // same, for calls on hold
  int final_timeout_s = 0;     // cap on a call's life (0: none)
  int offer_timeout_s = 3600;  // offer never answered
  int delete_delay_s = 30;     // keep deleted calls for late retransmissions
  int latch_window_ms = 3000;  // source learning window after offer/answer
  int rtcp_interval_ms = 5000; // --rtcp-interval: the relay's own RTCP for transcoded streams (0: none)
  int max_sessions = 0;        // 0: unlimited
  int workers = 1;
  std::string backend = "socket";
  int coalesce_us = 0;         // socket backend: batch wake-ups (see README)
  std::string socket_io = "uring";  // socket backend: "uring" or "epoll"
  // DPDK backend (--backend=dpdk): EAL arguments, which ethdevs, and the
  // relay as a host on them (next hops beyond an interface's /prefix go to
  // its port's gateway; without one every destination is on link).
  std::vector<std::string> dpdk_args;
  std::vector<DpdkPortConfig> dpdk_ports;  // at least one after parsing
  int dpdk_prefix_len = 24;
  int dpdk_prefix_len6 = 64;
  int dpdk_idle_sleep_us = 0;  // 0: workers spin (lowest latency); >0: nap when idle
  // Transcoding defaults (NG `codec` `set` overrides them per call).
  int opus_complexity = 5;     // 0..10: encoder quality vs CPU (TARGETS.md: 30/69/123 µs at 0/5/10)
  int opus_bitrate = 24000;    // bit/s toward Opus clients
  // WebRTC (DTLS-SRTP, ICE-lite toward the party; rtpengine's flag names).
  bool dtls_passive = false;   // --dtls-passive: always a=setup:passive (server) where the relay may choose
  std::string dtls_cert_file;  // --dtls-cert (PEM); empty: an ECDSA P-256 certificate made at start
  std::string dtls_key_file;   // --dtls-key (PEM), with --dtls-cert
  std::string dtls_ciphers = "DEFAULT:!NULL:!aNULL:!SHA256:!SHA384:!aECDH:!AESGCM+AES256:!aPSK";  // --dtls-ciphers (OpenSSL list)
  int dtls_mtu = 1200;         // --dtls-mtu: largest DTLS datagram the relay sends, octets
  // The relay's certificate fingerprint for a=fingerprint ("sha-256 AB:CD:..."),
  // set by the daemon from its DTLS identity at start; not a flag.
  std::string dtls_fingerprint;
  int tos = 0;                 // --tos: TOS of media the relay sends (0: the kernel's, unmarked)
  int control_tos = 0;         // --control-tos: TOS of NG replies (0: the kernel's)
  bool foreground = false;
  bool log_stderr = false;     // -E: log to stderr even in the background
  bool log_timestamps = true;  // --no-log-timestamps: stderr lines without time
  int log_facility = 3 << 3;   // --log-facility: syslog facility (LOG_DAEMON)
  int log_level = 6;           // syslog levels: 3 error .. 7 debug
  std::string pidfile;
  std::string cdr_file;        // --cdr-file: one JSON line per ended call (empty: none)
  // High availability: calls' state in Redis (control/ha/state_store.h),
  // rtpengine's option names.
  std::optional<ha::RedisTarget> redis;        // --redis: restore from (and write to)
  std::optional<ha::RedisTarget> redis_write;  // --redis-write: write to
  std::vector<int> subscribe_keyspace;         // --subscribe-keyspace: databases a standby follows
  int redis_expires_s = 86400;                 // --redis-expires
  int redis_connect_timeout_ms = 1000;         // --redis-connect-timeout
  int redis_cmd_timeout_ms = 1000;             // --redis-cmd-timeout
  int redis_disable_time_s = 1;                // --redis-disable-time: between reconnects
  int redis_backlog = 100000;                  // --redis-backlog: calls' states waiting, at most
  bool redis_required = true;                  // false: --no-redis-required
};

// Where --interface and --listen-ng names become addresses: the system's
// (getifaddrs, getaddrinfo) in the daemon, a table in tests. Each returns
// no address for an unknown name.
struct AddressSource {
  // A network device's addresses ("eth0"); "any": every address of every
  // device except loopback and IPv6 link-local ones.
  std::function<std::vector<IpAddr>(std::string_view device)> device;
  std::function<std::vector<IpAddr>(std::string_view host)> host;  // DNS
};
AddressSource system_addresses();

// Parses argv and the config file (--config-file or --config; INI, sections
// [rtpengine] then [voxrelay], or --config-section's alone; the command
// line overrides the file). rtpengine's options voxrelay does not implement
// are accepted with a warning or refused (rtpengine_options.h). On error
// returns "KEY: reason"; --help, --version and --codecs return the text to
// print with exit code 0.
struct ConfigOutcome {
  Config config;
  std::string message;                // help/version text, or the error
  int exit_code = -1;                 // -1: run; 0: print message and exit; 2: error
  std::vector<std::string> warnings;  // one line each, logged at start
};
ConfigOutcome parse_config(int argc, const char* const* argv,
                           const AddressSource& addresses = system_addresses());

// The packet backends this build has: "socket", plus "dpdk" when libdpdk
// was found at build time.
const char* available_backends();

// Interface index -> index into dpdk_ports.
std::vector<uint8_t> dpdk_interface_ports(const Config& c);

// Validates cross-field rules (port range holds at least one pair per
// worker, interface names unique per family...). "" when valid.
std::string validate_config(const Config& c);

}  // namespace vox::control
