// Command line and config file parsing (CLI11; INI file, sections
// [rtpengine] and [voxrelay]), then validation. Flag names follow rtpengine's.
#include "control/config.h"

#include <syslog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <tuple>
#include <fstream>

#include "control/rtpengine_options.h"
#include "dataplane/dpdk/limits.h"

namespace vox::control {

namespace {

// A parsed --interface: its addresses (one or several) under one name.
Result<std::vector<InterfaceConfig>, std::string> parse_interface(const std::string& spec,
                                                                  const AddressSource& addresses) {
  std::string name = "default", rest = spec, adv;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    name = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (name.empty()) return Err{"--interface: empty name in '" + spec + "'"};
  }
  if (auto bang = rest.find('!'); bang != std::string::npos) {
    adv = rest.substr(bang + 1);
    rest = rest.substr(0, bang);
  }
  std::vector<IpAddr> locals;
  if (auto ip = IpAddr::parse(rest)) locals.push_back(*ip);
  else if (!rest.empty()) locals = addresses.device(rest);
  if (locals.empty() && !rest.empty() && rest != "any") locals = addresses.host(rest);
  if (locals.empty())
    return Err{"--interface: '" + rest + "' in '" + spec +
               "' is no address, network device with addresses, or host name"};
  std::optional<IpAddr> advertised;
  if (!adv.empty()) {
    advertised = IpAddr::parse(adv);
    if (!advertised) return Err{"--interface: invalid advertised address '" + adv + "'"};
  }
  std::vector<InterfaceConfig> out;
  for (const IpAddr& local : locals) {
    if (advertised && advertised->is_v4() != local.is_v4()) {
      if (locals.size() == 1)
        return Err{"--interface: advertised address family differs in '" + spec + "'"};
      continue;  // a device's other family keeps its own address
    }
    out.push_back({name, local, advertised ? *advertised : local});
  }
  return out;
}

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r");
  size_t b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// "a; b ;;c" split on ';' -> {"a", "b", "", "c"}: every item, trimmed.
std::vector<std::string> split_trimmed(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.push_back(trim(s.substr(start, end == std::string::npos ? std::string::npos : end - start)));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// One key of a config file.
struct FileEntry {
  std::string key, value;  // value "" for a bare key
  bool bare = false;
};

// Reads an INI config file: the keys of `sections` in the order the
// sections are listed (a later section overrides an earlier one), then by
// line. "" names the keys before any section header.
Result<std::vector<FileEntry>, std::string> read_config_file(
    const std::string& path, const std::vector<std::string>& sections) {
  std::ifstream in(path);
  if (!in) return Err{"--config-file: cannot read '" + path + "'"};
  std::vector<std::vector<FileEntry>> by_section(sections.size());
  std::string line, section;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') return Err{path + ":" + std::to_string(lineno) + ": bad section line"};
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto which = std::find(sections.begin(), sections.end(), section);
    if (which == sections.end()) continue;
    FileEntry e;
    auto eq = line.find('=');
    e.bare = eq == std::string::npos;
    e.key = trim(line.substr(0, eq));
    if (!e.bare) e.value = trim(line.substr(eq + 1));
    if (e.value.size() >= 2 && e.value.front() == '"' && e.value.back() == '"')
      e.value = e.value.substr(1, e.value.size() - 2);
    by_section[size_t(which - sections.begin())].push_back(std::move(e));
  }
  std::vector<FileEntry> out;
  for (auto& entries : by_section)
    for (auto& e : entries) out.push_back(std::move(e));
  return out;
}

// "a b  c" -> {"a", "b", "c"}: EAL arguments as one flag value.
std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find_first_of(" \t", i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// --dpdk-port and --dpdk-gateway into c->dpdk_ports (after --interface).
std::string parse_dpdk_ports(const std::vector<std::string>& ports, const std::vector<std::string>& gateways,
                             Config* c) {
  for (const std::string& spec : ports) {
    DpdkPortConfig p;
    const size_t eq = spec.find('=');
    p.ethdev = spec.substr(0, eq);
    if (p.ethdev.empty()) return "--dpdk-port: empty ethdev name in '" + spec + "'";
    for (const auto& q : c->dpdk_ports)
      if (q.ethdev == p.ethdev) return "--dpdk-port: '" + p.ethdev + "' given twice";
    if (eq != std::string::npos) {
      for (std::string& name : split_trimmed(spec.substr(eq + 1), ',')) {
        const bool known = std::any_of(c->interfaces.begin(), c->interfaces.end(),
                                       [&](const InterfaceConfig& i) { return i.name == name; });
        if (!known) return "--dpdk-port: no --interface named '" + name + "' in '" + spec + "'";
        for (const auto& q : c->dpdk_ports)
          for (const auto& n : q.interfaces)
            if (n == name) return "--dpdk-port: interface '" + name + "' bound to two ports";
        p.interfaces.push_back(std::move(name));
      }
    }
    c->dpdk_ports.push_back(std::move(p));
  }
  if (c->dpdk_ports.empty()) c->dpdk_ports.emplace_back();
  if (c->dpdk_ports.size() > dataplane::dpdk::kMaxPorts)
    return "--dpdk-port: at most " + std::to_string(dataplane::dpdk::kMaxPorts) + " ports";

  const std::vector<uint8_t> port_of = dpdk_interface_ports(*c);
  // Whether a and b (same family) share the --dpdk-prefix-len(6) subnet.
  auto same_subnet = [&](const IpAddr& a, const IpAddr& b) {
    return a.same_prefix(b, a.is_v4() ? 96u + unsigned(std::clamp(c->dpdk_prefix_len, 0, 32))
                                      : unsigned(std::clamp(c->dpdk_prefix_len6, 0, 128)));
  };
  for (const std::string& g : gateways) {
    auto gw = IpAddr::parse(g);
    if (!gw || gw->is_unspecified()) return "--dpdk-gateway: invalid address '" + g + "'";
    // The port whose interface of the same family shares the gateway's
    // subnet; with one port, that port (if it has such an interface).
    const bool family = std::any_of(c->interfaces.begin(), c->interfaces.end(),
                                    [&](const InterfaceConfig& i) { return i.local.is_v4() == gw->is_v4(); });
    if (!family) return "--dpdk-gateway: " + g + ": no --interface of its address family";
    int port = c->dpdk_ports.size() == 1 ? 0 : -1;
    for (size_t i = 0; i < c->interfaces.size() && port < 0; ++i) {
      const IpAddr& a = c->interfaces[i].local;
      if (a.is_v4() == gw->is_v4() && same_subnet(a, *gw)) port = port_of[i];
    }
    if (port < 0) return "--dpdk-gateway: " + g + " is in no DPDK port's interface subnet";
    DpdkPortConfig& p = c->dpdk_ports[size_t(port)];
    IpAddr& slot = gw->is_v4() ? p.gateway : p.gateway6;
    if (!slot.is_unspecified())
      return "--dpdk-gateway: two gateways of one family for one port (" + g + ")";
    slot = *gw;
  }
  return "";
}

}  // namespace

std::vector<uint8_t> dpdk_interface_ports(const Config& c) {
  std::vector<uint8_t> out(c.interfaces.size(), 0);
  for (size_t i = 0; i < c.interfaces.size(); ++i)
    for (size_t p = 0; p < c.dpdk_ports.size(); ++p)
      for (const auto& name : c.dpdk_ports[p].interfaces)
        if (name == c.interfaces[i].name) out[i] = uint8_t(p);
  return out;
}

const char* available_backends() {
#ifdef VOX_HAVE_DPDK
  return "socket, dpdk";
#else
  return "socket";
#endif
}

std::string validate_config(const Config& c) {
  if (c.interfaces.empty()) return "--interface: at least one is required";
  if (c.port_min == 0 || c.port_min >= c.port_max)
    return "--port-min/--port-max: need 0 < port-min < port-max";
  if (c.workers < 1 || c.workers > 64) return "--workers: must be 1..64";
  size_t pairs = (size_t(c.port_max) - c.port_min + 1) / 2;
  if (pairs < size_t(c.workers))
    return "--port-min/--port-max: range has fewer port pairs than workers";
  const bool dpdk_built = std::string(available_backends()).find("dpdk") != std::string::npos;
  if (c.backend != "socket" && !(c.backend == "dpdk" && dpdk_built))
    return "--backend: '" + c.backend + "' is not available (this build has: " +
           available_backends() + ")";
  if (c.backend == "dpdk" && c.dpdk_args.empty())
    return "--dpdk-args: required with --backend=dpdk (EAL arguments, e.g. \"-l 0-1 -a 0000:03:00.0\")";
  if (c.dpdk_prefix_len < 0 || c.dpdk_prefix_len > 32) return "--dpdk-prefix-len: must be 0..32";
  if (c.dpdk_prefix_len6 < 0 || c.dpdk_prefix_len6 > 128) return "--dpdk-prefix-len6: must be 0..128";
  if (c.dpdk_idle_sleep_us < 0 || c.dpdk_idle_sleep_us > 100000)
    return "--dpdk-idle-sleep-us: must be 0..100000";
  if (c.timeout_s < 0) return "--timeout: must be >= 0";
  if (c.silent_timeout_s < 0) return "--silent-timeout: must be >= 0";
  if (c.final_timeout_s < 0) return "--final-timeout: must be >= 0";
  if (c.offer_timeout_s < 0) return "--offer-timeout: must be >= 0";
  if (c.delete_delay_s < 0) return "--delete-delay: must be >= 0";
  if (c.latch_window_ms < 0) return "--latch-window-ms: must be >= 0";
  if (c.rtcp_interval_ms < 0) return "--rtcp-interval: must be >= 0";
  if (c.max_sessions < 0) return "--max-sessions: must be >= 0";
  if (c.ng_rate_limit < 0 || c.ng_rate_limit > 10000000) return "--ng-rate-limit: must be 0..10000000";
  if (c.log_level < 0 || c.log_level > 7) return "--log-level: must be 0..7";
  if (c.opus_complexity < 0 || c.opus_complexity > 10) return "--opus-complexity: must be 0..10";
  if (c.opus_bitrate < 6000 || c.opus_bitrate > 510000) return "--opus-bitrate: must be 6000..510000";
  if (c.coalesce_us < 0 || c.coalesce_us > 10000) return "--coalesce-us: must be 0..10000";
  if (c.dtls_mtu < 256 || c.dtls_mtu > 1500) return "--dtls-mtu: must be 256..1500";
  if (c.dtls_cert_file.empty() != c.dtls_key_file.empty())
    return "--dtls-cert/--dtls-key: give both or neither";
  for (size_t i = 0; i < c.interfaces.size(); ++i)
    for (size_t j = i + 1; j < c.interfaces.size(); ++j)
      if (c.interfaces[i].name == c.interfaces[j].name &&
          c.interfaces[i].local.is_v4() == c.interfaces[j].local.is_v4())
        return "--interface: name '" + c.interfaces[i].name + "' given twice for one address family";
  return "";
}

namespace {

// Flag values that are not Config fields as they stand: parsed or checked
// once CLI11 is done.
struct RawFlags {
  std::vector<std::string> interfaces, listen_ng, listen_http, ng_allow, dpdk_ports, dpdk_gateways;
  std::string dpdk_args, log_facility = "daemon";
  std::string redis, redis_write, redis_auth_pw, redis_write_auth_pw, redis_user;
  std::string redis_tls_ca, redis_tls_cert, redis_tls_key;
  std::vector<std::string> subscribe_keyspace;
  bool redis_tls = false, no_redis_required = false;
  int table = -1;
  bool no_fallback = false, no_log_timestamps = false, codecs = false;
  // rtpengine options voxrelay does not implement: given or not, and value
  std::vector<std::string> compat_values;
  std::vector<CLI::Option*> compat_options;
};

// Interfaces, NG control, calls and their timeouts, workers.
void add_general_flags(CLI::App& app, Config& c, RawFlags& raw) {
  app.add_option("-i,--interface", raw.interfaces,
                 "[NAME/]ADDRESS[!ADVERTISED]: local address for media; ADDRESS an IP, a device, "
                 "'any' or a host name (repeatable)");
  app.add_option("-n,--listen-ng", raw.listen_ng,
                 "NG control socket [IP|HOST:]PORT (repeatable; default 127.0.0.1:22222)");
  app.add_option("--ng-allow", raw.ng_allow, "Only accept NG commands from these addresses");
  app.add_option("--listen-http", raw.listen_http,
                 "Prometheus metrics (GET /metrics) over HTTP at [IP|HOST:]PORT (repeatable; none by default)");
  app.add_option("--ng-rate-limit", c.ng_rate_limit, "NG requests/s per source address, burst twice that (0: no limit)")
      ->capture_default_str();
  app.add_option("-m,--port-min", c.port_min, "Lowest local media port")->capture_default_str();
  app.add_option("-M,--port-max", c.port_max, "Highest local media port")->capture_default_str();
  app.add_option("-o,--timeout", c.timeout_s, "Seconds without media before a call is deleted")
      ->capture_default_str();
  app.add_option("-s,--silent-timeout", c.silent_timeout_s, "Same, for calls on hold")
      ->capture_default_str();
  app.add_option("-a,--final-timeout", c.final_timeout_s, "Maximum call life in seconds (0: none)")
      ->capture_default_str();
  app.add_option("--offer-timeout", c.offer_timeout_s, "Seconds an offer waits for its answer")
      ->capture_default_str();
  app.add_option("-d,--delete-delay", c.delete_delay_s,
                 "Seconds a deleted call is kept for late retransmissions")
      ->capture_default_str();
  app.add_option("--latch-window-ms", c.latch_window_ms,
                 "Source learning window after offer/answer (RTP Bleed defence)")
      ->capture_default_str();
  app.add_option("--rtcp-interval", c.rtcp_interval_ms,
                 "Milliseconds between the relay's own RTCP reports toward each side of a transcoded "
                 "stream, which then replace the other side's (0: none, the other side's are forwarded)")
      ->capture_default_str();
  app.add_option("--max-sessions", c.max_sessions, "Admission limit (0: unlimited)")
      ->capture_default_str();
  app.add_option("--workers,--num-threads", c.workers, "Packet worker threads")
      ->capture_default_str();
}

// The packet backends (DPDK, sockets) and transcoding.
void add_backend_flags(CLI::App& app, Config& c, RawFlags& raw) {
  app.add_option("--backend", c.backend,
                 std::string("Packet I/O backend: ") + available_backends())
      ->capture_default_str();
  app.add_option("--dpdk-args", raw.dpdk_args,
                 "DPDK backend: EAL arguments in one string (lcores, NIC or --vdev, memory)");
  app.add_option("--dpdk-port", raw.dpdk_ports,
                 "DPDK backend: ETHDEV[=NAME[,NAME...]]: a port and the interfaces on it (repeatable; "
                 "default: the first port, all interfaces)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--dpdk-gateway", raw.dpdk_gateways,
                 "DPDK backend: default gateway (IPv4 or IPv6) of the port whose subnet holds it "
                 "(repeatable; one per family and port)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--dpdk-prefix-len", c.dpdk_prefix_len,
                 "DPDK backend: prefix length of the IPv4 media addresses' subnet")
      ->capture_default_str();
  app.add_option("--dpdk-prefix-len6", c.dpdk_prefix_len6,
                 "DPDK backend: prefix length of the IPv6 media addresses' subnet")
      ->capture_default_str();
  app.add_option("--dpdk-idle-sleep-us", c.dpdk_idle_sleep_us,
                 "DPDK backend: idle workers nap this long (0: spin, lowest latency)")
      ->capture_default_str();
  app.add_option("--coalesce-us", c.coalesce_us,
                 "Socket backend: sleep this long after a light poll to batch wake-ups")
      ->capture_default_str();
  app.add_option("--socket-io", c.socket_io,
                 "Socket backend I/O: uring (io_uring, falls back to epoll) or epoll")
      ->check(CLI::IsMember({"uring", "epoll"}))
      ->capture_default_str();
  app.add_option("--opus-complexity", c.opus_complexity,
                 "Transcoding: Opus encoder complexity 0..10 (CPU per call vs quality)")
      ->capture_default_str();
  app.add_option("--opus-bitrate", c.opus_bitrate, "Transcoding: Opus bitrate toward clients, bit/s")
      ->capture_default_str();
  // WebRTC: DTLS-SRTP as rtpengine names its flags.
  app.add_flag("--dtls-passive", c.dtls_passive,
               "DTLS: answer as the server (a=setup:passive) where the relay may choose");
  app.add_option("--dtls-cert", c.dtls_cert_file,
                 "DTLS: certificate (PEM); default: an ECDSA P-256 one made at start");
  app.add_option("--dtls-key", c.dtls_key_file, "DTLS: the certificate's private key (PEM)");
  app.add_option("--dtls-ciphers", c.dtls_ciphers, "DTLS: OpenSSL cipher list")->capture_default_str();
  app.add_option("--dtls-mtu", c.dtls_mtu, "DTLS: largest datagram the relay sends, octets")
      ->capture_default_str();
}

// The process: foreground, logging, pid file, rtpengine's kernel table.
void add_process_flags(CLI::App& app, Config& c, RawFlags& raw) {
  app.add_flag("-f,--foreground", c.foreground, "Stay in the foreground");
  app.add_flag("-E,--log-stderr", c.log_stderr, "Log to stderr, also in the background");
  app.add_flag("--no-log-timestamps", raw.no_log_timestamps, "No time stamps on stderr log lines");
  app.add_option("--log-facility", raw.log_facility, "Syslog facility: daemon, local0..local7, user")
      ->capture_default_str();
  app.add_option("-L,--log-level", c.log_level, "Syslog level 0..7")->capture_default_str();
  app.add_option("-p,--pidfile", c.pidfile, "Write the process id here (once the sockets are bound)");
  app.add_option("--cdr-file", c.cdr_file,
                 "Append one JSON line per ended call here (Call-ID, tags, times, codecs, addresses, "
                 "quality); reopened on SIGHUP");
  app.add_option("-T,--tos", c.tos,
                 "TOS octet of the media voxrelay sends, e.g. 184 (DSCP EF); 0: unmarked "
                 "(DPDK: relayed packets keep the one they arrived with)")
      ->capture_default_str();
  app.add_option("--control-tos", c.control_tos, "TOS of NG replies (0..255; 0: the kernel's)")
      ->capture_default_str();
  app.add_option("-t,--table", raw.table,
                 "rtpengine's kernel table: voxrelay has no kernel module and relays in its "
                 "workers whatever the value")
      ->capture_default_str();
  app.add_flag("-F,--no-fallback", raw.no_fallback,
               "With --table >= 0: refuse to start (there is no kernel forwarding to require)");
  app.add_flag("--codecs", raw.codecs, "Print the codecs voxrelay relays and transcodes, and exit");
}

// High availability: Redis (rtpengine's names, plus ACL user and TLS).
void add_ha_flags(CLI::App& app, Config& c, RawFlags& raw) {
  const char* group = "High availability (Redis)";
  app.add_option("-r,--redis", raw.redis,
                 "[PASSWORD@]HOST:PORT/DB: calls' state is restored from this database at start "
                 "and written to it")->group(group);
  app.add_option("-w,--redis-write", raw.redis_write,
                 "[PASSWORD@]HOST:PORT/DB: write calls' state here instead of --redis")->group(group);
  app.add_option("-k,--subscribe-keyspace", raw.subscribe_keyspace,
                 "Follow the calls of these --redis databases (a standby; list)")->group(group);
  app.add_option("--redis-auth-pw", raw.redis_auth_pw, "Password for --redis")->group(group);
  app.add_option("--redis-write-auth-pw", raw.redis_write_auth_pw, "Password for --redis-write")->group(group);
  app.add_option("--redis-user", raw.redis_user, "Redis ACL user for AUTH (default: 'default')")->group(group);
  app.add_flag("--redis-tls", raw.redis_tls, "Connect to Redis over TLS")->group(group);
  app.add_option("--redis-tls-ca", raw.redis_tls_ca, "CA file Redis's certificate must chain to")->group(group);
  app.add_option("--redis-tls-cert", raw.redis_tls_cert, "Client certificate (PEM) for Redis")->group(group);
  app.add_option("--redis-tls-key", raw.redis_tls_key, "Its private key (PEM)")->group(group);
  app.add_option("--redis-expires", c.redis_expires_s, "Seconds a call's key outlives its last write")
      ->capture_default_str()->group(group);
  app.add_option("--redis-connect-timeout", c.redis_connect_timeout_ms, "Milliseconds")
      ->capture_default_str()->group(group);
  app.add_option("--redis-cmd-timeout", c.redis_cmd_timeout_ms, "Milliseconds per command batch")
      ->capture_default_str()->group(group);
  app.add_option("--redis-disable-time", c.redis_disable_time_s, "Seconds between reconnects")
      ->capture_default_str()->group(group);
  app.add_option("--redis-backlog", c.redis_backlog,
                 "Calls' states waiting for Redis at most (beyond: written again once it is back)")
      ->capture_default_str()->group(group);
  app.add_flag("-q,--no-redis-required", raw.no_redis_required,
               "Start even when Redis cannot be reached")->group(group);
}

// rtpengine's options that voxrelay accepts with a warning or refuses.
void add_compat_flags(CLI::App& app, RawFlags& raw) {
  const auto table = rtpengine_compat_options();
  raw.compat_values.resize(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const CompatOption& o = table[i];
    const std::string names(o.names);
    CLI::Option* opt = o.takes_value ? app.add_option(names, raw.compat_values[i])
                                     : app.add_flag(names);
    opt->group("rtpengine options voxrelay does not implement (see README)");
    raw.compat_options.push_back(opt);
  }
}

const char* const kCodecList =
    "PCMU/8000 relay and transcode (G.711 u-law)\n"
    "PCMA/8000 relay and transcode (G.711 A-law)\n"
    "opus/48000/2 relay and transcode (libopus)\n"
    "telephone-event relay and transcode (RFC 4733, 8000 and 48000)\n"
    "any other codec: relayed unchanged";

bool is_true(const std::string& v) {
  return v == "true" || v == "yes" || v == "on" || v == "1";
}

// Options whose values a config file may list "a; b" (rtpengine's form).
bool is_list_key(const std::string& key) {
  return key == "interface" || key == "listen-ng" || key == "listen-http" || key == "ng-allow" ||
         key == "dpdk-port" || key == "subscribe-keyspace" ||
         key == "dpdk-gateway";
}

// A config file's entries as command-line arguments, in file order. A
// boolean option takes true/false (rtpengine) or stands bare (voxrelay).
Result<std::vector<std::string>, std::string> file_arguments(const CLI::App& app,
                                                             const std::vector<FileEntry>& entries) {
  std::vector<std::string> args;
  for (const FileEntry& e : entries) {
    const CLI::Option* opt = app.get_option_no_throw("--" + e.key);
    if (opt == nullptr) return Err{"config file: unknown key '" + e.key + "'"};
    if (opt->get_expected_max() == 0) {  // a flag
      if (e.bare || is_true(e.value)) args.push_back("--" + e.key);
      continue;
    }
    if (is_list_key(e.key)) {
      for (const std::string& item : split_trimmed(e.value, ';'))
        if (!item.empty()) args.push_back("--" + e.key + "=" + item);
      continue;
    }
    args.push_back("--" + e.key + "=" + e.value);
  }
  return args;
}

// The value of `--name VALUE` or `--name=VALUE` on the command line; "" if absent.
std::string command_line_value(int argc, const char* const* argv, std::initializer_list<std::string_view> names) {
  std::string found;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    for (std::string_view n : names) {
      if (a == n && i + 1 < argc) found = argv[i + 1];
      else if (a.size() > n.size() && a.substr(0, n.size()) == n && a[n.size()] == '=')
        found = std::string(a.substr(n.size() + 1));
    }
  }
  return found;
}

// The arguments for CLI11 (which parses from the back of the vector): the
// command line, reversed, then the config file's, reversed after it, so the
// file is parsed first, in its own order, and the command line overrides it.
Result<std::vector<std::string>, std::string> cli_arguments(const CLI::App& app, int argc,
                                                            const char* const* argv) {
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  const std::string path = command_line_value(argc, argv, {"--config-file", "--config"});
  if (path.empty()) return args;
  const std::string section = command_line_value(argc, argv, {"--config-section"});
  const std::vector<std::string> sections =
      section.empty() ? std::vector<std::string>{"", "rtpengine", "voxrelay"}
                      : std::vector<std::string>{section};
  auto entries = read_config_file(path, sections);
  if (!entries.ok()) return Err{entries.error()};
  auto file_args = file_arguments(app, *entries);
  if (!file_args.ok()) return Err{path + ": " + file_args.error()};
  args.insert(args.end(), file_args->rbegin(), file_args->rend());
  return args;
}

// "PORT", "IP:PORT", "[IPv6]:PORT" or "HOST:PORT" (the host's first IPv4
// address, else its first). A port alone listens on every IPv4 address.
Result<Endpoint, std::string> parse_listen(const std::string& spec, const AddressSource& addresses,
                                          const std::string& option) {
  const auto bad = [&] { return Err{option + ": expected [IP|HOST:]PORT, got '" + spec + "'"}; };
  if (auto e = Endpoint::parse(spec)) return *e;
  const size_t colon = spec.rfind(':');
  const std::string host = colon == std::string::npos ? "" : spec.substr(0, colon);
  const std::string port = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  const unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return bad();
  Endpoint e;
  e.port = uint16_t(p);
  if (host.empty()) {
    e.addr = *IpAddr::parse("0.0.0.0");
    return e;
  }
  const std::vector<IpAddr> found = addresses.host(host);
  if (found.empty()) return Err{option + ": cannot resolve '" + host + "' in '" + spec + "'"};
  auto v4 = std::find_if(found.begin(), found.end(), [](const IpAddr& a) { return a.is_v4(); });
  e.addr = v4 != found.end() ? *v4 : found.front();
  return e;
}

// Keeps the first address of each (name, family); the rest are warned about.
void drop_extra_addresses(Config& c, std::vector<std::string>& warnings) {
  std::vector<InterfaceConfig> kept;
  for (const InterfaceConfig& itf : c.interfaces) {
    auto primary = std::find_if(kept.begin(), kept.end(), [&](const InterfaceConfig& k) {
      return k.name == itf.name && k.local.is_v4() == itf.local.is_v4();
    });
    if (primary == kept.end()) {
      kept.push_back(itf);
      continue;
    }
    warnings.push_back("--interface: " + itf.name + "/" + itf.local.to_string() +
                       " not used: voxrelay relays on the first address of a name and family (" +
                       primary->local.to_string() +
                       "); rtpengine would offer it as an extra ICE candidate. Use "
                       "names BASE:1, BASE:2 to spread calls over addresses");
  }
  c.interfaces = std::move(kept);
}

int syslog_facility(const std::string& name) {
  if (name == "daemon") return LOG_DAEMON;
  if (name == "user") return LOG_USER;
  if (name.size() == 6 && name.rfind("local", 0) == 0 && name[5] >= '0' && name[5] <= '7')
    return (16 + (name[5] - '0')) << 3;  // LOG_LOCAL0..7
  return -1;
}

// The raw flag values into c; the error message, or "".
std::string apply_raw_flags(RawFlags& raw, const AddressSource& addresses, ConfigOutcome& out) {
  Config& c = out.config;
  if (raw.table >= 0 && raw.no_fallback)
    return "--no-fallback: voxrelay has no kernel module to require (--table=" +
           std::to_string(raw.table) + "); drop --no-fallback or set --table=-1";
  if (raw.table >= 0)
    out.warnings.push_back("--table=" + std::to_string(raw.table) +
                           ": voxrelay has no kernel forwarding; its workers relay every packet "
                           "(as rtpengine does when its kernel module is missing)");
  if (raw.interfaces.empty()) raw.interfaces.push_back("127.0.0.1");
  for (const auto& spec : raw.interfaces) {
    auto itfs = parse_interface(spec, addresses);
    if (!itfs.ok()) return itfs.error();
    c.interfaces.insert(c.interfaces.end(), itfs->begin(), itfs->end());
  }
  drop_extra_addresses(c, out.warnings);
  if (raw.listen_ng.empty()) raw.listen_ng.push_back("127.0.0.1:22222");
  for (auto [specs, option, into] : {std::tuple{&raw.listen_ng, "--listen-ng", &c.listen_ng},
                                     std::tuple{&raw.listen_http, "--listen-http", &c.listen_http}})
    for (const auto& spec : *specs) {
      auto at = parse_listen(spec, addresses, option);
      if (!at.ok()) return at.error();
      if (std::find(into->begin(), into->end(), *at) == into->end()) into->push_back(*at);
    }
  for (const auto& a : raw.ng_allow) {
    auto ip = IpAddr::parse(a);
    if (!ip) return "--ng-allow: invalid address '" + a + "'";
    c.ng_allow.push_back(*ip);
  }
  for (const Endpoint& ng : c.listen_ng)
    if (ng.addr.is_unspecified() && c.ng_allow.empty())
      out.warnings.push_back("--listen-ng=" + ng.to_string() +
                             ": NG is open to any address and --ng-allow is not set: anyone who "
                             "reaches this port can create and delete calls");
  c.log_timestamps = !raw.no_log_timestamps;
  c.log_facility = syslog_facility(raw.log_facility);
  if (c.log_facility < 0) return "--log-facility: '" + raw.log_facility + "' is not daemon, user or local0..local7";
  if (c.control_tos < 0 || c.control_tos > 255) return "--control-tos: must be 0..255";
  if (c.tos < 0 || c.tos > 255) return "--tos: must be 0..255";
  c.dpdk_args = split_words(raw.dpdk_args);
  return parse_dpdk_ports(raw.dpdk_ports, raw.dpdk_gateways, &c);
}

// --redis, --redis-write and what goes with them into c; the error, or "".
std::string apply_ha_flags(const RawFlags& raw, Config& c) {
  for (auto [spec, password, option, into] :
       {std::tuple{&raw.redis, &raw.redis_auth_pw, "--redis", &c.redis},
        std::tuple{&raw.redis_write, &raw.redis_write_auth_pw, "--redis-write", &c.redis_write}}) {
    if (spec->empty()) continue;
    auto t = ha::parse_redis_target(*spec);
    if (!t.ok()) return std::string(option) + ": " + t.error();
    if (!password->empty()) t->password = *password;
    t->user = raw.redis_user;
    t->tls = raw.redis_tls;
    t->tls_ca = raw.redis_tls_ca;
    t->tls_cert = raw.redis_tls_cert;
    t->tls_key = raw.redis_tls_key;
    *into = *t;
  }
  for (const std::string& list : raw.subscribe_keyspace)
    for (const std::string& db : split_trimmed(list, ',')) {
      if (db.empty()) continue;
      if (db.find_first_not_of("0123456789") != std::string::npos || db.size() > 5)
        return "--subscribe-keyspace: '" + db + "' is not a database number";
      c.subscribe_keyspace.push_back(std::stoi(db));
    }
  if (!c.subscribe_keyspace.empty() && !c.redis)
    return "--subscribe-keyspace: needs --redis (the server whose databases are followed)";
  if (c.redis_write && !c.redis) return "--redis-write: needs --redis";
  if (raw.redis_tls_cert.empty() != raw.redis_tls_key.empty())
    return "--redis-tls-cert/--redis-tls-key: give both or neither";
  if (c.redis_expires_s < 1) return "--redis-expires: must be >= 1";
  if (c.redis_connect_timeout_ms < 1 || c.redis_cmd_timeout_ms < 1)
    return "--redis-connect-timeout/--redis-cmd-timeout: must be >= 1";
  if (c.redis_disable_time_s < 1) return "--redis-disable-time: must be >= 1 (seconds between reconnects)";
  if (c.redis_backlog < 1) return "--redis-backlog: must be >= 1";
  c.redis_required = !raw.no_redis_required;
  return "";
}

// Warnings for the rtpengine options given that voxrelay accepts, the
// error for the first it refuses (or "").
std::string apply_compat_flags(const RawFlags& raw, ConfigOutcome& out) {
  const auto table = rtpengine_compat_options();
  for (size_t i = 0; i < table.size(); ++i) {
    const CLI::Option* opt = raw.compat_options[i];
    if (opt->count() == 0) continue;
    const std::string_view names = table[i].names;
    const std::string name(names.substr(names.find("--")));
    const std::string given = table[i].takes_value ? name + "=" + raw.compat_values[i] : name;
    if (table[i].action == CompatAction::kRefuse) return given + ": " + std::string(table[i].note);
    out.warnings.push_back(given + ": " + std::string(table[i].note));
  }
  return "";
}

}  // namespace

ConfigOutcome parse_config(int argc, const char* const* argv, const AddressSource& addresses) {
  ConfigOutcome out;
  const auto finish = [&](std::string message, int exit_code) {
    out.message = std::move(message);
    out.exit_code = exit_code;
    return out;
  };
  CLI::App app{"voxrelay: media relay and transcoder for telephony (NG protocol)", "voxrelay"};
  const std::string version = std::string("voxrelay 0.1.0 (backends: ") + available_backends() + ")";
  app.set_version_flag("-v,--version", version);
  std::string config_file, config_section;  // found before parsing (cli_arguments); here for --help
  app.add_option("--config-file,--config", config_file,
                 "Config file (INI; sections [rtpengine] then [voxrelay], keys as the long "
                 "flags); the command line overrides it");
  app.add_option("--config-section", config_section,
                 "Read only this section of the config file");
  // A flag given twice (config file, then command line) takes the last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  RawFlags raw;
  add_general_flags(app, out.config, raw);
  add_backend_flags(app, out.config, raw);
  add_process_flags(app, out.config, raw);
  add_ha_flags(app, out.config, raw);
  add_compat_flags(app, raw);

  auto args = cli_arguments(app, argc, argv);
  if (!args.ok()) return finish(args.error(), 2);
  try {
    app.parse(*args);
  } catch (const CLI::CallForHelp&) {
    return finish(app.help(), 0);
  } catch (const CLI::CallForVersion&) {
    return finish(version, 0);
  } catch (const CLI::ParseError& e) {
    return finish(e.what(), 2);
  }
  if (raw.codecs) return finish(kCodecList, 0);
  if (auto err = apply_compat_flags(raw, out); !err.empty()) return finish(err, 2);
  if (auto err = apply_raw_flags(raw, addresses, out); !err.empty()) return finish(err, 2);
  if (auto err = apply_ha_flags(raw, out.config); !err.empty()) return finish(err, 2);
  if (auto err = validate_config(out.config); !err.empty()) return finish(err, 2);
  return out;
}

}  // namespace vox::control
