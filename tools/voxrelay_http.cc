// The /metrics endpoint (voxrelay_http.h).
#include "voxrelay_http.h"

#include <httplib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

namespace vox::tools {

namespace {

constexpr auto kRenderTimeout = std::chrono::seconds(2);  // a control loop that long stuck: 503
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

MetricsEndpoint::MetricsEndpoint(std::function<std::string()> render)
    : render_(std::move(render)), event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

MetricsEndpoint::~MetricsEndpoint() {
  {
    std::lock_guard lock(mu_);  // the control loop has stopped: no scrape waits for it
    stopping_ = true;
  }
  answered_.notify_all();
  for (auto& s : servers_) s->stop();
  for (auto& t : threads_) t.join();
  if (event_fd_ >= 0) close(event_fd_);
}

std::string MetricsEndpoint::listen(const std::vector<Endpoint>& at) {
  for (const Endpoint& e : at) {
    auto server = std::make_unique<httplib::Server>();
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::string text = fresh_text();
      if (text.empty()) {
        res.status = 503;
        res.set_content("voxrelay: the control thread did not answer in time\n", "text/plain");
        return;
      }
      res.set_content(std::move(text), kContentType);
    });
    if (!server->bind_to_port(e.addr.to_string(), e.port))
      return "--listen-http=" + e.to_string() + ": cannot bind";
    httplib::Server* s = server.get();
    servers_.push_back(std::move(server));
    threads_.emplace_back([s] { s->listen_after_bind(); });
  }
  return "";
}

std::string MetricsEndpoint::fresh_text() {
  std::unique_lock lock(mu_);
  const uint64_t mine = ++asked_;
  const uint64_t one = 1;
  if (stopping_ || write(event_fd_, &one, sizeof one) < 0) return "";
  answered_.wait_for(lock, kRenderTimeout, [&] { return served_ >= mine || stopping_; });
  return served_ >= mine ? text_ : std::string();
}

void MetricsEndpoint::serve_pending() {
  uint64_t n;
  if (read(event_fd_, &n, sizeof n) < 0) return;
  uint64_t upto;
  {
    std::lock_guard lock(mu_);
    upto = asked_;
  }
  std::string text = render_();  // outside the lock: scrapes keep asking meanwhile
  {
    std::lock_guard lock(mu_);
    text_ = std::move(text);
    served_ = std::max(served_, upto);
  }
  answered_.notify_all();
}

}  // namespace vox::tools
