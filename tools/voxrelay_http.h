// --listen-http: GET /metrics in the Prometheus text format. cpp-httplib's
// threads serve HTTP; the text is rendered on the control thread (the only
// one that reads the call table): a scrape asks through an eventfd the
// control loop polls and waits for the answer. The packet path takes no
// lock for it (workers' counters are relaxed loads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/endpoint.h"

namespace httplib {
class Server;
}

namespace vox::tools {

class MetricsEndpoint {
 public:
  // `render` runs on the control thread, in serve_pending().
  explicit MetricsEndpoint(std::function<std::string()> render);
  ~MetricsEndpoint();  // stops the HTTP threads
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds each address and starts serving; the error ("" when none).
  std::string listen(const std::vector<Endpoint>& at);
  // The control loop polls it; serve_pending() when readable.
  int event_fd() const { return event_fd_; }
  void serve_pending();

 private:
  // An HTTP thread: the metrics text, rendered after this call (empty if
  // the control thread did not answer within the timeout).
  std::string fresh_text();

  std::function<std::string()> render_;
  int event_fd_ = -1;
  std::mutex mu_;
  std::condition_variable answered_;
  uint64_t asked_ = 0, served_ = 0;  // scrapes asked for and rendered, in order
  bool stopping_ = false;            // the daemon is stopping: scrapes get 503
  std::string text_;
  std::vector<std::unique_ptr<httplib::Server>> servers_;
  std::vector<std::thread> threads_;
};

}  // namespace vox::tools
