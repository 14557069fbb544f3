// The handshake thread: the consumer of every worker's slow path. Workers
// hand it the STUN and DTLS datagrams that arrive on media ports; it runs
// the WebRTC leg owning each port (leg.h: ICE-lite checks, the DTLS-SRTP
// handshake) and hands the answers back to the worker to send. Per-packet
// SRTP stays on the workers: what this thread produces for the control
// plane is events (a nominated ICE peer, a leg's SRTP keys, a failure),
// which the control thread applies to its calls and turns into flow
// commands, so the workers' command rings keep one producer.
//
// The control thread and this one share no call state: legs are created,
// changed and removed by messages (set_leg / remove_leg), events come back
// through take_events(), each direction behind one mutex touched once per
// batch, with an eventfd to wake the other side.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "control/webrtc/leg.h"
#include "dataplane/worker_set.h"

namespace vox::control::webrtc {

class HandshakeThread : public LegControl {
 public:
  // Enables the workers' slow paths (before the engine starts them).
  HandshakeThread(dataplane::WorkerSet& workers, DtlsContext& dtls);
  ~HandshakeThread();

  void start();
  void stop();

  // ---- the control thread's side ----
  // Creates or changes the leg on spec.key.
  void set_leg(const LegSpec& spec) override;
  void remove_leg(dataplane::LocalKey key) override;
  // Readable when events wait.
  int event_fd() const { return event_fd_; }
  std::vector<LegEvent> take_events();
  // Copies of the counters and of one leg's status (for `statistics` and
  // `query`); a missing leg gives nullopt.
  LegCounters counters() const override;
  std::optional<LegStatus> status(dataplane::LocalKey key) const override;

  // One round of work without the thread (tests): commands, slow-path
  // packets, timers. Returns how many datagrams it handled.
  size_t run_once(int64_t now_ns);

 private:
  struct Command {
    bool remove = false;
    LegSpec spec;
  };
  void run();
  void apply_commands();
  size_t drain_worker(int w, int64_t now_ns);
  void run_timers(int64_t now_ns, bool sweep);
  void send(int w, dataplane::LocalKey from, const Endpoint& to, std::span<const uint8_t> d);
  void report(const LegEvent& e);
  int64_t next_wake_ns() const;
  // Files the leg's next timer (after anything touched it).
  void reschedule(dataplane::LocalKey key, WebrtcLeg& leg);
  void unschedule(dataplane::LocalKey key);
  // Copies the counters, and the status of the legs in `touched_` (every
  // leg on the once-a-second sweep), for the control thread to read.
  void publish(int64_t now_ns, bool all);

  dataplane::WorkerSet& workers_;
  DtlsContext& dtls_;
  int wake_fd_ = -1;   // workers and the control thread write it
  int event_fd_ = -1;  // this thread writes it when events wait
  std::thread thread_;
  std::atomic<bool> stop_{false};

  // This thread's own state.
  std::unordered_map<dataplane::LocalKey, std::unique_ptr<WebrtcLeg>> legs_;
  LegCounters counters_;
  int64_t next_sweep_ns_ = 0;
  std::vector<bool> notify_;  // workers with replies queued this round
  std::vector<dataplane::LocalKey> touched_;  // legs that saw a datagram this round
  // The legs with a timer (retransmission, a start, a release), by when:
  // a wake-up looks at those due, not at every leg.
  std::set<std::pair<int64_t, dataplane::LocalKey>> timers_;
  std::unordered_map<dataplane::LocalKey, int64_t> due_;
  std::vector<dataplane::LocalKey> due_now_;
  bool trim_ = false;  // sessions were released since the last heap trim
  bool busy_ = false;  // datagrams were handled since the last sweep
  bool events_waiting_ = false;  // events reported this round: event_fd to be written

  // Shared with the control thread, each behind mu_.
  mutable std::mutex mu_;
  std::vector<Command> commands_;
  std::vector<LegEvent> events_;
  LegCounters published_counters_;
  std::unordered_map<dataplane::LocalKey, LegStatus> published_status_;
};

}  // namespace vox::control::webrtc
