// Configuration: defaults, rtpengine-style flags, interfaces, config file,
// and one-line errors naming the key.
#include "control/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <vector>

namespace vox::control {
namespace {

ConfigOutcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "voxrelay");
  return parse_config(int(args.size()), args.data());
}

TEST(Config, DefaultsRunOnLoopback) {
  auto o = parse({});
  ASSERT_EQ(o.exit_code, -1) << o.message;
  EXPECT_EQ(o.config.listen_ng.to_string(), "127.0.0.1:22222");
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
  EXPECT_EQ(o.config.listen_ng.port, 2223);
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
  EXPECT_EQ(o.config.listen_ng.port, 23000);
  EXPECT_EQ(o.config.port_min, 31000);
  EXPECT_EQ(o.config.port_max, 31500);  // the command line wins
  EXPECT_EQ(o.config.interfaces[0].name, "ext");

  std::ofstream(path) << "[voxrelay]\nport-min = lots\n";
  auto bad = parse({arg.c_str()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.message.find("port-min"), std::string::npos) << bad.message;
  std::remove(path);
}

}  // namespace
}  // namespace vox::control
