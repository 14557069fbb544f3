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
      {{"--dpdk-gateway=2001:db8::1"}, "--dpdk-gateway"},
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
  EXPECT_EQ(o.config.dpdk_gateway.to_string(), "10.77.0.254");
  EXPECT_EQ(o.config.dpdk_prefix_len, 16);
  EXPECT_EQ(o.config.dpdk_port, "net_af_packet0");
  // EAL arguments are required: a DPDK process without them owns no port.
  auto missing = parse({"--backend=dpdk"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.message.find("--dpdk-args"), std::string::npos) << missing.message;
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
