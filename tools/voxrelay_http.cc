// The HTTP interface (voxrelay_http.h).
#include "voxrelay_http.h"

#include <httplib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

namespace vox::tools {

namespace {

constexpr auto kControlTimeout = std::chrono::seconds(2);  // a control loop that long stuck: 503
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

void unavailable(httplib::Response& res) {
  res.status = 503;
  res.set_content("voxrelay: the control thread did not answer in time\n", "text/plain");
}

}  // namespace

HttpEndpoint::HttpEndpoint(HttpHandlers handlers)
    : handlers_(std::move(handlers)), event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

HttpEndpoint::~HttpEndpoint() {
  {
    std::lock_guard lock(mu_);  // the control loop has stopped: no request waits for it
    stopping_ = true;
  }
  answered_.notify_all();
  for (auto& s : servers_) s->stop();
  for (auto& t : threads_) t.join();
  if (event_fd_ >= 0) close(event_fd_);
}

std::string HttpEndpoint::listen(const std::vector<Endpoint>& at) {
  for (const Endpoint& e : at) {
    auto server = std::make_unique<httplib::Server>();
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      auto text = on_control_thread(handlers_.metrics);
      if (!text) return unavailable(res);
      res.set_content(std::move(*text), kMetricsType);
    });
    for (bool on : {true, false}) {
      const auto drain = [this, on](const httplib::Request& req, httplib::Response& res) {
        if (!handlers_.may_control(req.remote_addr)) {
          res.status = 403;
          res.set_content("voxrelay: drain is for the --ng-allow addresses only\n", "text/plain");
          return;
        }
        auto body = on_control_thread([this, on] { return handlers_.drain(on); });
        if (!body) return unavailable(res);
        res.set_content(std::move(*body), "application/json");
      };
      if (on) server->Post("/drain", drain);
      else server->Delete("/drain", drain);
    }
    if (!server->bind_to_port(e.addr.to_string(), e.port))
      return "--listen-http=" + e.to_string() + ": cannot bind";
    httplib::Server* s = server.get();
    servers_.push_back(std::move(server));
    threads_.emplace_back([s] { s->listen_after_bind(); });
  }
  return "";
}

std::optional<std::string> HttpEndpoint::on_control_thread(std::function<std::string()> job) {
  std::unique_lock lock(mu_);
  if (stopping_) return std::nullopt;
  const uint64_t id = next_id_++;
  jobs_.emplace_back(id, std::move(job));
  waiting_.insert(id);
  const uint64_t one = 1;
  if (write(event_fd_, &one, sizeof one) < 0) return std::nullopt;
  answered_.wait_for(lock, kControlTimeout, [&] { return answers_.count(id) || stopping_; });
  waiting_.erase(id);  // from now on the control thread drops an answer to it
  auto it = answers_.find(id);
  if (it == answers_.end()) {
    std::erase_if(jobs_, [&](const auto& j) { return j.first == id; });
    return std::nullopt;
  }
  std::string answer = std::move(it->second);
  answers_.erase(it);
  return answer;
}

void HttpEndpoint::serve_pending() {
  uint64_t n;
  if (read(event_fd_, &n, sizeof n) < 0) return;
  for (;;) {
    std::pair<uint64_t, std::function<std::string()>> job;
    {
      std::lock_guard lock(mu_);
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::string answer = job.second();  // outside the lock: requests keep queueing
    {
      std::lock_guard lock(mu_);
      if (waiting_.count(job.first)) answers_[job.first] = std::move(answer);
    }
  }
  answered_.notify_all();
}

}  // namespace vox::tools
