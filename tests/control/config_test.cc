// Configuration: defaults, rtpengine-style flags, interfaces, config file,
// and one-line errors naming the key.
#include "control/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

namespace vox::control {
namespace {

// A host with eth0 (10.0.0.5, 2001:db8::5) and eth1 (192.168.1.5), and
// names in its DNS, so that address resolution is the same everywhere.
AddressSource fake_host() {
  auto ip = [](const char* s) { return *IpAddr::parse(s); };
  AddressSource a;
  a.device = [ip](std::string_view d) -> std::vector<IpAddr> {
    if (d == "eth0") return {ip("10.0.0.5"), ip("2001:db8::5")};
    if (d == "eth1") return {ip("192.168.1.5")};
    if (d == "any") return {ip("10.0.0.5"), ip("2001:db8::5"), ip("192.168.1.5")};
    return {};
  };
  a.host = [ip](std::string_view h) -> std::vector<IpAddr> {
    if (h == "localhost") return {ip("::1"), ip("127.0.0.1")};
    if (h == "media.example.net") return {ip("203.0.113.9")};
    return {};
  };
  return a;
}

ConfigOutcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "voxrelay");
  return parse_config(int(args.size()), args.data(), fake_host());
}

bool has_warning(const ConfigOutcome& o, std::string_view text) {
  for (const auto& w : o.warnings)
    if (w.find(text) != std::string::npos) return true;
  return false;
}

// A config file in /tmp, removed with the object.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/voxrelay-config-XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(Config, DefaultsRunOnLoopback) {
  auto o = parse({});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  ASSERT_EQ(o.config.listen_ng.size(), 1u);
  EXPECT_EQ(o.config.listen_ng[0].to_string(), "127.0.0.1:22222");
  EXPECT_TRUE(o.warnings.empty());
  ASSERT_EQ(o.config.interfaces.size(), 1u);
  EXPECT_EQ(o.config.interfaces[0].local.to_string(), "127.0.0.1");
  EXPECT_EQ(o.config.port_min, 30000);
  EXPECT_EQ(o.config.port_max, 40000);
  EXPECT_EQ(o.config.timeout_s, 60);
  EXPECT_EQ(o.config.backend, "socket");
}

TEST(Config, DtlsFlagsAsRtpengineNamesThem) {
  auto o = parse({});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_FALSE(o.config.dtls_passive);
  EXPECT_TRUE(o.config.dtls_cert_file.empty());  // a certificate is made at start
  EXPECT_EQ(o.config.dtls_mtu, 1200);
  o = parse({"--dtls-passive", "--dtls-cert=/etc/c.pem", "--dtls-key=/etc/k.pem",
             "--dtls-ciphers=HIGH", "--dtls-mtu=1400"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_TRUE(o.config.dtls_passive);
  EXPECT_EQ(o.config.dtls_cert_file, "/etc/c.pem");
  EXPECT_EQ(o.config.dtls_key_file, "/etc/k.pem");
  EXPECT_EQ(o.config.dtls_ciphers, "HIGH");
  EXPECT_EQ(o.config.dtls_mtu, 1400);
  o = parse({"--dtls-cert=/etc/c.pem"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.message.find("--dtls-cert/--dtls-key"), std::string::npos) << o.message;
  o = parse({"--dtls-mtu=100"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.message.find("--dtls-mtu"), std::string::npos) << o.message;
}

TEST(Config, InterfacesWithNamesAndAdvertisedAddresses) {
  auto o = parse({"--interface=int/10.0.0.5", "--interface=ext/10.0.1.5!203.0.113.5",
                  "--interface=ext/2001:db8::5", "--listen-ng=[::1]:2223", "--workers=2"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  ASSERT_EQ(o.config.interfaces.size(), 3u);
  EXPECT_EQ(o.config.interfaces[1].name, "ext");
  EXPECT_EQ(o.config.interfaces[1].advertised.to_string(), "203.0.113.5");
  EXPECT_FALSE(o.config.interfaces[2].local.is_v4());
  EXPECT_EQ(o.config.listen_ng.at(0).port, 2223);
  EXPECT_EQ(o.config.workers, 2);
}

TEST(Config, BadValuesNameTheKey) {
  struct Case {
    std::vector<const char*> args;
    const char* key;
  } cases[] = {
      {{"--port-min=abc"}, "--port-min"},
      {{"--port-min=5000", "--port-max=4000"}, "--port-min"},
      {{"--interface=notanip"}, "--interface"},
      {{"--backend=bogus"}, "--backend"},
      {{"--listen-ng=nonsense"}, "--listen-ng"},
      {{"--workers=0"}, "--workers"},
      {{"--timeout=-1"}, "--timeout"},
      {{"--interface=a/1.2.3.4!::1"}, "--interface"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--dpdk-gateway=nope"}, "--dpdk-gateway"},
      {{"--dpdk-gateway=2001:db8::1"}, "--dpdk-gateway"},  // the default interface is IPv4
      {{"--dpdk-prefix-len6=129"}, "--dpdk-prefix-len6"},
      {{"--dpdk-prefix-len=33"}, "--dpdk-prefix-len"},
      {{"--dpdk-idle-sleep-us=-1"}, "--dpdk-idle-sleep-us"},
  };
  for (const auto& c : cases) {
    auto o = parse(c.args);
    EXPECT_EQ(o.exit_code, 2) << c.key;
    EXPECT_NE(o.message.find(c.key), std::string::npos) << o.message;
    EXPECT_EQ(o.message.find('\n'), std::string::npos) << o.message;
  }
}

TEST(Config, DpdkBackendOptions) {
  const bool built = std::string(available_backends()).find("dpdk") != std::string::npos;
  auto o = parse({"--backend=dpdk", "--interface=10.77.0.1", "--dpdk-gateway=10.77.0.254",
                  "--dpdk-prefix-len=16", "--dpdk-port=net_af_packet0",
                  "--dpdk-args=--no-huge  -m 512 --vdev=net_af_packet0,iface=veth0"});
  if (!built) {
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_NE(o.message.find("--backend"), std::string::npos) << o.message;
    return;
  }
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_EQ(o.config.dpdk_args,
            (std::vector<std::string>{"--no-huge", "-m", "512", "--vdev=net_af_packet0,iface=veth0"}));
  EXPECT_EQ(o.config.dpdk_prefix_len, 16);
  ASSERT_EQ(o.config.dpdk_ports.size(), 1u);
  EXPECT_EQ(o.config.dpdk_ports[0].ethdev, "net_af_packet0");
  EXPECT_EQ(o.config.dpdk_ports[0].gateway.to_string(), "10.77.0.254");
  // Without --dpdk-port: the first port DPDK finds, every interface on it.
  auto first = parse({"--backend=dpdk", "--dpdk-args=-l 0-1"});
  ASSERT_EQ(first.exit_code, -1) << first.message;
  ASSERT_EQ(first.config.dpdk_ports.size(), 1u);
  EXPECT_EQ(first.config.dpdk_ports[0].ethdev, "");
  // EAL arguments are required: a DPDK process without them owns no port.
  auto missing = parse({"--backend=dpdk"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.message.find("--dpdk-args"), std::string::npos) << missing.message;
}

// Two NICs: the carrier trunk on one, the clients on the other, each with
// its own gateway (found by subnet); an interface no port names is on the
// first.
TEST(Config, DpdkPortsBindInterfacesAndGateways) {
  auto o = parse({"--interface=trunk/10.77.0.1", "--interface=clients/10.79.0.1",
                  "--interface=trunk/fd00::1", "--interface=spare/10.77.0.9",
                  "--dpdk-port=0000:03:00.0=trunk", "--dpdk-port=0000:03:00.1=clients",
                  "--dpdk-gateway=10.79.0.254", "--dpdk-gateway=10.77.0.254"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  const Config& c = o.config;
  ASSERT_EQ(c.dpdk_ports.size(), 2u);
  EXPECT_EQ(c.dpdk_ports[0].ethdev, "0000:03:00.0");
  EXPECT_EQ(c.dpdk_ports[0].interfaces, std::vector<std::string>{"trunk"});
  EXPECT_EQ(c.dpdk_ports[0].gateway.to_string(), "10.77.0.254");
  EXPECT_EQ(c.dpdk_ports[1].ethdev, "0000:03:00.1");
  EXPECT_EQ(c.dpdk_ports[1].gateway.to_string(), "10.79.0.254");
  EXPECT_TRUE(c.dpdk_ports[0].gateway6.is_unspecified());
  EXPECT_EQ(dpdk_interface_ports(c), (std::vector<uint8_t>{0, 1, 0, 0}));

  // IPv6: the gateway goes to the port whose IPv6 interface's /prefix_len6
  // holds it, beside that port's IPv4 gateway.
  auto v6 = parse({"--interface=trunk/10.77.0.1", "--interface=clients/10.79.0.1",
                   "--interface=clients6/2001:db8:5::1", "--dpdk-port=p0=trunk",
                   "--dpdk-port=p1=clients,clients6", "--dpdk-gateway=10.79.0.254",
                   "--dpdk-gateway=2001:db8:5::fe", "--dpdk-prefix-len6=48"});
  ASSERT_EQ(v6.exit_code, -1) << v6.message;
  EXPECT_EQ(v6.config.dpdk_prefix_len6, 48);
  EXPECT_EQ(v6.config.dpdk_ports[1].gateway.to_string(), "10.79.0.254");
  EXPECT_EQ(v6.config.dpdk_ports[1].gateway6.to_string(), "2001:db8:5::fe");
  EXPECT_TRUE(v6.config.dpdk_ports[0].gateway6.is_unspecified());

  auto multi = parse({"--interface=a/10.1.0.1", "--interface=b/10.2.0.1", "--interface=c/10.3.0.1",
                      "--dpdk-port=p0", "--dpdk-port=p1=b,c"});
  ASSERT_EQ(multi.exit_code, -1) << multi.message;
  EXPECT_EQ(dpdk_interface_ports(multi.config), (std::vector<uint8_t>{0, 1, 1}));

  struct Bad {
    std::vector<const char*> args;
    const char* says;
  };
  const std::vector<Bad> bad = {
      {{"--interface=a/10.1.0.1", "--dpdk-port=p0=nosuch"}, "no --interface named 'nosuch'"},
      {{"--interface=a/10.1.0.1", "--dpdk-port=p0=a", "--dpdk-port=p1=a"}, "bound to two ports"},
      {{"--dpdk-port=p0", "--dpdk-port=p0"}, "given twice"},
      {{"--dpdk-port==a"}, "empty ethdev"},
      {{"--interface=a/10.1.0.1", "--interface=b/10.2.0.1", "--dpdk-port=p0=a", "--dpdk-port=p1=b",
        "--dpdk-gateway=192.0.2.1"},
       "in no DPDK port's interface subnet"},
      {{"--interface=a/10.1.0.1", "--dpdk-gateway=10.1.0.254", "--dpdk-gateway=10.1.0.253"},
       "two gateways of one family for one port"},
      {{"--interface=a/10.1.0.1", "--interface=a/fd00::1", "--dpdk-gateway=fd00::fe",
        "--dpdk-gateway=fd00::fd"},
       "two gateways of one family for one port"},
      {{"--dpdk-gateway=fd00::1"}, "no --interface of its address family"},
      {{"--interface=a/fd00::1", "--interface=b/10.1.0.1", "--dpdk-port=p0=a", "--dpdk-port=p1=b",
        "--dpdk-gateway=fd00:0:0:1::1"},
       "in no DPDK port's interface subnet"},
      {{"--dpdk-gateway=::"}, "invalid address"},
      {{"--dpdk-gateway=nonsense"}, "invalid address"},
      {{"--dpdk-port=p0", "--dpdk-port=p1", "--dpdk-port=p2", "--dpdk-port=p3", "--dpdk-port=p4",
        "--dpdk-port=p5", "--dpdk-port=p6", "--dpdk-port=p7", "--dpdk-port=p8"},
       "at most 8 ports"},
  };
  for (const auto& b : bad) {
    auto r = parse(b.args);
    EXPECT_EQ(r.exit_code, 2) << b.says;
    EXPECT_NE(r.message.find("--dpdk-"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(b.says), std::string::npos) << r.message;
  }
}

TEST(Config, ConfigFileSectionAndOverride) {
  char path[] = "/tmp/voxrelay-config-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "[voxrelay]\nlisten-ng = 127.0.0.1:23000\nport-min = 31000\n"
                         "port-max = 31999\ninterface = ext/127.0.0.2\n";
  std::string arg = std::string("--config=") + path;
  auto o = parse({arg.c_str(), "--port-max=31500"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_EQ(o.config.listen_ng.at(0).port, 23000);
  EXPECT_EQ(o.config.port_min, 31000);
  EXPECT_EQ(o.config.port_max, 31500);  // the command line wins
  EXPECT_EQ(o.config.interfaces[0].name, "ext");

  std::ofstream(path) << "[voxrelay]\nport-min = lots\n";
  auto bad = parse({arg.c_str()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.message.find("port-min"), std::string::npos) << bad.message;
  std::remove(path);
}

// Debian's /etc/rtpengine/rtpengine.conf and its unit's command line
// (rtpengine-daemon.service) start voxrelay, with a warning for each option
// it does not implement.
constexpr const char* kDebianConf =
    "[rtpengine]\n"
    "table = 0\n"
    "interface = any\n"
    "listen-ng = localhost:2223\n"
    "listen-http = localhost:2225\n"
    "listen-cli = localhost:2224\n"
    "timeout = 60\n"
    "silent-timeout = 3600\n"
    "tos = 184\n"
    "port-min = 30000\n"
    "port-max = 40000\n"
    "recording-dir = /var/spool/rtpengine\n"
    "recording-method = proc\n"
    "[rtpengine-testing]\n"
    "table = -1\n"
    "interface = 10.15.20.121\n"
    "listen-ng = 2223\n"
    "foreground = true\n"
    "log-stderr = true\n"
    "log-level = 7\n";

TEST(Config, DebianRtpengineConfAndUnitLine) {
  TempFile conf(kDebianConf);
  auto o = parse({"-f", "-E", "--no-log-timestamps", "--pidfile", "/run/rtpengine/x.pid",
                  "--config-file", conf.path.c_str()});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  const Config& c = o.config;
  EXPECT_TRUE(c.foreground);
  EXPECT_TRUE(c.log_stderr);
  EXPECT_FALSE(c.log_timestamps);
  EXPECT_EQ(c.pidfile, "/run/rtpengine/x.pid");
  ASSERT_EQ(c.listen_ng.size(), 1u);
  EXPECT_EQ(c.listen_ng[0].to_string(), "127.0.0.1:2223");  // localhost: its IPv4 address
  // any: every non-loopback address, the first of each family relayed on.
  ASSERT_EQ(c.interfaces.size(), 2u);
  EXPECT_EQ(c.interfaces[0].local.to_string(), "10.0.0.5");
  EXPECT_EQ(c.interfaces[1].local.to_string(), "2001:db8::5");
  EXPECT_EQ(c.timeout_s, 60);
  EXPECT_EQ(c.silent_timeout_s, 3600);
  for (const char* w : {"--table=0", "--listen-cli=localhost:2224",
                        "--recording-dir=/var/spool/rtpengine",
                        "--recording-method=proc", "192.168.1.5 not used"})
    EXPECT_TRUE(has_warning(o, w)) << w;
  EXPECT_EQ(o.warnings.size(), 5u);
  ASSERT_EQ(c.listen_http.size(), 1u);  // implemented: /metrics there
  EXPECT_EQ(c.listen_http[0].to_string(), "127.0.0.1:2225");
  EXPECT_EQ(c.tos, 184);  // implemented: media leaves marked EF
  for (const auto& w : o.warnings) EXPECT_EQ(w.find('\n'), std::string::npos) << w;

  // The other section, alone: a port alone listens on any IPv4 address,
  // and without --ng-allow that is worth a warning.
  auto t = parse({"--config-file", conf.path.c_str(), "--config-section=rtpengine-testing"});
  ASSERT_EQ(t.exit_code, -1) << t.message;
  EXPECT_TRUE(t.config.foreground);
  EXPECT_TRUE(t.config.log_stderr);
  EXPECT_EQ(t.config.log_level, 7);
  EXPECT_EQ(t.config.interfaces.at(0).local.to_string(), "10.15.20.121");
  EXPECT_EQ(t.config.listen_ng.at(0).to_string(), "0.0.0.0:2223");
  EXPECT_TRUE(has_warning(t, "--ng-allow is not set"));
  EXPECT_FALSE(has_warning(t, "--table"));
}

TEST(Config, SectionsOverrideInOrder) {
  // Keys before any section, then [rtpengine], then [voxrelay]; the
  // command line last. A boolean key takes true/false.
  TempFile conf(
      "port-min = 30000\n[voxrelay]\nport-max = 39000\ntimeout = 50\n"
      "[rtpengine]\nport-max = 38000\ntimeout = 40\nforeground = false\nlog-stderr = yes\n"
      "[other]\ntimeout = 1\n");
  auto o = parse({"--config-file", conf.path.c_str(), "--timeout=45"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_EQ(o.config.port_min, 30000);
  EXPECT_EQ(o.config.port_max, 39000);  // [voxrelay] over [rtpengine]
  EXPECT_EQ(o.config.timeout_s, 45);    // the command line over both
  EXPECT_FALSE(o.config.foreground);
  EXPECT_TRUE(o.config.log_stderr);
  // Within a section, the later line wins.
  TempFile twice("[rtpengine]\ntimeout = 10\ntimeout = 20\n");
  auto t = parse({"--config-file", twice.path.c_str()});
  EXPECT_EQ(t.config.timeout_s, 20);
  TempFile unknown("[rtpengine]\nno-such-key = 1\n");
  auto u = parse({"--config-file", unknown.path.c_str()});
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_NE(u.message.find("no-such-key"), std::string::npos) << u.message;
}

// Every long option of `rtpengine --help` (10.5) is known: implemented,
// accepted with a warning naming it, or refused with a reason naming it.
TEST(Config, EveryRtpengineOptionIsKnown) {
  const char* const names[] = {
      "version", "config-file", "config-section", "log-facility", "log-level", "log-level-core",
      "log-level-spandsp", "log-level-ffmpeg", "log-level-transcoding", "log-level-codec",
      "log-level-rtcp", "log-level-ice", "log-level-crypto", "log-level-srtp",
      "log-level-internals", "log-level-http", "log-level-control", "log-level-dtx", "log-stderr",
      "split-logs", "max-log-line-length", "no-log-timestamps", "log-mark-prefix",
      "log-mark-suffix", "pidfile", "foreground", "thread-stack", "table", "no-fallback",
      "interface", "save-interface-ports", "subscribe-keyspace", "listen-tcp", "listen-udp",
      "listen-ng", "listen-tcp-ng", "listen-cli", "graphite", "graphite-interval",
      "graphite-prefix", "graphite-timeout", "tos", "control-tos", "timeout", "silent-timeout",
      "final-timeout", "offer-timeout", "port-min", "port-max", "redis", "redis-write",
      "redis-num-threads", "redis-expires", "no-redis-required", "redis-allowed-errors",
      "redis-disable-time", "redis-cmd-timeout", "redis-connect-timeout", "redis-delete-async",
      "redis-delete-async-interval", "active-switchover", "b2b-url", "log-facility-cdr",
      "log-facility-rtcp", "log-facility-dtmf", "dtmf-log-dest", "dtmf-log-ng-tcp",
      "dtmf-no-suppress", "dtmf-digit-delay", "log-format", "xmlrpc-format", "num-threads",
      "media-num-threads", "delete-delay", "sip-source", "dtls-passive", "max-sessions",
      "max-load", "max-cpu", "max-bandwidth", "homer", "homer-protocol", "homer-id",
      "recording-dir", "recording-method", "recording-format", "iptables-chain", "codecs",
      "scheduling", "priority", "idle-scheduling", "idle-priority", "log-srtp-keys", "mysql-host",
      "mysql-port", "mysql-user", "mysql-pass", "mysql-query", "endpoint-learning",
      "jitter-buffer", "jb-clock-drift", "debug-srtp", "reject-invalid-sdp", "dtls-rsa-key-size",
      "dtls-cert-cipher", "dtls-mtu", "dtls-ciphers", "dtls-signature", "listen-http",
      "listen-https", "https-cert", "https-key", "http-threads", "software-id",
      "poller-per-thread", "dtx-delay", "max-dtx", "dtx-buffer", "dtx-lag", "dtx-shift",
      "dtx-cn-params", "amr-dtx", "silence-detect", "cn-payload", "mqtt-host", "mqtt-port",
      "mqtt-id", "mqtt-keepalive", "mqtt-user", "mqtt-pass", "mqtt-cafile", "mqtt-capath",
      "mqtt-certfile", "mqtt-keyfile", "mqtt-publish-qos", "mqtt-publish-topic",
      "mqtt-publish-interval", "mqtt-publish-scope", "mos", "socket-cpu-affinity",
      "janus-secret"};
  EXPECT_EQ(std::size(names), 141u);  // --help aside
  for (const char* n : names) {
    const std::string name = std::string("--") + n;
    // A value where it takes one (a config file holds keys either way).
    TempFile file("[rtpengine]\n" + std::string(n) + " = 1\n");
    std::vector<const char*> args;
    std::string config_arg = "--config-file=" + file.path;
    if (name == "--config-file" || name == "--config-section") continue;  // read apart
    args.push_back(config_arg.c_str());
    auto o = parse(args);
    SCOPED_TRACE(name);
    EXPECT_EQ(o.message.find("unknown key"), std::string::npos) << o.message;
    if (o.exit_code == 2) {
      EXPECT_NE(o.message.find(name), std::string::npos) << o.message;
    }
  }
  // Refusals say why.
  auto switchover = parse({"--active-switchover"});
  EXPECT_EQ(switchover.exit_code, 2);
  EXPECT_NE(switchover.message.find("--active-switchover: no NG-driven switchover"), std::string::npos)
      << switchover.message;
  auto b2b = parse({"-b", "http://127.0.0.1:8090/"});
  EXPECT_EQ(b2b.exit_code, 2);
  EXPECT_NE(b2b.message.find("--b2b-url"), std::string::npos) << b2b.message;
  // Short options as rtpengine spells them.
  auto s = parse({"-f", "-E", "-L", "7", "-o", "30", "-s", "600", "-a", "7200", "-m", "32000", "-M",
                  "33000", "-d", "5", "-i", "ext/eth1", "-n", "127.0.0.1:2300", "-T", "184",
                  "-t", "-1"});
  ASSERT_EQ(s.exit_code, -1) << s.message;
  EXPECT_EQ(s.config.timeout_s, 30);
  EXPECT_EQ(s.config.silent_timeout_s, 600);
  EXPECT_EQ(s.config.final_timeout_s, 7200);
  EXPECT_EQ(s.config.delete_delay_s, 5);
  EXPECT_EQ(s.config.interfaces.at(0).local.to_string(), "192.168.1.5");
  EXPECT_EQ(s.config.tos, 184);
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(parse({"--tos=256"}).exit_code, 2);
}

// High availability: rtpengine's Redis options, and voxrelay's ACL user and TLS.
TEST(Config, RedisOptions) {
  auto o = parse({"--redis=secret@10.0.0.5:6380/3", "--redis-write=[::1]:6379/4",
                  "--subscribe-keyspace=1,2", "-k", "5", "--redis-expires=600", "-q",
                  "--redis-user=relay", "--redis-tls", "--redis-tls-ca=/etc/ca.pem",
                  "--redis-write-auth-pw=other", "--redis-disable-time=2", "--redis-backlog=50"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  const Config& c = o.config;
  ASSERT_TRUE(c.redis && c.redis_write);
  EXPECT_EQ(c.redis->host, "10.0.0.5");
  EXPECT_EQ(c.redis->port, 6380);
  EXPECT_EQ(c.redis->db, 3);
  EXPECT_EQ(c.redis->password, "secret");
  EXPECT_EQ(c.redis->user, "relay");
  EXPECT_TRUE(c.redis->tls);
  EXPECT_EQ(c.redis->tls_ca, "/etc/ca.pem");
  EXPECT_EQ(c.redis->describe(), "rediss://10.0.0.5:6380/3");  // never the password
  EXPECT_EQ(c.redis_write->host, "::1");
  EXPECT_EQ(c.redis_write->db, 4);
  EXPECT_EQ(c.redis_write->password, "other");
  EXPECT_EQ(c.subscribe_keyspace, (std::vector<int>{1, 2, 5}));
  EXPECT_EQ(c.redis_expires_s, 600);
  EXPECT_EQ(c.redis_disable_time_s, 2);
  EXPECT_EQ(c.redis_backlog, 50);
  EXPECT_FALSE(c.redis_required);
  EXPECT_TRUE(o.warnings.empty());
  // Defaults: required, database 0 when not given.
  auto d = parse({"--redis=127.0.0.1:6379"});
  ASSERT_EQ(d.exit_code, -1) << d.message;
  EXPECT_EQ(d.config.redis->db, 0);
  EXPECT_TRUE(d.config.redis_required);
  EXPECT_FALSE(d.config.redis_write);

  for (auto [args, says] : std::vector<std::pair<std::vector<const char*>, std::string>>{
           {{"--redis=127.0.0.1"}, "--redis: HOST:PORT expected"},
           {{"--redis=127.0.0.1:0/1"}, "--redis: port '0'"},
           {{"--redis=127.0.0.1:6379/x"}, "--redis: database number 'x'"},
           {{"--subscribe-keyspace=1"}, "--subscribe-keyspace: needs --redis"},
           {{"--redis=h:1/0", "--subscribe-keyspace=one"}, "'one' is not a database number"},
           {{"--redis-write=h:1/0"}, "--redis-write: needs --redis"},
           {{"--redis=h:1/0", "--redis-tls-cert=c.pem"}, "give both or neither"},
           {{"--redis=h:1/0", "--redis-backlog=0"}, "--redis-backlog: must be >= 1"},
           {{"--redis=h:1/0", "--redis-disable-time=0"}, "--redis-disable-time: must be >= 1"},
       }) {
    auto bad = parse(args);
    EXPECT_EQ(bad.exit_code, 2) << says;
    EXPECT_NE(bad.message.find(says), std::string::npos) << bad.message;
  }
  // rtpengine's tuning options voxrelay does not need: a warning each.
  auto w = parse({"--redis=h:1/0", "--redis-num-threads=4", "--redis-allowed-errors=3"});
  ASSERT_EQ(w.exit_code, -1) << w.message;
  EXPECT_EQ(w.warnings.size(), 2u);
}

TEST(Config, TableAndNoFallback) {
  auto o = parse({"--table=0"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_TRUE(has_warning(o, "--table=0: voxrelay has no kernel forwarding"));
  auto none = parse({"--table=-1", "--no-fallback"});
  EXPECT_EQ(none.exit_code, -1) << none.message;
  auto refused = parse({"--table=0", "--no-fallback"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.message.find("--no-fallback"), std::string::npos) << refused.message;
}

TEST(Config, InterfaceForms) {
  // A device: each of its addresses, under the name.
  auto dev = parse({"--interface=int/eth0"});
  ASSERT_EQ(dev.exit_code, -1) << dev.message;
  ASSERT_EQ(dev.config.interfaces.size(), 2u);
  EXPECT_EQ(dev.config.interfaces[0].name, "int");
  EXPECT_EQ(dev.config.interfaces[0].local.to_string(), "10.0.0.5");
  EXPECT_EQ(dev.config.interfaces[1].local.to_string(), "2001:db8::5");
  // A device with an advertised address keeps that family's address only.
  auto nat = parse({"--interface=pub/eth0!198.51.100.7"});
  ASSERT_EQ(nat.exit_code, -1) << nat.message;
  ASSERT_EQ(nat.config.interfaces.size(), 1u);
  EXPECT_EQ(nat.config.interfaces[0].advertised.to_string(), "198.51.100.7");
  // A host name, once at start.
  auto host = parse({"--interface=media.example.net"});
  ASSERT_EQ(host.exit_code, -1) << host.message;
  EXPECT_EQ(host.config.interfaces.at(0).local.to_string(), "203.0.113.9");
  // Two addresses of one family under one name: the first relays, the
  // second is named in a warning; names BASE:SUFFIX are distinct.
  auto two = parse({"--interface=pub/10.0.0.5", "--interface=pub/10.0.0.6",
                    "--interface=rr:1/10.0.1.5", "--interface=rr:2/10.0.1.6"});
  ASSERT_EQ(two.exit_code, -1) << two.message;
  ASSERT_EQ(two.config.interfaces.size(), 3u);
  EXPECT_TRUE(has_warning(two, "pub/10.0.0.6 not used"));
  // Unknown names fail, naming the value.
  auto bad = parse({"--interface=eth9"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.message.find("'eth9'"), std::string::npos) << bad.message;
}

TEST(Config, ListenNgForms) {
  auto o = parse({"--listen-ng=2223", "--listen-ng=localhost:2224", "-n", "[::1]:2225",
                  "--listen-ng=127.0.0.2:2226", "--ng-allow=127.0.0.1"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  ASSERT_EQ(o.config.listen_ng.size(), 4u);
  EXPECT_EQ(o.config.listen_ng[0].to_string(), "0.0.0.0:2223");
  EXPECT_EQ(o.config.listen_ng[1].to_string(), "127.0.0.1:2224");
  EXPECT_EQ(o.config.listen_ng[2].to_string(), "[::1]:2225");
  EXPECT_EQ(o.config.listen_ng[3].to_string(), "127.0.0.2:2226");
  EXPECT_FALSE(has_warning(o, "--ng-allow"));  // it is set
  for (const char* bad : {"--listen-ng=nowhere.invalid:2223", "--listen-ng=70000",
                          "--listen-ng=localhost:", "--listen-ng=abc"}) {
    auto b = parse({bad});
    EXPECT_EQ(b.exit_code, 2) << bad;
    EXPECT_NE(b.message.find("--listen-ng"), std::string::npos) << b.message;
  }
}

TEST(Config, LoggingAndCodecs) {
  auto o = parse({"--log-facility=local3", "--control-tos=184"});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_EQ(o.config.log_facility, 19 << 3);  // LOG_LOCAL3
  EXPECT_EQ(o.config.control_tos, 184);
  EXPECT_TRUE(o.config.log_timestamps);
  EXPECT_EQ(parse({"--log-facility=kern"}).exit_code, 2);
  auto codecs = parse({"--codecs"});
  EXPECT_EQ(codecs.exit_code, 0);
  EXPECT_NE(codecs.message.find("PCMU"), std::string::npos);
  EXPECT_EQ(parse({"-v"}).exit_code, 0);
}

}  // namespace
}  // namespace vox::control
