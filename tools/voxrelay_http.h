// --listen-http: the relay's HTTP interface. cpp-httplib's threads serve
// it; what a request needs of the relay runs on the control thread (the
// only one that touches the call table): the request queues a job, the
// control loop polls an eventfd and runs the jobs, and the request waits
// for its answer (503 after 2 s). The packet path takes no lock for it.
//   GET /metrics      Prometheus text format (control/metrics.h)
//   POST /drain       start draining (as `voxctl drain`); DELETE /drain stops;
//                     only for clients may_control() admits, else 403
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/endpoint.h"

namespace httplib {
class Server;
}

namespace vox::tools {

struct HttpHandlers {
  std::function<std::string()> metrics;       // the /metrics text
  std::function<std::string(bool)> drain;     // drain on/off; the reply body (JSON)
  // Whether a client may change the relay (/drain): any thread.
  std::function<bool(const std::string& address)> may_control;
};

class HttpEndpoint {
 public:
  // The handlers run on the control thread, in serve_pending().
  explicit HttpEndpoint(HttpHandlers handlers);
  ~HttpEndpoint();  // stops the HTTP threads
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Binds each address and starts serving; the error ("" when none).
  std::string listen(const std::vector<Endpoint>& at);
  // The control loop polls it; serve_pending() when readable.
  int event_fd() const { return event_fd_; }
  void serve_pending();

 private:
  // An HTTP thread: `job`'s answer, run on the control thread (nullopt if
  // it did not run within the timeout, or the daemon is stopping).
  std::optional<std::string> on_control_thread(std::function<std::string()> job);

  HttpHandlers handlers_;
  int event_fd_ = -1;
  std::mutex mu_;
  std::condition_variable answered_;
  std::deque<std::pair<uint64_t, std::function<std::string()>>> jobs_;
  std::map<uint64_t, std::string> answers_;  // by job id, until its request takes it
  std::set<uint64_t> waiting_;               // ids whose requests still wait
  uint64_t next_id_ = 1;
  bool stopping_ = false;  // the daemon is stopping: requests get 503
  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
};

}  // namespace vox::tools
