#include "control/webrtc/handshake.h"

#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "base/clock.h"
#include "dataplane/slow_path.h"

namespace vox::control::webrtc {

namespace {

constexpr int64_t kSweepNs = 1'000'000'000;  // consent and status, once a second

void signal(int fd) {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void drain(int fd) {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(fd, &v, sizeof v);
}

}  // namespace

HandshakeThread::HandshakeThread(dataplane::WorkerSet& workers, DtlsContext& dtls)
    : workers_(workers),
      dtls_(dtls),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      notify_(size_t(workers.workers()), false) {
  workers_.enable_slow_path(wake_fd_);
}

HandshakeThread::~HandshakeThread() {
  stop();
  ::close(wake_fd_);
  ::close(event_fd_);
}

void HandshakeThread::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "vox-handshake");
}

void HandshakeThread::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  signal(wake_fd_);
  thread_.join();
}

void HandshakeThread::set_leg(const LegSpec& spec) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back({false, spec});
  }
  signal(wake_fd_);
}

void HandshakeThread::remove_leg(dataplane::LocalKey key) {
  {
    std::lock_guard lock(mu_);
    Command c;
    c.remove = true;
    c.spec.key = key;
    commands_.push_back(std::move(c));
    published_status_.erase(key);
  }
  signal(wake_fd_);
}

std::vector<LegEvent> HandshakeThread::take_events() {
  drain(event_fd_);
  std::lock_guard lock(mu_);
  return std::exchange(events_, {});
}

LegCounters HandshakeThread::counters() const {
  std::lock_guard lock(mu_);
  return published_counters_;
}

std::optional<LegStatus> HandshakeThread::status(dataplane::LocalKey key) const {
  std::lock_guard lock(mu_);
  auto it = published_status_.find(key);
  if (it == published_status_.end()) return std::nullopt;
  return it->second;
}

void HandshakeThread::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    const size_t handled = run_once(monotonic_ns());
    // Round up to the next millisecond so a timer is never polled early; a
    // timer still due after firing (OpenSSL's own clock lags ours by a
    // little) is looked at again in 1 ms, not spun on.
    const int64_t wait_ns = std::max<int64_t>(handled ? 0 : 1, next_wake_ns() - monotonic_ns());
    pollfd p{wake_fd_, POLLIN, 0};
    ::poll(&p, 1, int(std::min<int64_t>(wait_ns + 999'999, kSweepNs) / 1'000'000));
    drain(wake_fd_);
  }
}

size_t HandshakeThread::run_once(int64_t now_ns) {
  apply_commands();
  size_t handled = 0;
  for (int w = 0; w < workers_.workers(); ++w) handled += drain_worker(w, now_ns);
  busy_ |= handled > 0;
  const bool sweep = now_ns >= next_sweep_ns_;
  run_timers(now_ns, sweep);
  if (sweep || !touched_.empty()) publish(now_ns, sweep);
  if (std::exchange(events_waiting_, false)) signal(event_fd_);
  for (int w = 0; w < workers_.workers(); ++w)
    if (notify_[size_t(w)]) {
      notify_[size_t(w)] = false;
      workers_.notify(w);
    }
  return handled;
}

void HandshakeThread::apply_commands() {
  std::vector<Command> commands;
  {
    std::lock_guard lock(mu_);
    commands.swap(commands_);
  }
  for (Command& c : commands) {
    if (c.remove) {
      unschedule(c.spec.key);
      legs_.erase(c.spec.key);
      continue;
    }
    auto& leg = legs_[c.spec.key];
    if (leg) leg->update(c.spec);
    else leg = std::make_unique<WebrtcLeg>(c.spec, &dtls_, counters_);
    reschedule(c.spec.key, *leg);
  }
}

size_t HandshakeThread::drain_worker(int w, int64_t now_ns) {
  dataplane::SlowPath* slow = workers_.state(w).slow_path();
  if (!slow) return 0;
  size_t n = 0;
  for (const dataplane::SlowPacket* p; (p = slow->in.peek(0)) != nullptr; ++n) {
    auto it = legs_.find(p->local);
    if (it == legs_.end()) {
      ++counters_.no_leg;
    } else {
      const dataplane::LocalKey local = p->local;
      touched_.push_back(local);
      auto send = [&](const Endpoint& to, std::span<const uint8_t> d) { this->send(w, local, to, d); };
      auto rep = [&](const LegEvent& e) { report(e); };
      const std::span<const uint8_t> data{p->data, p->len};
      if (p->kind == dataplane::PacketKind::kStun)
        it->second->on_stun(data, p->source, now_ns, send, rep);
      else
        it->second->on_dtls(data, p->source, now_ns, send, rep);
      reschedule(local, *it->second);
    }
    slow->in.consume(1);
  }
  return n;
}

void HandshakeThread::send(int w, dataplane::LocalKey from, const Endpoint& to,
                           std::span<const uint8_t> d) {
  dataplane::SlowPath* slow = workers_.state(w).slow_path();
  dataplane::SlowReply* r = slow ? slow->out.claim() : nullptr;
  if (!r || d.size() > sizeof r->data) {
    ++counters_.replies_dropped;
    return;
  }
  r->from = from;
  r->dest = to;
  r->len = uint16_t(d.size());
  std::memcpy(r->data, d.data(), d.size());
  slow->out.publish();
  notify_[size_t(w)] = true;
}

void HandshakeThread::report(const LegEvent& e) {
  std::lock_guard lock(mu_);
  events_.push_back(e);
  events_waiting_ = true;  // the control thread is woken once per round (run_once)
}

void HandshakeThread::run_timers(int64_t now_ns, bool sweep) {
  auto fire = [&](dataplane::LocalKey key, WebrtcLeg& leg) {
    const int w = leg.spec().worker;
    auto send = [&](const Endpoint& to, std::span<const uint8_t> d) { this->send(w, key, to, d); };
    leg.on_timer(now_ns, send, [&](const LegEvent& e) { report(e); });
    reschedule(key, leg);
  };
  if (sweep) {  // every leg: consent (RFC 7675) is looked at once a second
    for (auto& [key, leg] : legs_) fire(key, *leg);
    next_sweep_ns_ = now_ns + kSweepNs;
    // Released sessions' pages go back to the system once handshakes have
    // paused for a second: trimming in the middle of a burst would only
    // fault the same pages in again for the next handshakes.
    if (trim_ && !std::exchange(busy_, false)) {
      malloc_trim(0);
      trim_ = false;
    }
    return;
  }
  // Those due now, each once (a timer that stays due waits for the next round).
  due_now_.clear();
  for (auto it = timers_.begin(); it != timers_.end() && it->first <= now_ns; ++it)
    due_now_.push_back(it->second);
  for (dataplane::LocalKey key : due_now_) fire(key, *legs_.at(key));
}

void HandshakeThread::reschedule(dataplane::LocalKey key, WebrtcLeg& leg) {
  unschedule(key);
  trim_ |= leg.take_released();
  const int64_t t = leg.next_timer_ns();
  if (t == INT64_MAX) return;
  timers_.emplace(t, key);
  due_[key] = t;
}

void HandshakeThread::unschedule(dataplane::LocalKey key) {
  auto it = due_.find(key);
  if (it == due_.end()) return;
  timers_.erase({it->second, key});
  due_.erase(it);
}

void HandshakeThread::publish(int64_t now_ns, bool all) {
  std::lock_guard lock(mu_);
  published_counters_ = counters_;
  if (all) {
    published_status_.clear();
    for (auto& [key, leg] : legs_) published_status_[key] = leg->status(now_ns);
  } else {
    for (dataplane::LocalKey key : touched_)
      if (auto it = legs_.find(key); it != legs_.end()) published_status_[key] = it->second->status(now_ns);
  }
  touched_.clear();
}

int64_t HandshakeThread::next_wake_ns() const {
  return timers_.empty() ? next_sweep_ns_ : std::min(next_sweep_ns_, timers_.begin()->first);
}

}  // namespace vox::control::webrtc
