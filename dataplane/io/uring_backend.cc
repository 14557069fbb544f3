// io_uring socket loop. Each iteration: apply commands (arm or cancel a
// socket's multishot recvmsg), submit the sends prepared last time and wait
// for completions in one io_uring_enter, turn receive completions into a
// burst for the pipeline, and queue its output as sendmsg requests. A
// provided buffer travels from receive to send and back to the ring when
// its send completes (or at once when the packet is dropped).
#include "base/clock.h"
#include "dataplane/io/uring_backend.h"

#include "dataplane/io/socket_backend.h"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace vox::dataplane {

namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kBuffers = 8192;   // provided receive buffers (power of two)
constexpr size_t kBufSize = 2048;
constexpr uint16_t kGroup = 1;
constexpr uint32_t kMaxBurst = 256;
constexpr size_t kMaxFds = 1 << 20;

// user_data: [63:62] tag | [61:52] generation | [51:32] fd | [31:0] key or buffer id
enum Tag : uint64_t { kIgnore = 0, kRecv = 1, kSend = 2, kWake = 3 };
uint64_t make_ud(Tag t, uint32_t gen, int fd, uint32_t low) {
  return uint64_t(t) << 62 | uint64_t(gen & 0x3ff) << 52 | uint64_t(uint32_t(fd) & 0xfffff) << 32 |
         low;
}
Tag ud_tag(uint64_t u) { return Tag(u >> 62); }
uint32_t ud_gen(uint64_t u) { return uint32_t(u >> 52) & 0x3ff; }
int ud_fd(uint64_t u) { return int((u >> 32) & 0xfffff); }
uint32_t ud_low(uint64_t u) { return uint32_t(u); }


}  // namespace

struct UringState {
  io_uring ring{};
  io_uring_buf_ring* br = nullptr;
  uint8_t* buffers = nullptr;
  msghdr recv_msg{};  // multishot template: room for the source address only
  struct SendSlot {
    LocalKey source;  // the egress flow's local endpoint
    msghdr msg;
    iovec iov;
    sockaddr_storage name;
  };
  std::vector<SendSlot> send = std::vector<SendSlot>(kBuffers);
  std::vector<uint8_t> in_flight = std::vector<uint8_t>(kBuffers, 0);
  std::vector<uint16_t> fd_gen = std::vector<uint16_t>(kMaxFds, 0);  // odd: armed
  std::vector<LocalKey> fd_key = std::vector<LocalKey>(kMaxFds, 0);
  std::vector<int> rearm;
  std::vector<int> closing;
  unsigned recycled = 0;  // buffers added since the last advance
  RxPacket rx[kMaxBurst];
  uint16_t rx_buf[kMaxBurst];
  TxPacket tx[kMaxBurst];
  bool ring_ready = false;

  ~UringState() {
    if (ring_ready) io_uring_queue_exit(&ring);
    free(br);
    free(buffers);
  }
};

std::unique_ptr<UringWorker> UringWorker::create(WorkerState& state, PortSockets& sockets,
                                                 SocketLoopConfig config) {
  std::unique_ptr<UringWorker> w(new UringWorker(state, sockets));
  w->config_ = config;
  UringState& s = *w->s_;
  io_uring_params p{};
  // Created disabled: a SINGLE_ISSUER ring belongs to the thread that
  // enables it, which is the worker thread (run()), not this one.
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
            IORING_SETUP_R_DISABLED;
  p.cq_entries = kBuffers * 2;
  if (io_uring_queue_init_params(kSqEntries, &s.ring, &p) != 0) return nullptr;
  s.ring_ready = true;
  if (posix_memalign(reinterpret_cast<void**>(&s.br), 4096, kBuffers * sizeof(io_uring_buf)) ||
      posix_memalign(reinterpret_cast<void**>(&s.buffers), 4096, kBuffers * kBufSize))
    return nullptr;
  io_uring_buf_ring_init(s.br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(s.br);
  reg.ring_entries = kBuffers;
  reg.bgid = kGroup;
  if (io_uring_register_buf_ring(&s.ring, &reg, 0) != 0) return nullptr;
  for (unsigned i = 0; i < kBuffers; ++i)
    io_uring_buf_ring_add(s.br, s.buffers + i * kBufSize, kBufSize, uint16_t(i),
                          io_uring_buf_ring_mask(kBuffers), int(i));
  io_uring_buf_ring_advance(s.br, int(kBuffers));
  s.recv_msg.msg_namelen = sizeof(sockaddr_storage);

  w->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  io_uring_sqe* sqe = io_uring_get_sqe(&s.ring);
  io_uring_prep_poll_multishot(sqe, w->wake_fd_, POLLIN);
  sqe->user_data = make_ud(kWake, 0, 0, 0);
  return w;
}

UringWorker::UringWorker(WorkerState& state, PortSockets& sockets)
    : state_(state), sockets_(sockets), s_(new UringState) {}

UringWorker::~UringWorker() {
  close_worker_sockets(state_, sockets_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void UringWorker::wake() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;
}

static io_uring_sqe* get_sqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {  // SQ full: push what is queued, then there is room
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

void UringWorker::arm_recv(LocalKey key, int fd) {
  io_uring_sqe* sqe = get_sqe(&s_->ring);
  io_uring_prep_recvmsg_multishot(sqe, fd, &s_->recv_msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kGroup;
  sqe->user_data = make_ud(kRecv, s_->fd_gen[size_t(fd)], fd, key);
}

void UringWorker::drain_commands() {
  FlowCommand cmd;
  while (state_.commands().pop(cmd)) {
    const auto a = state_.apply(cmd);
    if (a.port == WorkerState::PortChange::kAdded) {
      const int fd = sockets_.fd(a.key);
      if (fd < 0 || size_t(fd) >= kMaxFds) continue;
      // Generations: odd while a socket is armed, even once removed (the
      // parity survives the 10-bit wrap), so a late completion of a removed
      // socket whose fd number was reused is recognised as stale.
      uint16_t& g = s_->fd_gen[size_t(fd)];
      if (!(g & 1)) g = uint16_t((g + 1) & 0x3ff);
      s_->fd_key[size_t(fd)] = a.key;
      arm_recv(a.key, fd);
    }
    if (a.port == WorkerState::PortChange::kRemoved) {
      const int fd = sockets_.take(a.key);
      if (fd < 0) continue;
      if (size_t(fd) >= kMaxFds) {
        close(fd);
        continue;
      }
      uint16_t& g = s_->fd_gen[size_t(fd)];
      io_uring_sqe* sqe = get_sqe(&s_->ring);
      io_uring_prep_cancel64(sqe, make_ud(kRecv, g, fd, s_->fd_key[size_t(fd)]), 0);
      sqe->user_data = make_ud(kIgnore, 0, 0, 0);
      if (g & 1) g = uint16_t((g + 1) & 0x3ff);
      s_->closing.push_back(fd);  // closed after the current batch
    }
  }
}

void UringWorker::recycle(uint16_t bid) {
  s_->in_flight[bid] = 0;
  io_uring_buf_ring_add(s_->br, s_->buffers + size_t(bid) * kBufSize, kBufSize, bid,
                        io_uring_buf_ring_mask(kBuffers), int(s_->recycled));
  ++s_->recycled;
}

void UringWorker::forward(const TxPacket* tx, uint32_t n) {
  // Transcoded packets live in worker memory reused by the next burst, not
  // in a provided buffer: they go out now, synchronously.
  send_generated(state_, sockets_);
  for (uint32_t i = 0; i < n; ++i) {
    auto bid = uint16_t(size_t(tx[i].data - s_->buffers) / kBufSize);
    auto& slot = s_->send[bid];
    slot.iov = {const_cast<uint8_t*>(tx[i].data), tx[i].len};
    slot.source = tx[i].source;
    slot.msg = {};
    slot.msg.msg_name = &slot.name;
    slot.msg.msg_namelen = tx[i].dest.to_sockaddr(&slot.name);
    slot.msg.msg_iov = &slot.iov;
    slot.msg.msg_iovlen = 1;
    s_->in_flight[bid] = 1;
    io_uring_sqe* sqe = get_sqe(&s_->ring);
    io_uring_prep_sendmsg(sqe, sockets_.fd(tx[i].source), &slot.msg, MSG_DONTWAIT);
    sqe->user_data = make_ud(kSend, 0, 0, bid);
  }
}

void UringWorker::run(const std::atomic<bool>& stop) {
  UringState& s = *s_;
  WorkerCounters& wc = state_.counters();
  // liburing 2.3 declares io_uring_enable_rings but does not export it.
  syscall(__NR_io_uring_register, s.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  while (!stop.load(std::memory_order_relaxed)) {
    drain_commands();
    for (int fd : s.rearm)
      if (s.fd_gen[size_t(fd)] & 1) arm_recv(s.fd_key[size_t(fd)], fd);
    s.rearm.clear();
    if (s.recycled) {
      io_uring_buf_ring_advance(s.br, int(s.recycled));
      s.recycled = 0;
    }
    // With coalescing, wait for a batch of completions or the coalescing
    // time, whichever comes first: fewer wake-ups, bounded added latency.
    bool coalesce = config_.coalesce_ns > 0;
    __kernel_timespec ts{0, coalesce ? config_.coalesce_ns : 100'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&s.ring, &cqe, coalesce ? config_.coalesce_below : 1, &ts,
                                     nullptr);
    bump(wc.wakeups);
    bump(wc.rx_calls);
    // Flow changes queued before these packets arrived apply to them (see
    // SocketWorker::run); removed sockets close after the batch.
    drain_commands();
    int64_t now = monotonic_ns();

    uint32_t count = 0;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&s.ring, head, cqe) {
      ++seen;
      uint64_t ud = cqe->user_data;
      switch (ud_tag(ud)) {
        case kRecv: {
          int fd = ud_fd(ud);
          bool current = s.fd_gen[size_t(fd)] == ud_gen(ud) && (ud_gen(ud) & 1);
          if (cqe->flags & IORING_CQE_F_BUFFER) {
            auto bid = uint16_t(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            uint8_t* buf = s.buffers + size_t(bid) * kBufSize;
            io_uring_recvmsg_out* o =
                current && cqe->res > 0 ? io_uring_recvmsg_validate(buf, cqe->res, &s.recv_msg)
                                        : nullptr;
            if (!o || (o->flags & MSG_TRUNC)) {
              recycle(bid);
            } else {
              if (count == kMaxBurst) {
                uint32_t out = process_burst(state_, s.rx, count, now, s.tx);
                forward(s.tx, out);
                for (uint32_t i = 0; i < count; ++i)
                  if (!s.in_flight[s.rx_buf[i]]) recycle(s.rx_buf[i]);
                count = 0;
              }
              auto* payload = static_cast<uint8_t*>(io_uring_recvmsg_payload(o, &s.recv_msg));
              uint32_t len = io_uring_recvmsg_payload_length(o, cqe->res, &s.recv_msg);
              // The rest of the provided buffer after the payload is the
              // packet's room to grow (SRTP tag).
              s.rx[count] = RxPacket{payload, uint16_t(len), ud_low(ud),
                                     Endpoint::from_sockaddr(static_cast<sockaddr*>(
                                         io_uring_recvmsg_name(o))),
                                     uint16_t(buf + kBufSize - payload)};
              s.rx_buf[count++] = bid;
            }
          }
          // A multishot request that ended (buffers ran out, error) is
          // re-armed unless its socket was removed meanwhile.
          if (!(cqe->flags & IORING_CQE_F_MORE) && current && cqe->res != -ECANCELED)
            s.rearm.push_back(fd);
          break;
        }
        case kSend: {
          auto bid = uint16_t(ud_low(ud));
          if (cqe->res < 0) {
            state_.send_failed(s.send[bid].source);
          } else {
            bump(wc.tx_packets);
            bump(wc.tx_bytes, uint64_t(cqe->res));
          }
          recycle(bid);
          break;
        }
        case kWake: {
          uint64_t v;
          ssize_t r = read(wake_fd_, &v, sizeof v);
          (void)r;
          if (!(cqe->flags & IORING_CQE_F_MORE)) {
            io_uring_sqe* sqe = get_sqe(&s.ring);
            io_uring_prep_poll_multishot(sqe, wake_fd_, POLLIN);
            sqe->user_data = make_ud(kWake, 0, 0, 0);
          }
          break;
        }
        case kIgnore:
          break;
      }
    }
    io_uring_cq_advance(&s.ring, seen);
    if (count) {
      uint32_t out = process_burst(state_, s.rx, count, now, s.tx);
      forward(s.tx, out);
      for (uint32_t i = 0; i < count; ++i)
        if (!s.in_flight[s.rx_buf[i]]) recycle(s.rx_buf[i]);
    }
    if (!s.closing.empty()) {
      io_uring_submit(&s.ring);  // the cancels go out before their sockets close
      for (int fd : s.closing) close(fd);
      s.closing.clear();
    }
  }
  cancel_all();
}

void UringWorker::cancel_all() {
  // Armed receives hold references to their sockets; the kernel tears a
  // ring down asynchronously, so without this the ports would stay bound
  // for a moment after the process exits. Only this thread may submit.
  io_uring_sqe* sqe = get_sqe(&s_->ring);
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
  sqe->user_data = make_ud(kIgnore, 0, 0, 1);
  io_uring_submit(&s_->ring);
  // Reap until the cancel has completed and the cancelled receives have
  // posted their last completions (bounded: 0.5 s at most).
  bool done = false;
  for (int round = 0, idle = 0; round < 50 && idle < 3; ++round) {
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&s_->ring, &cqe, 1, &ts, nullptr);
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&s_->ring, head, cqe) {
      ++seen;
      if (cqe->user_data == make_ud(kIgnore, 0, 0, 1)) done = true;
    }
    io_uring_cq_advance(&s_->ring, seen);
    idle = (done && seen == 0) ? idle + 1 : 0;
  }
}

}  // namespace vox::dataplane
