// Calls' state in Redis, for high availability (rtpengine's --redis,
// --redis-write and --subscribe-keyspace): every call's state (call_state.h)
// under "voxrelay:call:<call-id>", written as it changes, restored at start,
// followed by a standby that takes the calls over when the media address
// moves to it.
//
// Threads. The control thread tells the store which calls changed
// (CallManager::StateSink: an id into a set, nothing more) and, once its
// NG replies are sent, flush() encodes them and hands them to the writer
// thread: no NG reply waits for Redis or for encoding. The writer keeps
// the latest state of each call waiting (a bounded backlog; deletes are
// never dropped), writes in pipelined batches and, while Redis is away,
// reconnects every --redis-disable-time. Once it is back (it may have
// restarted empty), or once a backlog that overflowed has drained, every
// live call's state is written again. The follower
// thread (a standby) subscribes to keyspace notifications of the followed
// databases and hands each call's new state to the control thread, which
// keeps it, unbound, as a followed call; when an address of this relay
// appears (netlink), the followed calls are restored: the standby then
// owns them and writes them where they were.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "control/call_manager.h"
#include "control/ha/redis_link.h"

namespace vox::control::ha {

inline constexpr std::string_view kCallKeyPrefix = "voxrelay:call:";

struct StoreConfig {
  std::optional<RedisTarget> read;   // --redis: the calls restored at start
  std::optional<RedisTarget> write;  // --redis-write, else --redis
  std::vector<int> follow_dbs;       // --subscribe-keyspace (databases on --redis's server)
  int expires_s = 86400;             // --redis-expires: a key outlives its last write by this
  int connect_timeout_ms = 1000;     // --redis-connect-timeout
  int command_timeout_ms = 1000;     // --redis-cmd-timeout
  int retry_ms = 1000;               // --redis-disable-time: between reconnects
  size_t backlog = 100000;           // --redis-backlog: calls' states waiting to be written, at most
  bool required = true;              // false with --no-redis-required
};

// Counters, read by `statistics` and /metrics from any thread.
struct StoreCounters {
  std::atomic<uint64_t> writes{0}, deletes{0}, errors{0}, dropped{0};
  std::atomic<uint64_t> restored{0}, restore_failed{0}, taken_over{0}, followed_updates{0};
  std::atomic<int64_t> backlog{0}, followed{0};
  std::atomic<bool> connected{false};
};

class StateStore final : public CallManager::StateSink {
 public:
  StateStore(StoreConfig config, CallManager& calls);
  ~StateStore() override;

  // Restores the calls saved in --redis's database (those whose ports
  // cannot be bound here are followed instead, when following, else left
  // in Redis and logged), then starts the writer and follower. An error
  // only when Redis cannot be reached and is required.
  std::string start(CallManager::Clock now);
  void stop();

  void changed(const Call& c) override { dirty_.insert(c.id); }
  void gone(const std::string& call_id) override { dirty_.insert(call_id); }
  std::vector<Figure> figures() const override;
  // Control thread, after NG replies and ticks: the changed calls' states
  // go to the writer, a slice at a time; true while some wait (the
  // control loop then comes back without sleeping).
  bool flush();

  // The follower's news: readable when followed calls changed.
  int news_fd() const { return news_fd_; }
  void take_news(CallManager::Clock now);
  // Readable when the host's addresses change (netlink); -1 when not following.
  int address_fd() const { return address_fd_; }
  // Drains address_fd and, when one of this relay's interface addresses
  // can now be bound, restores the followed calls (the takeover).
  void on_address_change(CallManager::Clock now);
  size_t take_over(CallManager::Clock now) override;

  const StoreCounters& counters() const { return counters_; }
  const StoreConfig& config() const { return config_; }

 private:
  struct Op {
    int db = 0;
    std::optional<std::string> value;  // nullopt: delete
  };
  struct News {
    int db = 0;
    std::string id;
    std::optional<std::string> value;  // nullopt: deleted in Redis
    bool snapshot_end = false;         // the end of a full load of db (ids: what it held)
    std::vector<std::string> ids;
  };
  struct Followed {
    int db = 0;
    std::string value;
  };

  using Batch = std::vector<std::pair<std::string, Op>>;
  // A batch sent whose replies are not read yet. The writer reads them
  // before it sends the next batch (by then they have come: no wait), or
  // after kLinger when nothing more is pending.
  struct Sent {
    Batch ops;
    std::vector<bool> selects;  // per command: a SELECT (its reply is not a state's)
  };

  // Queues the state; true when the writer was idle (to be woken).
  bool enqueue(const std::string& id, Op op);
  void write_loop();
  // `db`: the database the link has selected (-1: unknown), kept current.
  // Both close the link on an I/O error and put the states back.
  void send_batch(RedisLink& link, Batch& batch, int& db, Sent& sent);
  void collect(RedisLink& link, Sent& sent, int& db);
  // The link broke: logged, counted, the batch's states back into the backlog.
  void write_failed(const RedisLink& link, Sent& sent, int& db, const std::string& why);
  // States whose write failed, back into the backlog, unless a newer
  // state of the same call came meanwhile.
  void requeue(Batch& ops);
  // Spare buffers for flush()'s encodes: the states' strings, once written.
  std::string spare_buffer();
  void follow_loop();
  std::string follow_connect(RedisLink& sub, RedisLink& get);
  void post_news(std::vector<News> news);
  size_t restore_from(RedisLink& link, int db, CallManager::Clock now);
  bool interfaces_bindable_changed();

  StoreConfig config_;
  CallManager& calls_;
  StoreCounters counters_;
  std::unordered_set<std::string> dirty_;
  std::unordered_map<std::string, int> owner_db_;  // calls taken over from a followed db
  std::unordered_map<std::string, Followed> followed_;
  std::vector<bool> bindable_;  // per interface, at the last look
  std::vector<IpAddr> interfaces_;  // their addresses, saved with each call

  // Writer.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Op> pending_;
  size_t pending_values_ = 0;
  std::vector<std::string> spares_;        // written states' buffers, back from the writer
  std::vector<std::string> spares_taken_;  // the control thread's, taken from spares_ a slice at a time
  bool stopping_ = false;
  std::atomic<bool> asleep_{false};  // the writer waits to be woken (idle), not polling
  std::atomic<bool> overflowed_{false}, resync_{false};
  std::thread writer_;

  // Follower.
  std::thread follower_;
  std::atomic<bool> follow_stop_{false};
  std::mutex news_mu_;
  std::vector<News> news_;
  int news_fd_ = -1;
  int address_fd_ = -1;
};

}  // namespace vox::control::ha
