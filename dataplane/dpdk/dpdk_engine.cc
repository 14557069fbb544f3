// DpdkEngine: EAL, the port, the steering choice and the worker lcores.
#include "dataplane/dpdk/dpdk_engine.h"

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/flow_steer.h"
#include "dataplane/dpdk/lcore.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/steering.h"

namespace vox::dataplane::dpdk {

namespace {

constexpr uint32_t kHandoffRing = 4096;  // frames in flight from the RX core to one worker

// The ethdev port id of each spec (empty name: the first port DPDK found).
Result<std::vector<uint16_t>, std::string> find_ports(const std::vector<DpdkPortSpec>& specs) {
  if (specs.size() > kMaxPorts) return Err{"at most " + std::to_string(kMaxPorts) + " DPDK ports"};
  std::vector<uint16_t> ids;
  for (const DpdkPortSpec& spec : specs) {
    uint16_t id = 0;
    if (!spec.name.empty()) {
      if (rte_eth_dev_get_port_by_name(spec.name.c_str(), &id) != 0) return Err{"no DPDK port named " + spec.name};
    } else {
      id = rte_eth_find_next(0);
      if (id >= RTE_MAX_ETHPORTS) return Err{std::string("no DPDK port: give a NIC (-a PCI) or a --vdev")};
    }
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      return Err{"DPDK port " + (spec.name.empty() ? std::to_string(id) : spec.name) + " given twice"};
    ids.push_back(id);
  }
  return ids;
}

}  // namespace

struct DpdkEngine::Impl {
  std::optional<EalHandle> eal;
  std::vector<DpdkPort> ports;
  uint16_t port_rx_queues = 1;  // RX queues of every port
  std::vector<UdpSteeringRule> rules;
  std::vector<void*> rings;  // hand-off rings, by worker (null for the RX core)
  std::vector<std::unique_ptr<WorkerLoop>> loops;
  std::vector<unsigned> lcores;
  std::vector<std::function<void()>> jobs;  // each worker's run(), on its lcore

  ~Impl() {
    loops.clear();  // frees held mbufs
    rules.clear();
    for (void* r : rings) free_handoff_ring(r);
    ports.clear();
    if (eal) eal->cleanup();
  }

  // Every port with `rx_queues` RX queues; on failure none stays open.
  Result<bool, std::string> open_ports(const std::vector<uint16_t>& ids, PortConfig pc, uint16_t rx_queues) {
    ports.clear();
    pc.rx_queues = rx_queues;
    for (uint16_t id : ids) {
      auto port = DpdkPort::open(id, pc);
      if (!port.ok()) {
        ports.clear();
        return Err{port.error()};
      }
      ports.push_back(std::move(*port));
    }
    port_rx_queues = rx_queues;
    return true;
  }
};

DpdkEngine::DpdkEngine(int workers, uint32_t max_flows, size_t interfaces)
    : WorkerSet(workers, max_flows), impl_(std::make_unique<Impl>()), interfaces_(interfaces),
      port_tos_(interfaces) {}

DpdkEngine::~DpdkEngine() {
  stop();
  impl_.reset();
}

Result<std::unique_ptr<DpdkEngine>, std::string> DpdkEngine::create(const DpdkEngineConfig& config) {
  std::unique_ptr<DpdkEngine> e(
      new DpdkEngine(config.workers, config.max_flows_per_worker, config.host.addresses.size()));
  Impl& s = *e->impl_;
  auto eal = init_eal(config.eal_args);
  if (!eal.ok()) return Err{eal.error()};
  s.eal.emplace(std::move(*eal));

  s.lcores = worker_lcores();
  const int workers = config.workers;
  if (s.lcores.size() < size_t(workers))
    return Err{std::to_string(workers) + " worker(s) need " + std::to_string(workers + 1) +
               " lcores (the first runs the control loop); EAL has " +
               std::to_string(s.lcores.size() + 1) + ": use -l 0-" + std::to_string(workers)};

  std::vector<DpdkPortSpec> specs = config.ports;
  if (specs.empty()) specs.emplace_back();
  auto port_ids = find_ports(specs);
  if (!port_ids.ok()) return Err{port_ids.error()};
  const std::vector<uint16_t>& ids = *port_ids;
  const uint32_t nports = uint32_t(ids.size());

  PortConfig pc;
  pc.tx_queues = uint16_t(workers);
  // Mbufs per port's pool: its RX/TX rings, the hand-off rings, ARP hold
  // slots and lcore caches; and any port's TX ring may hold its mbufs.
  pc.mbufs_per_pool = (2 * 1024 * uint32_t(workers)) * nports + uint32_t(workers) * (kHandoffRing + 128) +
                      rte_lcore_count() * 256u + 1024;
  // rte_flow steering: every worker its own RX queue on every port, a
  // masked rule each.
  if (workers > 1 && steerable_by_mask(workers) && s.open_ports(ids, pc, uint16_t(workers)).ok()) {
    const uint16_t mask = steering_mask(workers);
    std::string refused;
    for (size_t p = 0; p < ids.size() && refused.empty(); ++p) {
      for (int w = 0; w < workers && refused.empty(); ++w) {
        auto rule = UdpSteeringRule::install(ids[p], steering_value(w), mask, uint16_t(w));
        if (rule.ok()) s.rules.push_back(std::move(*rule));
        else refused = rule.error();
      }
    }
    if (refused.empty()) {
      e->steering_ = "rte_flow";
    } else {  // all ports steer, or none; the queues stay, for the RX core
      e->steering_ = "rx core hand-off (rte_flow: " + refused + ")";
      s.rules.clear();
    }
  }
  // Without rte_flow the RX core polls every RX queue of a port: a port
  // may spread frames over its queues on its own (RSS; af_packet's fanout
  // over its qpairs sockets), and a queue nobody polls loses what it gets.
  // One queue where a port has no more.
  if (s.ports.empty() && workers > 1) (void)s.open_ports(ids, pc, uint16_t(workers));
  if (s.ports.empty()) {
    if (auto opened = s.open_ports(ids, pc, 1); !opened.ok()) return Err{opened.error()};
  }
  if (workers == 1) e->steering_ = "single queue";
  else if (e->steering_.empty()) e->steering_ = "rx core hand-off";

  for (const DpdkPort& port : s.ports) {
    const PortInfo& info = port.info();
    char mac[18];
    std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", info.mac[0], info.mac[1],
                  info.mac[2], info.mac[3], info.mac[4], info.mac[5]);
    if (!e->port_description_.empty()) e->port_description_ += "; ";
    e->port_description_ += info.name + " (" + info.driver + ", " + mac + ", checksum offload tx " +
                            (info.enabled.tx_udp ? "on" : "off") + " rx " +
                            (info.enabled.rx_udp ? "on" : "off") + ")";
  }

  const bool handoff = workers > 1 && s.rules.empty();
  if (handoff) {
    s.rings.assign(size_t(workers), nullptr);
    for (int w = 1; w < workers; ++w) {
      const std::string name = "vox_handoff_" + std::to_string(w);
      s.rings[size_t(w)] = create_handoff_ring(name, kHandoffRing);
      if (!s.rings[size_t(w)]) return Err{"rte_ring_create(" + name + ") failed"};
    }
  }
  for (int w = 0; w < workers; ++w) {
    WorkerLoopConfig lc;
    for (size_t p = 0; p < s.ports.size(); ++p) {
      PortQueues q;
      q.port = &s.ports[p];
      q.rx_queue = s.rules.empty() ? 0 : uint16_t(w);
      q.rx_queue_count = s.rules.empty() && w == 0 ? s.port_rx_queues : 1;  // the RX core: all of them
      q.tx_queue = uint16_t(w);
      q.gateway = specs[p].gateway;
      q.gateway6 = specs[p].gateway6;
      lc.ports.push_back(q);
    }
    lc.workers = workers;
    lc.host = config.host;
    lc.host.port_tos = &e->port_tos_;
    lc.idle_sleep_us = config.idle_sleep_us;
    if (handoff) {
      if (w == 0) {
        lc.outboxes = s.rings;
      } else {
        lc.inbox = s.rings[size_t(w)];
      }
    }
    s.loops.push_back(std::make_unique<WorkerLoop>(e->state(w), lc));
  }
  // ARP replies reach whichever worker polls the queue they land on.
  for (auto& a : s.loops)
    for (auto& b : s.loops)
      if (a != b) a->share_arp_with(*b);
  return e;
}

void DpdkEngine::start() {
  if (running()) return;
  Impl& s = *impl_;
  stop_.store(false);
  s.jobs.clear();
  for (auto& l : s.loops) s.jobs.emplace_back([loop = l.get(), this] { loop->run(stop_); });
  for (size_t w = 0; w < s.loops.size(); ++w) launch_on_lcore(s.lcores[w], &s.jobs[w]);
  set_running(true);
}

void DpdkEngine::stop() {
  if (!running()) return;
  stop_.store(true);
  for (size_t w = 0; w < impl_->loops.size(); ++w) wait_lcore(impl_->lcores[w]);
  set_running(false);
}

Result<PortHandle, int> DpdkEngine::bind_port(LocalKey key) {
  if (local_key_iface(key) >= interfaces_) return Err{EINVAL};
  port_tos_.set(key, std::nullopt);  // a new call's port: --tos until it says otherwise
  return PortHandle{key};
}

std::vector<std::pair<std::string, uint64_t>> DpdkEngine::backend_counters() const {
  std::vector<std::pair<std::string, uint64_t>> sum;
  for (const auto& l : impl_->loops) {
    auto c = counter_list(l->counters());
    if (sum.empty()) sum = std::move(c);
    else
      for (size_t i = 0; i < c.size(); ++i) sum[i].second += c[i].second;
  }
  // Summed over the ports, then each port's own when there are several.
  PortStats all;
  std::vector<std::pair<std::string, uint64_t>> each;
  for (const DpdkPort& port : impl_->ports) {
    auto st = port.stats();
    if (!st.ok()) continue;
    all.rx_missed += st->rx_missed;
    all.rx_no_mbuf += st->rx_no_mbuf;
    all.rx_errors += st->rx_errors;
    all.tx_errors += st->tx_errors;
    if (impl_->ports.size() > 1) {
      const std::string name = "port " + port.info().name;
      each.emplace_back(name + " rx packets", st->rx_packets);
      each.emplace_back(name + " tx packets", st->tx_packets);
    }
  }
  sum.emplace_back("port rx missed", all.rx_missed);
  sum.emplace_back("port rx no mbuf", all.rx_no_mbuf);
  sum.emplace_back("port rx errors", all.rx_errors);
  sum.emplace_back("port tx errors", all.tx_errors);
  sum.insert(sum.end(), each.begin(), each.end());
  return sum;
}

}  // namespace vox::dataplane::dpdk
