// The one loop every backend runs (DPDK l3fwd's main loop, written once):
//
//   drain commands -> wait (socket backends block here) -> for each burst
//   received: process_burst -> send generated packets -> transmit the
//   forwarded ones -> hand slow-path packets over -> release the buffers
//   -> send the slow path's replies -> the backend's end of iteration
//
// A backend supplies only its I/O, as a policy class (the Io below);
// dispatch is resolved at compile time and the policy is called once per
// burst or per iteration, never per packet. io_uring (io/uring_io.h),
// epoll (io/epoll_io.h) and DPDK (dpdk/dpdk_io.h) are its three policies.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>

#include "base/clock.h"
#include "dataplane/pipeline.h"
#include "dataplane/slow_path.h"
#include "dataplane/transcode.h"
#include "dataplane/worker.h"

namespace vox::dataplane {

// The clock an iteration reads at most once, when it first needs it (an
// idle DPDK poll reads none).
class IterationClock {
 public:
  int64_t now() {
    if (ns_ == 0) ns_ = monotonic_ns();
    return ns_;
  }

 private:
  int64_t ns_ = 0;
};

// One burst a backend received: the packets for the pipeline (n may be 0
// when everything that arrived was the backend's own, e.g. ARP), and how
// many frames or datagrams arrived in all.
struct RxBurst {
  RxPacket* rx = nullptr;
  uint32_t n = 0;
  uint32_t received = 0;
};

// What a backend's I/O policy provides.
template <class Io>
concept BurstIo = requires(Io io, const WorkerState::Applied& applied, RxBurst& b, IterationClock& clock,
                           const TxPacket* tx, uint32_t n, int64_t now) {
  { Io::kMaxBurst } -> std::convertible_to<uint32_t>;  // largest RxBurst::n
  { Io::kBlocks } -> std::convertible_to<bool>;        // wait() sleeps until input
  io.port_changed(applied);       // a flow's port starts / stops receiving
  io.wait(true);                  // until input (or a wake-up, or a timeout); false: look, do not block
  { io.next(b, clock) } -> std::same_as<bool>;  // the iteration's next burst; false: none left
  io.send(tx, n, now);            // packets in worker memory: sent (or copied) before returning
  io.transmit(b, tx, n, now);     // the burst's forwarded packets, in their receive buffers
  io.release(b);                  // the burst's buffers not in flight go back
  io.end_iteration(n, clock);     // n: packets received this iteration
  io.shutdown();                  // the loop stopped: give back what is held
};

template <BurstIo Io>
class BurstLoop {
 public:
  static_assert(Io::kMaxBurst <= SlowBurst::kMax);

  // The worker's slow path, if it has one (WorkerState::slow_path(), set
  // before the loop runs); without, STUN and DTLS are dropped as not-media.
  // run() looks again: the DPDK engine makes its loops when it is created,
  // before the handshake thread enables the slow paths.
  BurstLoop(WorkerState& w, Io& io) : w_(w), io_(io) { bind_slow_path(); }
  BurstLoop(const BurstLoop&) = delete;
  BurstLoop& operator=(const BurstLoop&) = delete;

  Io& io() { return io_; }
  WorkerState& state() { return w_; }

  // One iteration; returns what arrived (frames or datagrams).
  uint32_t run_once() {
    drain_commands();
    if constexpr (Io::kBlocks) {
      // Blocks only once the control plane can see it asleep (it wakes
      // only a sleeping worker).
      io_.wait(w_.prepare_to_sleep());
      w_.woke();
      // The control plane answers an offer right after queueing its flow
      // changes, so what arrived during the wait may depend on them.
      drain_commands();
    }
    IterationClock clock;
    uint32_t received = 0;
    RxBurst b;
    while (io_.next(b, clock)) {
      received += b.received;
      burst(b, clock.now());
    }
    if (slow_) send_slow_replies(clock);
    io_.end_iteration(received, clock);
    return received;
  }

  // Runs until stop is set (a blocking backend wakes at least every 100 ms
  // to look), then applies the commands still queued, so that removed
  // flows release their ports, and lets the backend give back the rest.
  void run(const std::atomic<bool>& stop) {
    bind_slow_path();
    while (!stop.load(std::memory_order_relaxed)) run_once();
    drain_commands();
    io_.shutdown();
  }

  void drain_commands() {
    FlowCommand cmd;
    while (w_.commands().pop(cmd)) {
      const WorkerState::Applied a = w_.apply(cmd);
      if (a.port != WorkerState::PortChange::kNone) io_.port_changed(a);
    }
  }

 private:
  void bind_slow_path() {
    slow_ = w_.slow_path();
    if (slow_ && !slow_burst_) slow_burst_ = std::make_unique<SlowBurst>();
  }

  // Out of line: a call per burst, and the unit in which callgrind counts
  // the worker's instructions per packet (bench/RESULTS.md).
  [[gnu::noinline]] void burst(RxBurst& b, int64_t now) {
    SlowBurst* slow = slow_burst_.get();
    const uint32_t out = b.n ? process_burst(w_, b.rx, b.n, now, tx_, slow) : 0;
    if (GeneratedPackets* g = w_.generated(); g && g->count) {
      io_.send(g->out, g->count, now);
      g->count = 0;
    }
    io_.transmit(b, tx_, out, now);
    if (slow && slow->count) hand_off(b, *slow);
    io_.release(b);
  }

  // Copies each slow-path packet into the consumer's ring (a full ring:
  // dropped and counted, never waited on).
  void hand_off(const RxBurst& b, SlowBurst& s) {
    for (uint32_t k = 0; k < s.count; ++k) {
      const RxPacket& p = b.rx[s.index[k]];
      SlowPacket* sp = slow_->in.claim();
      if (!sp) [[unlikely]] {
        w_.drop(s.flow[k], DropReason::kSlowPathFull);
        continue;
      }
      sp->local = p.local;
      sp->source = p.source;
      sp->flow = s.flow[k];
      sp->kind = s.kind[k];
      sp->len = p.len;
      std::memcpy(sp->data, p.data, p.len);
      slow_->in.publish();
      bump(w_.counters().slow_path_in);
    }
    s.count = 0;
    wake_consumer(*slow_);
  }

  // Sends what the consumer answered, a burst at a time.
  void send_slow_replies(IterationClock& clock) {
    TxPacket tx[kBurstSize];
    for (;;) {
      uint32_t n = 0;
      for (const SlowReply* r; n < kBurstSize && (r = slow_->out.peek(n)) != nullptr; ++n)
        tx[n] = TxPacket{r->data, r->len, r->dest, GeneratedPackets::kRxIndex, r->from, false};
      if (n == 0) return;
      io_.send(tx, n, clock.now());
      slow_->out.consume(n);
      bump(w_.counters().slow_path_out, n);
    }
  }

  WorkerState& w_;
  Io& io_;
  SlowPath* slow_ = nullptr;
  std::unique_ptr<SlowBurst> slow_burst_;
  TxPacket tx_[Io::kMaxBurst];
};

}  // namespace vox::dataplane
