// One worker's state, owned and written by the worker thread only: its flows
// (a fixed array indexed by FlowId, slots handed out by the control plane),
// the flow table, its counters and the command ring the control plane feeds.
// Backend-agnostic: the socket and DPDK loops both drive a WorkerState.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/flow.h"
#include "dataplane/flow_table.h"
#include "dataplane/huge_array.h"
#include "base/spsc_ring.h"

namespace vox::dataplane {

struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> no_flow{0};  // arrived on a port with no flow (late packets after delete)
  std::atomic<uint64_t> drops[kDropReasonCount] = {};
  std::atomic<uint64_t> rx_calls{0};  // batched I/O calls (recvmmsg, rx_burst)
  std::atomic<uint64_t> tx_calls{0};
  std::atomic<uint64_t> wakeups{0};
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> latches{0};  // sources learned
};

enum class CommandType : uint8_t { kAddFlow, kUpdateFlow, kRemoveFlow, kSetTranscode, kSetSrtp, kCount };

struct TranscodeSlot;     // dataplane/transcode.h
struct GeneratedPackets;
struct SrtpSlot;          // dataplane/srtp_slot.h

// A flow change. For kAddFlow the hot state is installed as given (the fd,
// for the socket backend, now belongs to the worker). For kUpdateFlow the
// control-owned fields are replaced and the learned source is kept unless
// reset_latch. kRemoveFlow closes the flow (and its socket) and deletes its
// transcoder. kSetTranscode gives flow `id` the transcoder in `transcode`
// (the worker owns it from then on; null: relay unchanged again).
// kSetSrtp likewise gives flow `id` the SRTP contexts in `srtp` (null:
// plain RTP again).
struct FlowCommand {
  CommandType type = CommandType::kAddFlow;
  bool reset_latch = false;
  FlowId id = kNoFlow;
  FlowHot hot;
  TranscodeSlot* transcode = nullptr;
  SrtpSlot* srtp = nullptr;
};

// Relaxed add by the only writer: compiles to a plain add, readable from
// other threads without tearing.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

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
  // The transcoder of a flow with kFlowTranscode, and the burst's generated
  // packets (null until the worker gets its first transcoder).
  TranscodeSlot* transcoder(FlowId id) { return transcoders_[id]; }
  GeneratedPackets* generated() { return generated_.get(); }
  // The SRTP contexts of a flow with kFlowSrtp.
  SrtpSlot* srtp(FlowId id) { return srtps_[id]; }

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

  // Applies one command. Returns the fd the backend must register
  // (add) or unregister and close (remove), or -1.
  struct Applied {
    CommandType type;
    FlowId id;
    int fd_added = -1;
    int fd_removed = -1;
  };
  Applied apply(const FlowCommand& cmd);

 private:
  int index_;
  uint32_t max_flows_;
  HugeArray<Flow> flows_;
  FlowTable table_;
  WorkerCounters counters_;
  SpscRing<FlowCommand> commands_;
  std::unique_ptr<TranscodeSlot*[]> transcoders_;
  std::unique_ptr<GeneratedPackets> generated_;
  std::unique_ptr<SrtpSlot*[]> srtps_;
  void set_transcoder(FlowId id, TranscodeSlot* slot);
  void set_srtp(FlowId id, SrtpSlot* slot);
  void set_egress(FlowId id, FlowId egress);
  void refresh_egress(FlowId id);
};

}  // namespace vox::dataplane
