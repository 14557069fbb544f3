#include "control/ha/state_store.h"

#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <linux/rtnetlink.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "control/ha/call_state.h"
#include "dataplane/io/udp_socket.h"

namespace vox::control::ha {

namespace {

constexpr size_t kBatch = 512;       // states per pipelined write
// The writer gathers states this long into one batch: each batch costs a
// wake-up, a send and a read of the replies (about 40 µs on these VMs),
// whatever it holds. A crash loses at most the last kLinger of changes.
constexpr auto kLinger = std::chrono::milliseconds(10);
constexpr auto kBusy = std::chrono::milliseconds(100);  // ... and polls, unwoken, this long after one
constexpr size_t kLoadBatch = 500;   // keys per MGET when loading a database
constexpr int kFollowPollMs = 200;   // the follower looks at its stop flag this often
// States encoded per turn of the control loop: about 0.5 ms of work, so
// that an NG request never waits behind a resync of every call.
constexpr size_t kFlushSlice = 32;

std::string key_of(const std::string& id) { return std::string(kCallKeyPrefix) + id; }  // the follower's GETs

std::string keyspace_pattern(int db) {
  return "__keyspace@" + std::to_string(db) + "__:" + std::string(kCallKeyPrefix) + "*";
}

// "__keyspace@3__:voxrelay:call:ID" -> (3, "ID").
std::optional<std::pair<int, std::string>> parse_channel(const std::string& channel) {
  const std::string head = "__keyspace@";
  if (channel.compare(0, head.size(), head) != 0) return std::nullopt;
  const size_t end = channel.find("__:", head.size());
  if (end == std::string::npos) return std::nullopt;
  const std::string key = channel.substr(end + 3);
  if (key.compare(0, kCallKeyPrefix.size(), kCallKeyPrefix) != 0) return std::nullopt;
  return std::pair{std::atoi(channel.c_str() + head.size()), key.substr(kCallKeyPrefix.size())};
}

// Every call state the link's current database holds, key by key: f(id,
// state). "" when the whole database was read, else why not.
template <typename F>
std::string each_saved_call(RedisLink& link, F&& f) {
  std::string cursor = "0";
  do {
    auto scan = link.command({"SCAN", cursor, "MATCH", std::string(kCallKeyPrefix) + "*", "COUNT",
                              std::to_string(kLoadBatch)});
    if (!scan.ok()) return scan.error();
    if (scan->elements.size() != 2) return "SCAN: " + scan->str;
    cursor = scan->elements[0].str;
    RedisLink::Command mget{"MGET"};
    for (const RedisReply& k : scan->elements[1].elements) mget.push_back(k.str);
    if (mget.size() == 1) continue;
    auto values = link.command(mget);
    if (!values.ok()) return values.error();
    for (size_t i = 0; i < values->elements.size() && i + 1 < mget.size(); ++i)
      if (values->elements[i].type == RedisReply::Type::kString)  // else deleted meanwhile
        f(mget[i + 1].substr(kCallKeyPrefix.size()), std::move(values->elements[i].str));
  } while (cursor != "0");
  return "";
}

// The store's threads never preempt the control thread when they wake
// (SCHED_BATCH: no wake-up preemption): on a host with few cores, a
// writer woken by a new call's state would otherwise delay the next NG
// reply by its time slice.
void yield_to_control(std::thread& t) {
  sched_param p{};
  pthread_setschedparam(t.native_handle(), SCHED_BATCH, &p);
}

int address_watch() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

StateStore::StateStore(StoreConfig config, CallManager& calls)
    : config_(std::move(config)), calls_(calls) {
  news_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!config_.write) config_.write = config_.read;
  if (!config_.follow_dbs.empty()) address_fd_ = address_watch();
  bindable_.assign(calls_.config().interfaces.size(), false);
  for (const InterfaceConfig& i : calls_.config().interfaces) interfaces_.push_back(i.local);
  interfaces_bindable_changed();
}

StateStore::~StateStore() {
  stop();
  if (news_fd_ >= 0) close(news_fd_);
  if (address_fd_ >= 0) close(address_fd_);
}

// ---- start: restore what this relay's database holds --------------------------

size_t StateStore::restore_from(RedisLink& link, int db, CallManager::Clock now) {
  size_t found = 0;
  const std::string error = each_saved_call(link, [&](const std::string& key_id, std::string value) {
    ++found;
    auto call = decode_call(value);
    if (!call.ok()) {
      ++counters_.restore_failed;
      spdlog::warn("Redis: call {}: unreadable state: {}", key_id, call.error());
      return;
    }
    auto up = calls_.restore(std::move(*call), now);
    if (up.ok()) {
      ++counters_.restored;
      if (db != config_.write->db) owner_db_[key_id] = db;
    } else if (!config_.follow_dbs.empty()) {
      followed_[key_id] = {db, std::move(value)};  // a standby's: its address is elsewhere
    } else {
      ++counters_.restore_failed;
      spdlog::warn("Redis: call {} not restored: {}", key_id, up.error());
    }
  });
  if (!error.empty()) spdlog::warn("Redis {}: reading the saved calls: {}", link.target().describe(), error);
  counters_.followed = int64_t(followed_.size());
  return found;
}

std::string StateStore::start(CallManager::Clock now) {
  if (config_.read) {
    const auto t0 = std::chrono::steady_clock::now();
    RedisLink link(*config_.read, config_.connect_timeout_ms, config_.command_timeout_ms);
    if (auto err = link.connect(); !err.empty()) {
      if (config_.required) return "Redis " + config_.read->describe() + ": " + err;
      spdlog::warn("Redis {}: {}: starting without its calls", config_.read->describe(), err);
    } else {
      const size_t found = restore_from(link, config_.read->db, now);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - t0).count();
      spdlog::info("Redis {}: {} call(s) found, {} restored, {} followed, {} failed, in {} ms",
                   config_.read->describe(), found, counters_.restored.load(), followed_.size(),
                   counters_.restore_failed.load(), ms);
    }
  }
  if (config_.write) writer_ = std::thread([this] { write_loop(); });
  if (!config_.follow_dbs.empty() && config_.read) follower_ = std::thread([this] { follow_loop(); });
  for (std::thread* t : {&writer_, &follower_})
    if (t->joinable()) yield_to_control(*t);
  return "";
}

void StateStore::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  follow_stop_ = true;
  if (writer_.joinable()) writer_.join();
  if (follower_.joinable()) follower_.join();
}

// ---- the writer ----------------------------------------------------------------

bool StateStore::flush() {
  if (resync_.exchange(false)) {
    // Redis came back (it may have restarted empty) or dropped states:
    // every live call again, a slice per turn of the control loop.
    for (const Call* c : calls_.active_calls(SIZE_MAX)) dirty_.insert(c->id);
    spdlog::info("Redis: writing every call's state again ({} calls)", dirty_.size());
  }
  if (dirty_.empty()) return false;
  if (!config_.write) {
    dirty_.clear();
    return false;
  }
  size_t n = 0;
  bool wake = false;  // the writer waits only while nothing is pending
  for (auto it = dirty_.begin(); it != dirty_.end() && n < kFlushSlice; ++n) {
    const std::string& id = *it;
    const Call* c = calls_.find(id);
    const auto owner = owner_db_.find(id);
    Op op{owner == owner_db_.end() ? config_.write->db : owner->second, std::nullopt};
    if (c && !c->deleted) {
      op.value = encode_call(*c, interfaces_, spare_buffer());
    } else if (owner != owner_db_.end()) {
      owner_db_.erase(owner);
    }
    wake |= enqueue(id, std::move(op));
    it = dirty_.erase(it);
  }
  if (wake && asleep_) cv_.notify_one();
  return !dirty_.empty();
}

std::string StateStore::spare_buffer() {
  if (spares_taken_.empty()) {
    std::lock_guard lock(mu_);
    const size_t n = std::min(spares_.size(), kFlushSlice);
    spares_taken_.assign(std::make_move_iterator(spares_.end() - ptrdiff_t(n)),
                         std::make_move_iterator(spares_.end()));
    spares_.resize(spares_.size() - n);
  }
  if (spares_taken_.empty()) return {};
  std::string b = std::move(spares_taken_.back());
  spares_taken_.pop_back();
  return b;
}

bool StateStore::enqueue(const std::string& id, Op op) {
  std::lock_guard lock(mu_);
  const bool was_empty = pending_.empty();
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    // A state waits only while the backlog has room; a delete always does.
    if (op.value && pending_values_ >= config_.backlog) {
      ++counters_.dropped;
      overflowed_ = true;
      return false;
    }
    it = pending_.emplace(id, Op{}).first;
  } else if (it->second.value) {
    --pending_values_;
  }
  if (op.value) ++pending_values_;
  it->second = std::move(op);
  counters_.backlog = int64_t(pending_.size());
  return was_empty;
}

void StateStore::requeue(Batch& ops) {
  std::lock_guard lock(mu_);
  for (auto& [id, op] : ops)
    if (pending_.try_emplace(id, std::move(op)).second && pending_[id].value) ++pending_values_;
  counters_.backlog = int64_t(pending_.size());
  ops.clear();
}

void StateStore::send_batch(RedisLink& link, Batch& batch, int& db, Sent& sent) {
  // Formatted straight into one buffer: each state is copied once, there.
  std::string bytes, key, selected;
  const std::string expires = std::to_string(config_.expires_s);
  for (auto& [id, op] : batch) {
    if (op.db != db) {
      selected = std::to_string(db = op.db);
      append_command(bytes, {"SELECT", selected});
      sent.selects.push_back(true);
    }
    key.assign(kCallKeyPrefix).append(id);
    if (op.value)
      append_command(bytes, {"SET", key, *op.value, "EX", expires});
    else
      append_command(bytes, {"DEL", key});
    sent.selects.push_back(false);
  }
  sent.ops = std::move(batch);
  if (auto err = link.send_raw(bytes); !err.empty()) write_failed(link, sent, db, err);
}

void StateStore::write_failed(const RedisLink& link, Sent& sent, int& db, const std::string& why) {
  db = -1;  // after a reconnect: SELECT again
  ++counters_.errors;
  spdlog::warn("Redis {}: write failed: {}", link.target().describe(), why);
  requeue(sent.ops);
  sent.selects.clear();
}

void StateStore::collect(RedisLink& link, Sent& sent, int& db) {
  auto replies = link.replies(sent.selects.size());
  if (!replies.ok()) return write_failed(link, sent, db, replies.error());
  for (size_t i = 0, j = 0; i < sent.ops.size(); ++i, ++j) {
    if (sent.selects[j]) ++j;
    const auto& [id, op] = sent.ops[i];
    if ((*replies)[j].is_error()) {
      ++counters_.errors;
      spdlog::warn("Redis: {} {}: {}", op.value ? "SET" : "DEL", id, (*replies)[j].str);
    } else {
      ++(op.value ? counters_.writes : counters_.deletes);
    }
  }
  // The states' buffers go back to flush(), for the next encodes.
  constexpr size_t kSpares = 4 * kFlushSlice;
  std::lock_guard lock(mu_);
  for (auto& [id, op] : sent.ops)
    if (op.value && spares_.size() < kSpares) spares_.push_back(std::move(*op.value));
  sent.ops.clear();
  sent.selects.clear();
}

void StateStore::write_loop() {
  RedisLink link(*config_.write, config_.connect_timeout_ms, config_.command_timeout_ms);
  bool was_down = false;    // a connection failed or broke since the last one came up
  bool said_down = false;   // ... and the log said so
  int db = -1;              // the database the link has selected (-1: not known)
  Sent sent;                // the last batch, until its replies are read
  auto last_batch = std::chrono::steady_clock::time_point{};
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(mu_);
      // Connected even while idle: `connected` tells the truth, and the
      // first state after a quiet spell does not wait for a connect.
      const auto ready = [&] { return stopping_ || !pending_.empty() || !link.up(); };
      // Busy (a batch within kBusy, or replies to read): look again every
      // kLinger, unwoken, so that the control thread makes no system call
      // per state; idle: sleep until flush() wakes it (asleep_ asks for
      // that), then wait kLinger for more.
      bool polled = false;
      while (!ready()) {
        if (!sent.ops.empty() || std::chrono::steady_clock::now() - last_batch < kBusy) {
          cv_.wait_for(lock, kLinger);
          polled = true;
          if (!sent.ops.empty()) break;
          continue;
        }
        asleep_ = true;
        cv_.wait(lock, ready);
        asleep_ = false;
        polled = false;
      }
      if (stopping_ && sent.ops.empty() && (pending_.empty() || !link.up())) return;
      // A moment for more to come: one round trip and one wake-up for
      // the states of many calls, not one each.
      if (!polled && !stopping_ && link.up() && !pending_.empty() && pending_.size() < kBatch)
        cv_.wait_for(lock, kLinger, [&] { return stopping_ || pending_.size() >= kBatch; });
      if (link.up()) {
        for (auto it = pending_.begin(); it != pending_.end() && batch.size() < kBatch;) {
          if (it->second.value) --pending_values_;
          batch.emplace_back(it->first, std::move(it->second));
          it = pending_.erase(it);
        }
        counters_.backlog = int64_t(pending_.size());
      }
    }
    if (!link.up()) {
      if (auto err = link.connect(); !err.empty()) {
        counters_.connected = false;
        if (!said_down) spdlog::warn("Redis {}: {}: calls go on, their state waits", config_.write->describe(), err);
        was_down = said_down = true;
        ++counters_.errors;
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(config_.retry_ms), [&] { return stopping_; });
        continue;
      }
      counters_.connected = true;
      db = config_.write->db;  // connect() selected it
      if (was_down) {
        // It may have restarted empty: every live call is written again.
        spdlog::info("Redis {}: connected again", config_.write->describe());
        resync_ = true;
        overflowed_ = false;
      }
      was_down = said_down = false;
      continue;
    }
    if (!sent.ops.empty()) collect(link, sent, db);
    if (!batch.empty()) {
      if (link.up()) {
        send_batch(link, batch, db, sent);
        last_batch = std::chrono::steady_clock::now();
      } else {
        requeue(batch);
      }
    }
    if (!link.up()) {
      counters_.connected = false;
      was_down = true;
      continue;
    }
    // States that did not fit the backlog: every call again once it is empty.
    std::lock_guard lock(mu_);
    if (pending_.empty() && sent.ops.empty() && overflowed_.exchange(false)) resync_ = true;
  }
}

// ---- the follower (a standby) ------------------------------------------------------

void StateStore::post_news(std::vector<News> news) {
  if (news.empty()) return;
  {
    std::lock_guard lock(news_mu_);
    for (News& n : news) news_.push_back(std::move(n));
  }
  const uint64_t one = 1;
  [[maybe_unused]] auto n = write(news_fd_, &one, sizeof one);
}

std::string StateStore::follow_connect(RedisLink& sub, RedisLink& get) {
  if (auto err = get.connect(); !err.empty()) return err;
  // Keyspace notifications for string commands, generic ones and expiry
  // ("K$gx"); Redis has them off by default. A server where CONFIG is not
  // allowed must have them set by its operator.
  auto cfg = get.command({"CONFIG", "GET", "notify-keyspace-events"});
  const std::string flags = cfg.ok() && cfg->elements.size() == 2 ? cfg->elements[1].str : "";
  const bool all = flags.find('A') != std::string::npos;
  if (flags.find('K') == std::string::npos || (!all && (flags.find('$') == std::string::npos ||
                                                        flags.find('g') == std::string::npos ||
                                                        flags.find('x') == std::string::npos))) {
    auto set = get.command({"CONFIG", "SET", "notify-keyspace-events", flags + "K$gx"});
    if (!set.ok() || set->is_error())
      spdlog::warn("Redis: cannot enable keyspace notifications ({}): set notify-keyspace-events K$gx "
                   "on the server", set.ok() ? set->str : set.error());
  }
  if (auto err = sub.connect(); !err.empty()) return err;
  RedisLink::Command psub{"PSUBSCRIBE"};
  for (int db : config_.follow_dbs) psub.push_back(keyspace_pattern(db));
  if (auto err = sub.send(psub); !err.empty()) return err;
  // Everything the followed databases hold now; events from here on.
  for (int db : config_.follow_dbs) {
    if (auto r = get.command({"SELECT", std::to_string(db)}); !r.ok()) return r.error();
    News end{db, "", std::nullopt, true, {}};
    std::vector<News> news;
    const std::string error = each_saved_call(get, [&](const std::string& id, std::string value) {
      end.ids.push_back(id);
      news.push_back({db, id, std::move(value), false, {}});
    });
    if (!error.empty()) return error;
    news.push_back(std::move(end));
    post_news(std::move(news));
  }
  return "";
}

void StateStore::follow_loop() {
  RedisLink sub(*config_.read, config_.connect_timeout_ms, config_.command_timeout_ms);
  RedisLink get(*config_.read, config_.connect_timeout_ms, config_.command_timeout_ms);
  int get_db = config_.read->db;
  bool was_down = false;
  while (!follow_stop_) {
    if (!sub.up() || !get.up()) {
      if (auto err = follow_connect(sub, get); !err.empty()) {
        if (!was_down) spdlog::warn("Redis {}: following: {}", config_.read->describe(), err);
        was_down = true;
        sub.close();
        for (int waited = 0; waited < config_.retry_ms && !follow_stop_; waited += kFollowPollMs)
          std::this_thread::sleep_for(std::chrono::milliseconds(kFollowPollMs));
        continue;
      }
      get_db = -1;
      if (was_down) spdlog::info("Redis {}: following again", config_.read->describe());
      was_down = false;
    }
    std::string error;
    std::vector<News> news;
    // Whatever has arrived, then the states it names, in one go.
    for (auto msg = sub.next(kFollowPollMs, &error); msg; msg = sub.next(0, &error)) {
      if (msg->elements.size() != 4 || msg->elements[0].str != "pmessage") continue;
      const auto where = parse_channel(msg->elements[2].str);
      if (!where) continue;
      const std::string& event = msg->elements[3].str;
      if (event == "set") {
        news.push_back({where->first, where->second, std::string(), false, {}});
      } else if (event == "del" || event == "expired" || event == "evicted") {
        news.push_back({where->first, where->second, std::nullopt, false, {}});
      }
    }
    std::vector<RedisLink::Command> cmds;
    for (const News& n : news) {
      if (!n.value) continue;
      if (n.db != get_db) cmds.push_back({"SELECT", std::to_string(get_db = n.db)});
      cmds.push_back({"GET", key_of(n.id)});
    }
    if (!cmds.empty()) {
      auto replies = get.pipeline(cmds);
      if (!replies.ok()) continue;  // reconnects, and loads everything again
      size_t j = 0;
      for (News& n : news) {
        if (!n.value) continue;
        while ((*replies)[j].type == RedisReply::Type::kStatus) ++j;  // SELECT's OK
        if ((*replies)[j].type == RedisReply::Type::kString) n.value = std::move((*replies)[j].str);
        else n.value.reset();  // gone again already
        ++j;
      }
    }
    post_news(std::move(news));
    if (!error.empty()) sub.close();
  }
}

void StateStore::take_news(CallManager::Clock now) {
  uint64_t ignored;
  [[maybe_unused]] auto r = read(news_fd_, &ignored, sizeof ignored);
  std::vector<News> news;
  {
    std::lock_guard lock(news_mu_);
    news.swap(news_);
  }
  bool loaded = false;  // a followed database was read whole
  for (News& n : news) {
    if (n.snapshot_end) {
      // A full load: what the database no longer holds is no longer followed.
      std::unordered_set<std::string> held(n.ids.begin(), n.ids.end());
      for (auto it = followed_.begin(); it != followed_.end();)
        it = it->second.db == n.db && !held.count(it->first) ? followed_.erase(it) : std::next(it);
      loaded = true;
      continue;
    }
    const Call* live = calls_.find(n.id);
    if (live && !live->deleted) continue;  // this relay's own call (its own write, echoed)
    ++counters_.followed_updates;
    if (n.value)
      followed_[n.id] = {n.db, std::move(*n.value)};
    else
      followed_.erase(n.id);
  }
  counters_.followed = int64_t(followed_.size());
  // This relay already holds an interface address (it started with it, or
  // restarted after a takeover): what it follows and can bind is its own.
  if (loaded && !followed_.empty() &&
      std::find(bindable_.begin(), bindable_.end(), true) != bindable_.end()) {
    const size_t n = take_over(now);
    if (n) spdlog::info("{} followed call(s) taken over: their address is here", n);
  }
}

std::vector<CallManager::StateSink::Figure> StateStore::figures() const {
  const StoreCounters& c = counters_;
  return {
      {"connected", "1 while the writer is connected to Redis.", false, c.connected.load()},
      {"backlog", "Calls whose state waits to be written.", false, c.backlog.load()},
      {"writes", "Call states written.", true, int64_t(c.writes.load())},
      {"deletes", "Call states deleted.", true, int64_t(c.deletes.load())},
      {"errors", "Failed connections, batches and commands.", true, int64_t(c.errors.load())},
      {"dropped", "States not queued: the backlog was full (written again later).", true,
       int64_t(c.dropped.load())},
      {"restored", "Calls restored at start.", true, int64_t(c.restored.load())},
      {"restore failed", "Saved calls that could not be restored at start.", true,
       int64_t(c.restore_failed.load())},
      {"followed", "Another relay's calls this standby follows.", false, c.followed.load()},
      {"followed updates", "Followed calls' states received.", true, int64_t(c.followed_updates.load())},
      {"taken over", "Followed calls this relay took over.", true, int64_t(c.taken_over.load())},
  };
}

// ---- takeover ----------------------------------------------------------------------

bool StateStore::interfaces_bindable_changed() {
  bool appeared = false;
  const auto& ifaces = calls_.config().interfaces;
  for (size_t i = 0; i < ifaces.size(); ++i) {
    auto fd = dataplane::open_udp_port(ifaces[i].local, 0);
    const bool now = fd.ok();
    if (now) close(*fd);
    appeared |= now && !bindable_[i];
    bindable_[i] = now;
  }
  return appeared;
}

void StateStore::on_address_change(CallManager::Clock now) {
  char buf[8192];
  while (recv(address_fd_, buf, sizeof buf, 0) > 0) {
  }
  if (interfaces_bindable_changed() && !followed_.empty()) {
    const size_t n = take_over(now);
    spdlog::info("an address of this relay appeared: took over {} call(s), {} still followed", n,
                 followed_.size());
  }
}

size_t StateStore::take_over(CallManager::Clock now) {
  size_t up = 0;
  for (auto it = followed_.begin(); it != followed_.end();) {
    auto call = decode_call(it->second.value);
    if (!call.ok()) {
      spdlog::warn("Redis: call {}: unreadable state: {}", it->first, call.error());
      it = followed_.erase(it);
      continue;
    }
    auto restored = calls_.restore(std::move(*call), now);
    if (!restored.ok()) {
      spdlog::debug("call {} stays followed: {}", it->first, restored.error());
      ++it;
      continue;
    }
    if (it->second.db != config_.write->db) owner_db_[it->first] = it->second.db;
    ++up;
    it = followed_.erase(it);
  }
  counters_.taken_over += up;
  counters_.followed = int64_t(followed_.size());
  return up;
}

}  // namespace vox::control::ha
