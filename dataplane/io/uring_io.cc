// UringIo. Each iteration: re-arm what ended, submit the sends queued last
// time and wait for completions in one io_uring_enter; then the receive
// completions become bursts. A provided buffer travels from receive to
// send and back to the ring when its send completes (or at once when the
// packet is not forwarded).
#include "dataplane/io/uring_io.h"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

namespace vox::dataplane {

namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kBuffers = 8192;  // provided receive buffers (power of two)
constexpr size_t kBufSize = 2048;
constexpr uint16_t kGroup = 1;
constexpr int64_t kWaitNs = 100'000'000;  // how often an idle worker looks at its stop flag

// user_data: [63:62] tag | [61:52] generation of the key's socket | [31:0] LocalKey or buffer id
enum Tag : uint64_t { kIgnore = 0, kRecv = 1, kSend = 2, kWake = 3 };
uint64_t make_ud(Tag t, uint32_t gen, uint32_t low) { return uint64_t(t) << 62 | uint64_t(gen & 0x3ff) << 52 | low; }
Tag ud_tag(uint64_t u) { return Tag(u >> 62); }
uint32_t ud_gen(uint64_t u) { return uint32_t(u >> 52) & 0x3ff; }
uint32_t ud_low(uint64_t u) { return uint32_t(u); }

io_uring_sqe* get_sqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (!sqe) {  // SQ full: push what is queued, then there is room
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

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
  // Per LocalKey: odd while its socket's receive is armed, even once
  // removed (the parity survives the 10-bit wrap), so a late completion of
  // a removed socket is told from one of the port's next socket.
  std::vector<uint16_t> gen;
  std::vector<LocalKey> rearm;
  std::vector<int> closing;  // removed sockets, closed after the iteration
  unsigned recycled = 0;     // buffers added since the last advance
  RxPacket rx[UringIo::kMaxBurst];
  uint16_t rx_buf[UringIo::kMaxBurst];
  bool ring_ready = false;
  bool enabled = false;  // IORING_SETUP_R_DISABLED until the worker's first wait

  ~UringState() {
    if (ring_ready) io_uring_queue_exit(&ring);
    free(br);
    free(buffers);
  }
};

UringIo::UringIo(WorkerState& state, PortSockets& sockets, SocketLoopConfig config)
    : state_(state), sockets_(sockets), config_(config), s_(new UringState) {
  s_->gen.assign(sockets.slots(), 0);
}

std::unique_ptr<UringIo> UringIo::create(WorkerState& state, PortSockets& sockets, SocketLoopConfig config) {
  std::unique_ptr<UringIo> io(new UringIo(state, sockets, config));
  UringState& s = *io->s_;
  io_uring_params p{};
  // Created disabled: a SINGLE_ISSUER ring belongs to the thread that
  // enables it, which is the worker thread (the first wait), not this one.
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
  io->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  io->rearm_wake();
  return io;
}

UringIo::~UringIo() {
  for (int fd : s_->closing) close(fd);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void UringIo::wake() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;  // EAGAIN means a wake-up is already pending
}

void UringIo::rearm_wake() {
  io_uring_sqe* sqe = get_sqe(&s_->ring);
  io_uring_prep_poll_multishot(sqe, wake_fd_, POLLIN);
  sqe->user_data = make_ud(kWake, 0, 0);
}

void UringIo::arm_recv(LocalKey key, int fd) {
  io_uring_sqe* sqe = get_sqe(&s_->ring);
  io_uring_prep_recvmsg_multishot(sqe, fd, &s_->recv_msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kGroup;
  sqe->user_data = make_ud(kRecv, s_->gen[key], key);
}

void UringIo::port_changed(const WorkerState::Applied& a) {
  uint16_t& g = s_->gen[a.key];
  if (a.port == WorkerState::PortChange::kAdded) {
    const int fd = sockets_.fd(a.key);
    if (fd < 0) return;
    if (!(g & 1)) g = uint16_t((g + 1) & 0x3ff);
    arm_recv(a.key, fd);
    return;
  }
  const int fd = sockets_.take(a.key);
  if (fd < 0) return;
  io_uring_sqe* sqe = get_sqe(&s_->ring);
  io_uring_prep_cancel64(sqe, make_ud(kRecv, g, a.key), 0);
  sqe->user_data = make_ud(kIgnore, 0, 0);
  if (g & 1) g = uint16_t((g + 1) & 0x3ff);
  s_->closing.push_back(fd);
}

void UringIo::recycle(uint16_t bid) {
  s_->in_flight[bid] = 0;
  io_uring_buf_ring_add(s_->br, s_->buffers + size_t(bid) * kBufSize, kBufSize, bid,
                        io_uring_buf_ring_mask(kBuffers), int(s_->recycled));
  ++s_->recycled;
}

void UringIo::wait(bool block) {
  UringState& s = *s_;
  if (!s.enabled) {  // the first wait runs on the worker thread: the ring is its
    // liburing 2.3 declares io_uring_enable_rings but does not export it.
    syscall(__NR_io_uring_register, s.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    s.enabled = true;
  }
  for (LocalKey key : s.rearm)
    if (const int fd = sockets_.fd(key); fd >= 0 && (s.gen[key] & 1)) arm_recv(key, fd);
  s.rearm.clear();
  if (s.recycled) {
    io_uring_buf_ring_advance(s.br, int(s.recycled));
    s.recycled = 0;
  }
  // With coalescing, wait for a batch of completions or the coalescing
  // time, whichever comes first: fewer wake-ups, bounded added latency.
  const bool coalesce = config_.coalesce_ns > 0;
  __kernel_timespec ts{0, coalesce ? config_.coalesce_ns : kWaitNs};
  io_uring_cqe* cqe = nullptr;
  if (block)
    io_uring_submit_and_wait_timeout(&s.ring, &cqe, coalesce ? config_.coalesce_below : 1, &ts, nullptr);
  else
    io_uring_submit(&s.ring);  // a command is waiting: submit, take what completed, no sleep
  WorkerCounters& wc = state_.counters();
  bump(wc.wakeups);
  bump(wc.rx_calls);
}

// A receive completion: one datagram into the burst (or its buffer back).
void UringIo::take_receive(const void* c, uint32_t& count) {
  UringState& s = *s_;
  const auto* cqe = static_cast<const io_uring_cqe*>(c);
  const uint64_t ud = cqe->user_data;
  const LocalKey key = ud_low(ud);
  const bool current = s.gen[key] == ud_gen(ud) && (ud_gen(ud) & 1);
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    const auto bid = uint16_t(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    uint8_t* buf = s.buffers + size_t(bid) * kBufSize;
    io_uring_recvmsg_out* o =
        current && cqe->res > 0 ? io_uring_recvmsg_validate(buf, cqe->res, &s.recv_msg) : nullptr;
    if (!o) {
      recycle(bid);
    } else {
      auto* payload = static_cast<uint8_t*>(io_uring_recvmsg_payload(o, &s.recv_msg));
      // Cut short (MSG_TRUNC): longer than the buffer, so oversized.
      const uint32_t len = (o->flags & MSG_TRUNC)
                               ? std::max<uint32_t>(o->payloadlen, kMaxDatagram + 1u)
                               : io_uring_recvmsg_payload_length(o, cqe->res, &s.recv_msg);
      RxPacket& p = s.rx[count];
      p.data = payload;
      p.len = uint16_t(std::min<uint32_t>(len, 0xffff));
      p.local = key;
      p.source = Endpoint::from_sockaddr(static_cast<sockaddr*>(io_uring_recvmsg_name(o)));
      p.capacity = uint16_t(buf + kBufSize - payload);  // the rest of the buffer: room for an SRTP tag
      s.rx_buf[count++] = bid;
    }
  }
  // A multishot request that ended (buffers ran out, error) is re-armed
  // unless its socket was removed meanwhile.
  if (!(cqe->flags & IORING_CQE_F_MORE) && current && cqe->res != -ECANCELED) s.rearm.push_back(key);
}

void UringIo::take_send(const void* c) {
  const auto* cqe = static_cast<const io_uring_cqe*>(c);
  const auto bid = uint16_t(ud_low(cqe->user_data));
  if (cqe->res < 0) {
    state_.send_failed(s_->send[bid].source);
  } else {
    bump(state_.counters().tx_packets);
    bump(state_.counters().tx_bytes, uint64_t(cqe->res));
  }
  recycle(bid);
}

bool UringIo::next(RxBurst& b, IterationClock&) {
  UringState& s = *s_;
  constexpr unsigned kBatch = 64;
  io_uring_cqe* cqes[kBatch];
  uint32_t count = 0;
  // A receive completion brings one datagram at most: a batch never
  // overfills the burst.
  while (count < kMaxBurst) {
    const unsigned got = io_uring_peek_batch_cqe(&s.ring, cqes, std::min(kBatch, kMaxBurst - count));
    if (got == 0) break;
    for (unsigned i = 0; i < got; ++i) {
      switch (ud_tag(cqes[i]->user_data)) {
        case kRecv:
          take_receive(cqes[i], count);
          break;
        case kSend:
          take_send(cqes[i]);
          break;
        case kWake: {
          uint64_t v;
          ssize_t r = read(wake_fd_, &v, sizeof v);
          (void)r;
          if (!(cqes[i]->flags & IORING_CQE_F_MORE)) rearm_wake();
          break;
        }
        case kIgnore:
          break;
      }
    }
    io_uring_cq_advance(&s.ring, got);
  }
  b = RxBurst{s.rx, count, count};
  return count > 0;
}

void UringIo::transmit(const RxBurst&, const TxPacket* tx, uint32_t n, int64_t) {
  UringState& s = *s_;
  for (uint32_t i = 0; i < n; ++i) {
    const auto bid = uint16_t(size_t(tx[i].data - s.buffers) / kBufSize);
    auto& slot = s.send[bid];
    slot.iov = {const_cast<uint8_t*>(tx[i].data), tx[i].len};
    slot.source = tx[i].source;
    slot.msg = {};
    slot.msg.msg_name = &slot.name;
    slot.msg.msg_namelen = tx[i].dest.to_sockaddr(&slot.name);
    slot.msg.msg_iov = &slot.iov;
    slot.msg.msg_iovlen = 1;
    s.in_flight[bid] = 1;
    io_uring_sqe* sqe = get_sqe(&s.ring);
    io_uring_prep_sendmsg(sqe, sockets_.fd(tx[i].source), &slot.msg, MSG_DONTWAIT);
    sqe->user_data = make_ud(kSend, 0, bid);
  }
}

void UringIo::release(const RxBurst& b) {
  for (uint32_t i = 0; i < b.n; ++i)
    if (!s_->in_flight[s_->rx_buf[i]]) recycle(s_->rx_buf[i]);
}

void UringIo::end_iteration(uint32_t, IterationClock&) {
  UringState& s = *s_;
  if (s.closing.empty()) return;
  io_uring_submit(&s.ring);  // the cancels go out before their sockets close
  for (int fd : s.closing) close(fd);
  s.closing.clear();
}

void UringIo::shutdown() {
  // Armed receives hold references to their sockets; the kernel tears a
  // ring down asynchronously, so without this the ports would stay bound
  // for a moment after the process exits. Only this thread may submit.
  io_uring* ring = &s_->ring;
  if (!s_->enabled) return;  // never ran: nothing armed
  io_uring_sqe* sqe = get_sqe(ring);
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
  sqe->user_data = make_ud(kIgnore, 0, 1);
  io_uring_submit(ring);
  // Reap until the cancel has completed and the cancelled receives have
  // posted their last completions (bounded: 0.5 s at most).
  bool done = false;
  for (int round = 0, idle = 0; round < 50 && idle < 3; ++round) {
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nullptr);
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      if (cqe->user_data == make_ud(kIgnore, 0, 1)) done = true;
    }
    io_uring_cq_advance(ring, seen);
    idle = (done && seen == 0) ? idle + 1 : 0;
  }
  for (int fd : s_->closing) close(fd);
  s_->closing.clear();
}

}  // namespace vox::dataplane
