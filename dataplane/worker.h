// One worker's state, owned and written by the worker thread only: its flows
// (a fixed array indexed by FlowId, slots handed out by the control plane),
// the flow table, its counters and the command ring the control plane feeds.
// Backend-agnostic: the socket and DPDK loops both drive a WorkerState.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/spsc_ring.h"
#include "dataplane/counters.h"
#include "dataplane/flow.h"
#include "dataplane/flow_table.h"
#include "dataplane/huge_array.h"

namespace vox::dataplane {

enum class CommandType : uint8_t { kAddFlow, kUpdateFlow, kRemoveFlow, kSetTranscode, kSetSrtp, kCount };

struct TranscodeSlot;     // dataplane/transcode.h
struct GeneratedPackets;
struct SrtpSlot;          // dataplane/srtp_slot.h
struct SlowPath;          // dataplane/slow_path.h

// A flow change. For kAddFlow the state is installed as given, and the
// backend starts receiving on its local port (state.key, bound beforehand
// with Dataplane::bind_port). For kUpdateFlow the control-owned fields are
// replaced and the learned source is kept unless reset_latch. kRemoveFlow
// removes the flow, releases its port and deletes its transcoder.
// kSetTranscode gives flow `id` the transcoder in `transcode` (the worker
// owns it from then on; null: relay unchanged again). kSetSrtp likewise
// gives flow `id` the SRTP contexts in `srtp` (null: plain RTP again).
// kAddFlow and kUpdateFlow also install the clock rates of the payload
// types the flow may carry (jitter, reception.h).
struct FlowCommand {
  CommandType type = CommandType::kAddFlow;
  bool reset_latch = false;
  FlowId id = kNoFlow;
  FlowState state;
  TranscodeSlot* transcode = nullptr;
  SrtpSlot* srtp = nullptr;
  RtpClocks clocks;  // kAddFlow, kUpdateFlow: the flow's payload types' clock rates
};

class WorkerState {
 public:
  WorkerState(int index, uint32_t max_flows);
  ~WorkerState();

  int index() const { return index_; }
  uint32_t max_flows() const { return max_flows_; }
  Flow& flow(FlowId id) { return flows_[id]; }
  const Flow& flow(FlowId id) const { return flows_[id]; }
  FlowTable& table() { return table_; }
  WorkerCounters& counters() { return counters_; }
  const WorkerCounters& counters() const { return counters_; }
  SpscRing<FlowCommand>& commands() { return commands_; }
  // The worker's sleep, so that the control plane wakes it only when it
  // sleeps: the worker announces it before blocking and blocks only if no
  // command came meanwhile (false: one did, do not block); the control
  // plane, having posted, wakes it only if asleep(). The two seq_cst
  // fences make one of them see the other's store: no wake is lost.
  bool prepare_to_sleep() {
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (commands_.empty()) return true;
    sleeping_.store(false, std::memory_order_relaxed);
    return false;
  }
  void woke() { sleeping_.store(false, std::memory_order_relaxed); }
  bool asleep() const {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return sleeping_.load(std::memory_order_relaxed);
  }
  // The transcoder of a flow with kFlowTranscode, and the burst's generated
  // packets (null until the worker gets its first transcoder).
  TranscodeSlot* transcoder(FlowId id) { return transcoders_[id]; }
  GeneratedPackets* generated() { return generated_.get(); }
  // The SRTP contexts of a flow with kFlowSrtp.
  SrtpSlot* srtp(FlowId id) { return srtps_[id]; }
  // The rings to this worker's slow-path consumer (slow_path.h); null
  // unless enabled, which must happen before the worker's loop is made.
  SlowPath* slow_path() const { return slow_path_.get(); }
  void enable_slow_path(int consumer_fd = -1);  // slow_path.h: SlowPath::consumer_fd

  // What a packet leaving through flow `to` needs of it (kNoFlow: none).
  Egress egress_to(FlowId to) const;
  // Flow `id`'s address fields changed (it latched a new source): every
  // flow sending RTP to it refreshes its copy (Flow::fast.rtp).
  void egress_changed(FlowId id);
  // Copies flow `id`'s source and flags from its state line to its fast line.
  void sync_fast(FlowId id);
  // A packet sent from local endpoint `from` did not leave (the kernel or
  // the NIC refused it): counted for the worker and the sending flow.
  void send_failed(LocalKey from);
  // A packet of flow `id` dropped for reason r: counted for the worker and
  // the flow (kNoFlow: the worker only).
  void drop(FlowId id, DropReason r) {
    bump(counters_.drops[size_t(r)]);
    if (id < max_flows_) bump(flows_[id].drops.by_reason[size_t(r)]);
  }

  // Flow `id`'s counters and latched source, as the control plane reads
  // them (relaxed loads: any thread).
  FlowSnapshot snapshot(FlowId id) const;

  // Applies one command. Says which local port the backend starts or stops
  // receiving on (a socket backend registers or closes its socket).
  enum class PortChange : uint8_t { kNone, kAdded, kRemoved };
  struct Applied {
    PortChange port = PortChange::kNone;
    LocalKey key = 0;
  };
  Applied apply(const FlowCommand& cmd);

 private:
  int index_;
  uint32_t max_flows_;
  HugeArray<Flow> flows_;
  FlowTable table_;
  WorkerCounters counters_;
  SpscRing<FlowCommand> commands_;
  std::atomic<bool> sleeping_{false};  // prepare_to_sleep()
  std::unique_ptr<TranscodeSlot*[]> transcoders_;
  std::unique_ptr<GeneratedPackets> generated_;
  std::unique_ptr<SrtpSlot*[]> srtps_;
  std::unique_ptr<SlowPath> slow_path_;
  void set_transcoder(FlowId id, TranscodeSlot* slot);
  void set_srtp(FlowId id, SrtpSlot* slot);
  void set_egress(FlowId id, FlowId egress);
  void refresh_egress(FlowId id);
};

}  // namespace vox::dataplane
