// Command line and config file parsing (CLI11; INI file, section
// [voxrelay]), then validation. Flag names follow rtpengine's.
#include "control/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>

#include "dataplane/dpdk/limits.h"

namespace vox::control {

namespace {

Result<InterfaceConfig, std::string> parse_interface(const std::string& spec) {
  InterfaceConfig itf;
  std::string rest = spec;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    itf.name = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (itf.name.empty()) return Err{"--interface: empty name in '" + spec + "'"};
  }
  std::string adv;
  if (auto bang = rest.find('!'); bang != std::string::npos) {
    adv = rest.substr(bang + 1);
    rest = rest.substr(0, bang);
  }
  auto local = IpAddr::parse(rest);
  if (!local) return Err{"--interface: invalid address '" + rest + "' in '" + spec + "'"};
  itf.local = *local;
  itf.advertised = *local;
  if (!adv.empty()) {
    auto a = IpAddr::parse(adv);
    if (!a) return Err{"--interface: invalid advertised address '" + adv + "'"};
    if (a->is_v4() != local->is_v4())
      return Err{"--interface: advertised address family differs in '" + spec + "'"};
    itf.advertised = *a;
  }
  return itf;
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

// Reads an INI config file into "--key=value" arguments: keys before any
// section or in [voxrelay]; other sections are ignored (a file can be
// shared with other tools). Lists (interface, ng-allow) may be written
// "a; b" as in rtpengine's file. CLI11 2.1's own section support applies
// only the first key of a section, hence this small reader.
Result<std::vector<std::string>, std::string> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err{"--config: cannot read '" + path + "'"};
  std::vector<std::string> args;
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
    if (!section.empty() && section != "voxrelay") continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      // A bare key is a boolean flag ("foreground").
      args.push_back("--" + line);
      continue;
    }
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (key == "foreground") {
      if (value == "true" || value == "1" || value == "yes") args.push_back("--foreground");
      continue;
    }
    if (key == "interface" || key == "ng-allow") {
      for (const std::string& item : split_trimmed(value, ';'))
        if (!item.empty()) args.push_back("--" + key + "=" + item);
      continue;
    }
    args.push_back("--" + key + "=" + value);
  }
  return args;
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
  if (c.max_sessions < 0) return "--max-sessions: must be >= 0";
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
  std::vector<std::string> interfaces, ng_allow, dpdk_ports, dpdk_gateways;
  std::string listen_ng = "127.0.0.1:22222";
  std::string dpdk_args;
  int table = -1;
};

// Interfaces, NG control, calls and their timeouts, workers.
void add_general_flags(CLI::App& app, Config& c, RawFlags& raw) {
  app.add_option("-i,--interface", raw.interfaces,
                 "[NAME/]IP[!ADVERTISED]: local address for media (repeatable)");
  app.add_option("-n,--listen-ng", raw.listen_ng, "NG control socket IP:PORT")
      ->capture_default_str();
  app.add_option("--ng-allow", raw.ng_allow, "Only accept NG commands from these addresses");
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

// The process: foreground, logging, pid file (after the others in --help).
void add_process_flags(CLI::App& app, Config& c, RawFlags& raw) {
  app.add_flag("-f,--foreground", c.foreground, "Stay in the foreground (log to stderr)");
  app.add_option("-L,--log-level", c.log_level, "Syslog level 0..7")->capture_default_str();
  app.add_option("-p,--pidfile", c.pidfile, "Write the process id here");
  app.add_option("--table", raw.table, "Accepted for rtpengine compatibility; must be -1")
      ->capture_default_str();
}

// The arguments for CLI11 (which wants them reversed): the command line,
// then each --config file's settings, appended so that they are parsed
// first and command-line flags override them.
Result<std::vector<std::string>, std::string> cli_arguments(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string path;
    if (a.rfind("--config=", 0) == 0) path = a.substr(9);
    else if (a == "--config" && i + 1 < argc) path = argv[i + 1];
    else continue;
    auto file_args = read_config_file(path);
    if (!file_args.ok()) return Err{file_args.error()};
    for (auto& fa : *file_args) args.push_back(fa);
  }
  return args;
}

// The raw flag values into c; the error message, or "".
std::string apply_raw_flags(RawFlags& raw, Config& c) {
  if (raw.table != -1) return "--table: only -1 (no kernel forwarding) is supported";
  if (raw.interfaces.empty()) raw.interfaces.push_back("127.0.0.1");
  for (const auto& spec : raw.interfaces) {
    auto itf = parse_interface(spec);
    if (!itf.ok()) return itf.error();
    c.interfaces.push_back(*itf);
  }
  auto ng = Endpoint::parse(raw.listen_ng);
  if (!ng) return "--listen-ng: expected IP:PORT, got '" + raw.listen_ng + "'";
  c.listen_ng = *ng;
  for (const auto& a : raw.ng_allow) {
    auto ip = IpAddr::parse(a);
    if (!ip) return "--ng-allow: invalid address '" + a + "'";
    c.ng_allow.push_back(*ip);
  }
  c.dpdk_args = split_words(raw.dpdk_args);
  return parse_dpdk_ports(raw.dpdk_ports, raw.dpdk_gateways, &c);
}

}  // namespace

ConfigOutcome parse_config(int argc, const char* const* argv) {
  ConfigOutcome out;
  const auto finish = [&](std::string message, int exit_code) {
    out.message = std::move(message);
    out.exit_code = exit_code;
    return out;
  };
  CLI::App app{"voxrelay: media relay and transcoder for telephony (NG protocol)", "voxrelay"};
  const std::string version = std::string("voxrelay 0.1.0 (backends: ") + available_backends() + ")";
  app.set_version_flag("--version", version);
  std::string config_file;  // found before parsing (cli_arguments); here for --help
  app.add_option("--config", config_file,
                 "Config file (INI, section [voxrelay], keys as the long flags); flags override it");
  // A flag given twice (config file, then command line) takes the last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  RawFlags raw;
  add_general_flags(app, out.config, raw);
  add_backend_flags(app, out.config, raw);
  add_process_flags(app, out.config, raw);

  auto args = cli_arguments(argc, argv);
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
  if (auto err = apply_raw_flags(raw, out.config); !err.empty()) return finish(err, 2);
  if (auto err = validate_config(out.config); !err.empty()) return finish(err, 2);
  return out;
}

}  // namespace vox::control
