// voxload's default I/O driver: io_uring, so a tick's sends and all
// arrivals cost a system call or two rather than one per packet, and the
// generator's cost is the kernel's UDP path.
#include <liburing.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "voxload_io.h"

namespace voxload {

namespace {

// Sends: one SEND (with destination) per packet, a tick's packets submitted
// in chunks across all sockets. Receives: one multishot RECVMSG per socket
// drawing from a shared provided-buffer ring, so arrivals cost no syscall
// and are reaped once per tick.
class UringDriver {
 public:
  static constexpr int kSlotsPerStream = 4;  // sends in flight per stream
  static constexpr int kSendChunk = 16;
  static constexpr unsigned kBufCount = 4096;
  static constexpr unsigned kBufSize = 2048;
  static constexpr uint64_t kTagSend = 1ull << 56, kTagRecv = 2ull << 56;

  explicit UringDriver(LoadRun& run) : run_(run) {}
  ~UringDriver() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (buf_ring_) munmap(buf_ring_, kBufCount * sizeof(io_uring_buf));
  }

  std::optional<std::string> init() {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = 65536;
    int rc = io_uring_queue_init_params(4096, &ring_, &p);
    if (rc == -EINVAL) {  // kernels before 6.1 lack DEFER_TASKRUN
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = 65536;
      rc = io_uring_queue_init_params(4096, &ring_, &p);
    }
    if (rc < 0) return std::string("io_uring_queue_init: ") + std::strerror(-rc);
    ring_ok_ = true;
    // SEND with a destination address (kernel 6.0+, so wherever
    // DEFER_TASKRUN (6.1) exists) skips copying a msghdr per packet.
    send_with_addr_ = (p.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    cq_entries_ = p.cq_entries;

    const auto& fds = run_.fds();
    // Fixed files spare the per-operation fd lookup; optional.
    fixed_files_ = io_uring_register_files(&ring_, fds.data(), unsigned(fds.size())) == 0;

    void* mem = mmap(nullptr, kBufCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
                     -1, 0);
    if (mem == MAP_FAILED) return std::string("mmap: ") + std::strerror(errno);
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kBufCount;
    reg.bgid = 0;
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (rc < 0) return std::string("io_uring_register_buf_ring: ") + std::strerror(-rc);
    buffers_.resize(size_t(kBufCount) * kBufSize);
    for (unsigned i = 0; i < kBufCount; ++i)
      io_uring_buf_ring_add(buf_ring_, &buffers_[size_t(i) * kBufSize], kBufSize, uint16_t(i),
                            io_uring_buf_ring_mask(kBufCount), int(i));
    io_uring_buf_ring_advance(buf_ring_, kBufCount);

    // Only the control length matters to multishot recvmsg: no source
    // address (the marker says where a packet belongs), one timestamp cmsg.
    recv_msg_ = msghdr{};
    recv_msg_.msg_controllen = CMSG_SPACE(sizeof(timespec));

    // Send slots: fixed buffers with the µ-law filler written once.
    const size_t payload = size_t(run_.opt().payload);
    const size_t capacity = run_.packet_capacity();  // more than payload with --transcode (Opus)
    slots_.resize(run_.stream_count() * kSlotsPerStream);
    slot_bufs_.assign(slots_.size() * capacity, 0xff);  // 0xff: µ-law silence
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& sl = slots_[i];
      Stream& st = run_.stream(uint32_t(i / kSlotsPerStream));
      sl.iov = iovec{&slot_bufs_[i * capacity], payload};
      sl.msg = msghdr{};
      sl.msg.msg_name = &st.dest;
      sl.msg.msg_namelen = st.dest_len;
      sl.msg.msg_iov = &sl.iov;
      sl.msg.msg_iovlen = 1;
    }
    for (uint32_t s = 0; s < fds.size(); ++s) arm_receive(s);
    return std::nullopt;
  }

  void run() {
    for (int64_t now = mono_ns(); run_.advance(now); now = mono_ns()) {
      if (run_.sending(now)) queue_sends(now);
      const int64_t wait = run_.next_tick(now) - mono_ns();
      __kernel_timespec ts{0, wait > 0 ? wait : 0};
      io_uring_cqe* cqe = nullptr;
      // A large wait_nr: sleep the whole tick and reap everything at once
      // (with DEFER_TASKRUN the receives complete in this call, batched).
      io_uring_submit_and_wait_timeout(&ring_, &cqe, cq_entries_ / 2, &ts, nullptr);
      reap();
    }
  }

 private:
  struct Slot {
    iovec iov;
    msghdr msg;
    bool busy = false;
    bool in_window = false;
  };

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);  // SQ full: flush what is queued
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void set_fd(io_uring_sqe* sqe, uint32_t sock) {
    if (fixed_files_) {
      sqe->fd = int(sock);
      sqe->flags |= IOSQE_FIXED_FILE;
    } else {
      sqe->fd = run_.fds()[sock];
    }
  }

  void arm_receive(uint32_t sock) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return;
    io_uring_prep_recvmsg_multishot(sqe, 0, &recv_msg_, 0);
    set_fd(sqe, sock);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, kTagRecv | sock);
  }

  // Sends go out in chunks of kSendChunk SQEs, each submitted at once: the
  // kernel runs a chunk's sends one after the other inside io_uring_enter,
  // so a packet is stamped with its predicted send moment (chunk start +
  // position x measured cost per send). Without that, a stamp taken at
  // preparation would add the chunk's own sending time to the latency.
  void queue_sends(int64_t now) {
    uint64_t n = run_.due(now);
    while (n > 0) {
      const int64_t chunk_start = mono_ns();
      int queued = 0;
      for (; n > 0 && queued < kSendChunk; --n) {
        const uint32_t s = run_.take_next_stream();
        Slot* slot = nullptr;
        size_t idx = 0;
        for (int k = 0; k < kSlotsPerStream; ++k) {
          idx = size_t(s) * kSlotsPerStream + size_t(k);
          if (!slots_[idx].busy) {
            slot = &slots_[idx];
            break;
          }
        }
        io_uring_sqe* sqe = slot ? get_sqe() : nullptr;
        if (!sqe) {
          run_.skip_packet();  // every slot of this stream still in flight
          continue;
        }
        const int64_t stamp = chunk_start + int64_t((queued + 0.5) * send_cost_ns_);
        slot->iov.iov_len = run_.build_packet(s, static_cast<uint8_t*>(slot->iov.iov_base), stamp, &slot->in_window);
        slot->busy = true;
        if (send_with_addr_) {
          io_uring_prep_send(sqe, 0, slot->iov.iov_base, slot->iov.iov_len, 0);
          sqe->addr2 = reinterpret_cast<uintptr_t>(slot->msg.msg_name);  // liburing 2.4's prep_send_set_addr
          sqe->addr_len = uint16_t(slot->msg.msg_namelen);
        } else {
          io_uring_prep_sendmsg(sqe, 0, &slot->msg, 0);
        }
        set_fd(sqe, s);  // stream s is sent from socket s
        io_uring_sqe_set_data64(sqe, kTagSend | idx);
        ++queued;
      }
      if (queued == 0) continue;
      const int64_t submit_start = mono_ns();
      io_uring_submit(&ring_);
      const double per_send = double(mono_ns() - submit_start) / queued;
      send_cost_ns_ += (per_send - send_cost_ns_) / 16;  // smoothed: one slow chunk barely moves it
    }
  }

  void reap() {
    io_uring_cqe* cqe;
    unsigned head, seen = 0, recycled = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const uint64_t index = tag & ((1ull << 56) - 1);
      if ((tag & ~((1ull << 56) - 1)) == kTagSend) {
        Slot& slot = slots_[index];
        slot.busy = false;
        if (cqe->res >= 0)
          run_.on_sent(slot.in_window);
        else
          run_.on_send_error(-cqe->res);
        continue;
      }
      const uint32_t sock = uint32_t(index);
      if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        const uint16_t bid = uint16_t(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        uint8_t* buf = &buffers_[size_t(bid) * kBufSize];
        if (auto* out = io_uring_recvmsg_validate(buf, cqe->res, &recv_msg_)) {
          int64_t rx_real = 0;
          for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(out, &recv_msg_); c;
               c = io_uring_recvmsg_cmsg_nexthdr(out, &recv_msg_, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
              timespec ts;
              std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
              rx_real = int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
            }
          }
          const auto* payload = static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
          run_.on_receive(sock, payload, io_uring_recvmsg_payload_length(out, cqe->res, &recv_msg_), rx_real);
        }
        io_uring_buf_ring_add(buf_ring_, buf, kBufSize, bid, io_uring_buf_ring_mask(kBufCount), int(recycled++));
      } else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
        ++run_.counters().recv_errors;
      }
      // Multishot ends on error or when the buffer ring ran dry: re-arm.
      if (!(cqe->flags & IORING_CQE_F_MORE) && cqe->res != -ECANCELED) {
        ++run_.counters().rearms;
        pending_rearm_.push_back(sock);
      }
    }
    if (recycled) io_uring_buf_ring_advance(buf_ring_, int(recycled));
    io_uring_cq_advance(&ring_, seen);
    // Re-arm after the CQ is advanced: get_sqe may submit.
    for (uint32_t sock : pending_rearm_) arm_receive(sock);
    pending_rearm_.clear();
  }

  LoadRun& run_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool fixed_files_ = false;
  bool send_with_addr_ = false;
  double send_cost_ns_ = 3000;  // kernel time per UDP send, learnt while running
  unsigned cq_entries_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::vector<uint8_t> buffers_;
  msghdr recv_msg_{};
  std::vector<Slot> slots_;
  std::vector<uint8_t> slot_bufs_;
  std::vector<uint32_t> pending_rearm_;
};

}  // namespace

std::optional<std::string> drive_with_uring(LoadRun& run) {
  UringDriver driver(run);
  return set_up_and_drive(driver, run);
}

}  // namespace voxload
