// voxrelay: the daemon. Wires the configuration, the dataplane engine
// (workers), the call manager and the NG control socket together, and runs
// the control loop: NG requests, timeouts, signals.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "control/call_manager.h"
#include "control/config.h"
#include "control/config_reload.h"
#include "control/ha/state_store.h"
#include "control/metrics.h"
#include "control/ng_commands.h"
#include "control/ng_json.h"
#include "control/ng_server.h"
#include "control/webrtc/handshake.h"
#include "dataplane/io/socket_engine.h"
#include "dataplane/io/udp_socket.h"
#include "voxrelay_cdr.h"
#include "voxrelay_http.h"
#include "voxrelay_systemd.h"
#ifdef VOX_HAVE_DPDK
#include "dataplane/dpdk/dpdk_engine.h"
#endif

namespace {

vox::control::CallManager::Clock now() {
  timespec m, r;
  clock_gettime(CLOCK_MONOTONIC, &m);
  clock_gettime(CLOCK_REALTIME, &r);
  return {int64_t(m.tv_sec) * 1000000000 + m.tv_nsec, int64_t(r.tv_sec)};
}

spdlog::level::level_enum spd_level(int syslog_level) {
  if (syslog_level >= 7) return spdlog::level::debug;
  if (syslog_level >= 5) return spdlog::level::info;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level == 3) return spdlog::level::err;
  return spdlog::level::critical;
}

// The one engine the daemon runs; the control plane sees its Dataplane.
struct Engines {
  std::unique_ptr<vox::dataplane::SocketEngine> socket;
#ifdef VOX_HAVE_DPDK
  std::unique_ptr<vox::dataplane::dpdk::DpdkEngine> dpdk;
#endif
  vox::dataplane::WorkerSet* plane = nullptr;
  std::string io_method;

  void start() {
    if (socket) socket->start();
#ifdef VOX_HAVE_DPDK
    if (dpdk) dpdk->start();
#endif
  }
  void stop() {
    if (socket) socket->stop();
#ifdef VOX_HAVE_DPDK
    if (dpdk) dpdk->stop();
#endif
  }
};

// Flows per worker: two per port pair per interface, in the worker's share.
uint32_t flows_per_worker(const vox::control::Config& config) {
  const size_t pairs = (size_t(config.port_max) - config.port_min + 1) / 2;
  return uint32_t((pairs / size_t(config.workers) + 1) * 2 * config.interfaces.size());
}

void make_socket_engine(const vox::control::Config& config, Engines& e) {
  vox::dataplane::SocketEngineConfig ec;
  for (const auto& itf : config.interfaces) ec.interfaces.push_back(itf.local);
  ec.workers = config.workers;
  ec.max_flows_per_worker = flows_per_worker(config);
  ec.socket.coalesce_ns = int64_t(config.coalesce_us) * 1000;
  ec.socket.use_uring = config.socket_io == "uring";
  ec.tos = config.tos;
  e.socket = std::make_unique<vox::dataplane::SocketEngine>(ec);
  e.plane = e.socket.get();
  e.io_method = std::string("socket backend, ") + e.socket->io_method();
}

#ifdef VOX_HAVE_DPDK
std::string make_dpdk_engine(const vox::control::Config& config, Engines& e) {
  vox::dataplane::dpdk::DpdkEngineConfig dc;
  dc.eal_args = config.dpdk_args;
  for (const auto& p : config.dpdk_ports) dc.ports.push_back({p.ethdev, p.gateway, p.gateway6});
  dc.host.interface_port = vox::control::dpdk_interface_ports(config);
  dc.workers = config.workers;
  dc.max_flows_per_worker = flows_per_worker(config);
  for (const auto& itf : config.interfaces) dc.host.addresses.push_back(itf.local);
  dc.host.prefix_len = uint8_t(config.dpdk_prefix_len);
  dc.host.prefix_len6 = uint8_t(config.dpdk_prefix_len6);
  dc.host.tos = uint8_t(config.tos);
  dc.idle_sleep_us = uint32_t(config.dpdk_idle_sleep_us);
  auto created = vox::dataplane::dpdk::DpdkEngine::create(dc);
  if (!created.ok()) return created.error();
  e.dpdk = std::move(*created);
  e.plane = e.dpdk.get();
  e.io_method = "dpdk backend, ports " + e.dpdk->port_description() + ", steering " + e.dpdk->steering();
  return {};
}
#endif

// Signals arrive on a descriptor, handled in the control loop like any
// other input; workers (started later) inherit the mask and never take them.
int signal_descriptor() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  return signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
}

// The relay's DTLS identity (its certificate and key, made at start unless
// given), whose fingerprint every WebRTC side's SDP carries.
std::unique_ptr<vox::control::webrtc::DtlsContext> make_dtls(vox::control::Config& config) {
  vox::control::webrtc::DtlsOptions o;
  o.cert_file = config.dtls_cert_file;
  o.key_file = config.dtls_key_file;
  o.ciphers = config.dtls_ciphers;
  o.mtu = config.dtls_mtu;
  auto made = vox::control::webrtc::DtlsContext::create(o);
  if (!made.ok()) {
    spdlog::critical("DTLS: {}", made.error());
    std::fprintf(stderr, "voxrelay: DTLS: %s\n", made.error().c_str());
    return nullptr;
  }
  config.dtls_fingerprint = (*made)->fingerprint();
  return std::move(*made);
}

// Logs to stderr in the foreground or with -E (rtpengine's --log-stderr),
// else to syslog with --log-facility.
void set_up_logging(const vox::control::Config& config) {
  if (config.foreground || config.log_stderr)
    spdlog::set_default_logger(spdlog::stderr_color_mt("voxrelay"));
  else
    spdlog::set_default_logger(
        spdlog::syslog_logger_mt("voxrelay", "voxrelay", LOG_PID, config.log_facility));
  if (!config.log_timestamps) spdlog::set_pattern("[%l] %v");
  spdlog::set_level(spd_level(config.log_level));
}

// An interface address the host does not have fails every offer later
// ("Ran out of ports"): say so at start instead. Socket backend only (the
// DPDK backend's addresses are not the kernel's). A standby
// (--subscribe-keyspace) waits for its address to move to it: a warning.
std::string check_interfaces(const vox::control::Config& config) {
  for (const auto& itf : config.interfaces) {
    auto fd = vox::dataplane::open_udp_port(itf.local, 0);
    if (fd.ok()) {
      close(*fd);
      continue;
    }
    const std::string what = "--interface " + itf.name + "/" + itf.local.to_string() +
                             ": cannot bind: " + std::strerror(fd.error());
    if (config.subscribe_keyspace.empty()) return what;
    spdlog::warn("{} (a standby: its calls are taken over once the address is here)", what);
  }
  return "";
}

vox::control::ha::StoreConfig store_config(const vox::control::Config& c) {
  vox::control::ha::StoreConfig s;
  s.read = c.redis;
  s.write = c.redis_write;
  s.follow_dbs = c.subscribe_keyspace;
  s.expires_s = c.redis_expires_s;
  s.connect_timeout_ms = c.redis_connect_timeout_ms;
  s.command_timeout_ms = c.redis_cmd_timeout_ms;
  s.retry_ms = c.redis_disable_time_s * 1000;
  s.backlog = size_t(c.redis_backlog);
  s.required = c.redis_required;
  return s;
}

// NG requests, the handshake thread's events, HTTP requests (/metrics, /drain), the
// once-a-second timeout sweep, the systemd watchdog, SIGHUP (`reload`),
// Redis (calls' state written after the replies, a standby's followed
// calls and takeover), until SIGTERM or SIGINT.
void control_loop(vox::control::CallManager& calls, vox::control::NgServer& ng,
                  vox::control::webrtc::HandshakeThread& handshakes, int sig_fd,
                  vox::tools::SystemdNotifier& systemd, vox::tools::HttpEndpoint& http,
                  vox::control::ha::StateStore* store, const std::function<void()>& reload) {
  int64_t next_tick = now().mono_ns;
  std::vector<pollfd> fds = {{sig_fd, POLLIN, 0}, {handshakes.event_fd(), POLLIN, 0},
                             {http.event_fd(), POLLIN, 0},
                             {store ? store->news_fd() : -1, POLLIN, 0},
                             {store ? store->address_fd() : -1, POLLIN, 0}};
  constexpr size_t kFirstNg = 5;
  for (int fd : ng.fds()) fds.push_back({fd, POLLIN, 0});
  bool states_waiting = false;  // the store has calls' states still to encode
  for (;;) {
    poll(fds.data(), fds.size(), states_waiting ? 0 : 200);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      if (read(sig_fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGHUP) {
        reload();
      } else if (si.ssi_signo != SIGPIPE) {
        spdlog::info("signal {}: stopping", si.ssi_signo);
        return;
      }
    }
    auto t = now();
    if (fds[1].revents & POLLIN)
      for (const auto& e : handshakes.take_events()) calls.apply_leg_event(e, t.mono_ns);
    if (fds[2].revents & POLLIN) http.serve_pending();
    if (fds[3].revents & POLLIN) store->take_news(t);
    if (fds[4].revents & POLLIN) store->on_address_change(t);
    bool ng_ready = false;
    for (size_t i = kFirstNg; i < fds.size(); ++i) ng_ready |= (fds[i].revents & POLLIN) != 0;
    if (ng_ready) ng.poll_once(t);
    systemd.tick(t.mono_ns);
    if (t.mono_ns >= next_tick) {
      size_t gone = calls.tick(t);
      if (gone) spdlog::debug("{} call(s) ended by timeout or delete delay", gone);
      next_tick = t.mono_ns + 1000000000;
    }
    if (store) states_waiting = store->flush();
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = vox::control::parse_config(argc, argv);
  if (parsed.exit_code == 0) {
    std::printf("%s\n", parsed.message.c_str());
    return 0;
  }
  if (parsed.exit_code > 0) {
    std::fprintf(stderr, "voxrelay: %s\n", parsed.message.c_str());
    return 2;
  }
  vox::control::Config& config = parsed.config;

  if (!config.foreground && daemon(0, 0) != 0) {
    std::perror("voxrelay: daemon");
    return 1;
  }
  set_up_logging(config);
  for (const auto& w : parsed.warnings) spdlog::warn("{}", w);
  const auto fail = [](const std::string& what) {
    spdlog::critical("{}", what);
    std::fprintf(stderr, "voxrelay: %s\n", what.c_str());
    return 1;
  };
  if (config.backend == "socket")
    if (auto err = check_interfaces(config); !err.empty()) return fail(err);
  const int sig_fd = signal_descriptor();

  Engines engines;
  if (config.backend == "socket") make_socket_engine(config, engines);
#ifdef VOX_HAVE_DPDK
  if (config.backend == "dpdk")
    if (auto err = make_dpdk_engine(config, engines); !err.empty()) return fail("DPDK backend: " + err);
#endif
  auto dtls = make_dtls(config);
  if (!dtls) return 1;
  // Before the engine starts: it enables the workers' slow paths.
  vox::control::webrtc::HandshakeThread handshakes(*engines.plane, *dtls);
  vox::tools::CdrFile cdr;  // outlives the call table, which writes to it
  if (!config.cdr_file.empty())
    if (auto err = cdr.open(config.cdr_file); !err.empty()) return fail(err);
  vox::control::CallManager calls(config, *engines.plane);
  calls.attach_legs(&handshakes);
  if (!config.cdr_file.empty()) calls.set_record_sink([&cdr](const std::string& line) { cdr.write(line); });
  vox::control::NgServer ng(calls, config);
  if (auto err = ng.open(); !err.empty()) return fail(err);
  vox::tools::HttpEndpoint http({
      .metrics = [&] { return vox::control::render_metrics(calls, &ng.stats()); },
      .drain = [&](bool on) { return vox::control::encode_json(vox::control::set_draining(calls, on)) + "\n"; },
      // As NG commands: with --ng-allow from its addresses only.
      .may_control = [&](const std::string& address) {
        const auto ip = vox::IpAddr::parse(address);
        return ip && (config.ng_allow.empty() ||
                      std::find(config.ng_allow.begin(), config.ng_allow.end(), *ip) != config.ng_allow.end());
      },
  });
  if (auto err = http.listen(config.listen_http); !err.empty()) return fail(err);
  // Only now, with every socket bound: a second daemon that fails to bind
  // leaves the running one's pid file alone.
  if (!config.pidfile.empty()) std::ofstream(config.pidfile) << getpid() << "\n";
  engines.start();
  handshakes.start();
  std::string listening;
  for (const auto& at : config.listen_ng) listening += (listening.empty() ? "" : ", ") + at.to_string();
  spdlog::info("voxrelay up: NG on {}, media ports {}-{}, {} worker(s), {} interface(s), {}",
               listening, config.port_min, config.port_max, config.workers,
               config.interfaces.size(), engines.io_method);
  for (const auto& itf : config.interfaces)
    spdlog::info("interface {}: {} (advertised {})", itf.name, itf.local.to_string(),
                 itf.advertised.to_string());
  for (const auto& at : config.listen_http) spdlog::info("metrics: http://{}/metrics", at.to_string());

  spdlog::info("DTLS certificate fingerprint {}", config.dtls_fingerprint);
  // Calls saved in Redis come up before the first NG request is read.
  std::unique_ptr<vox::control::ha::StateStore> store;
  if (config.redis) {
    store = std::make_unique<vox::control::ha::StateStore>(store_config(config), calls);
    if (auto err = store->start(now()); !err.empty()) return fail(err);
    calls.set_state_sink(store.get());
  }
  vox::tools::SystemdNotifier systemd;
  systemd.ready("NG on " + listening);

  // SIGHUP: the command line and config file read again; what can change
  // without dropping a call does (control/config_reload.h), and is logged.
  const auto reload = [&] {
    auto again = vox::control::parse_config(argc, argv);
    if (again.exit_code >= 0) {
      spdlog::warn("SIGHUP: the configuration does not parse, nothing reloaded: {}", again.message);
      return;
    }
    if (auto err = cdr.reopen(); !err.empty()) spdlog::warn("SIGHUP: {}", err);
    const auto changed = vox::control::reload_config(config, again.config);
    spdlog::set_level(spd_level(config.log_level));
    if (changed.empty())
      spdlog::info("SIGHUP: nothing changed of what reloads ({})",
                   fmt::join(vox::control::reloadable_settings(), ", "));
    else
      spdlog::info("SIGHUP: reloaded {}", fmt::join(changed, ", "));
  };
  control_loop(calls, ng, handshakes, sig_fd, systemd, http, store.get(), reload);
  systemd.stopping();
  // The saved calls stay in Redis for the next start: the store stops
  // (what waits is written) before the call table is torn down.
  if (store) {
    store->stop();
    calls.set_state_sink(nullptr);
  }
  calls.destroy_all();
  handshakes.stop();
  engines.stop();
  if (!config.pidfile.empty()) unlink(config.pidfile.c_str());
  spdlog::info("voxrelay stopped");
  return 0;
}
