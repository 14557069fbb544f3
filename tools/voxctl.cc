// voxctl: the operator's command line client for any NG speaker (voxrelay or
// rtpengine): ping, list, query, delete, statistics, and voxrelay's drain
// and takeover.
// Prints the reply as an indented tree, or as one JSON line with --json.
// `top` refreshes a live view in the terminal (ncurses; its model and text
// are voxctl_top.h's). Exit status: 0 on result ok/pong, 1 on an error reply
// or no reply, 2 on bad usage.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>
#include <CLI/CLI.hpp>

#include "control/ng_client.h"
#include "control/ng_json.h"
#include "voxctl_top.h"

// Last: ncurses defines function-like macros (erase, refresh, timeout).
#include <curses.h>

namespace {

using vox::control::NgValue;

void print_indent(int depth) {
  for (int i = 0; i < depth; ++i) std::fputs("  ", stdout);
}

bool is_scalar(const NgValue& v) {
  return v.is_integer() || (v.is_string() && v.as_string().find('\n') == std::string::npos);
}

void print_scalar(const NgValue& v) {
  if (v.is_integer())
    std::printf("%lld\n", static_cast<long long>(v.as_integer()));
  else
    std::printf("%s\n", v.as_string().c_str());
}

// Multi-line strings (an SDP) are printed as an indented block, CRs dropped.
void print_block(const std::string& s, int depth) {
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    print_indent(depth);
    std::printf("%s\n", line.c_str());
    start = end + 1;
  }
}

void print_value(const NgValue& v, int depth);

void print_entry(const std::string& prefix, const NgValue& v, int depth) {
  print_indent(depth);
  std::fputs(prefix.c_str(), stdout);
  if (is_scalar(v)) {
    std::fputc(' ', stdout);
    print_scalar(v);
  } else if ((v.is_list() && v.as_list().empty()) || (v.is_dict() && v.as_dict().empty())) {
    std::puts(v.is_list() ? " []" : " {}");
  } else {
    std::fputc('\n', stdout);
    if (v.is_string())
      print_block(v.as_string(), depth + 1);
    else
      print_value(v, depth + 1);
  }
}

void print_value(const NgValue& v, int depth) {
  if (v.is_dict()) {
    for (const auto& [key, child] : v.as_dict()) print_entry(key + ":", child, depth);
  } else if (v.is_list()) {
    for (const auto& child : v.as_list()) print_entry("-", child, depth);
  } else if (v.is_string() && !is_scalar(v)) {
    print_block(v.as_string(), depth);
  } else {
    print_indent(depth);
    print_scalar(v);
  }
}

// --- top ---

double monotonic_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Polls the relay and keeps the counters of the previous poll for the rates.
class TopSampler {
 public:
  TopSampler(vox::control::NgClient& client, int timeout_ms, int retries, double interval_s)
      : client_(client), timeout_ms_(timeout_ms), retries_(retries), interval_s_(interval_s) {}

  voxctl::TopView next() {
    voxctl::TopView v;
    v.relay = client_.server().to_string();
    v.interval_s = interval_s_;
    const double t = monotonic_s();  // statistics is the poll's first request
    v.poll = voxctl::poll_relay(
        [this](const NgValue& r) { return client_.call(r, timeout_ms_, retries_); });
    v.now_unix = int64_t(std::time(nullptr));
    if (v.poll.counters && last_)
      v.rates = voxctl::compute_rates(*last_, *v.poll.counters, t - last_t_);
    if (v.poll.counters) {
      last_ = v.poll.counters;
      last_t_ = t;
    }
    voxctl::sort_worst_first(v.poll.calls);
    return v;
  }

 private:
  vox::control::NgClient& client_;
  int timeout_ms_, retries_;
  double interval_s_;
  std::optional<voxctl::RelayCounters> last_;
  double last_t_ = 0;
};

// One plain frame on stdout: two polls an interval apart, for the rates.
int top_once(TopSampler& sampler, double interval_s) {
  voxctl::TopView v = sampler.next();
  if (v.poll.counters) {
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
    v = sampler.next();
  }
  for (const std::string& line : voxctl::render_frame(v, 0, 0).lines)
    std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return v.poll.counters ? 0 : 1;
}

void draw(const voxctl::TopView& v) {
  const voxctl::Frame f = voxctl::render_frame(v, COLS, LINES);
  erase();
  for (size_t i = 0; i < f.lines.size() && int(i) < LINES; ++i) {
    const attr_t a = i == 0 ? A_BOLD : i == f.table_title ? A_REVERSE : A_NORMAL;
    attron(a);
    mvaddnstr(int(i), 0, f.lines[i].c_str(), COLS);
    attroff(a);
  }
  refresh();
}

// The live view until q (or iterations refreshes, 0: no end).
int top_screen(TopSampler& sampler, double interval_s, int iterations) {
  std::setlocale(LC_ALL, "");
  SCREEN* screen = newterm(nullptr, stdout, stdin);
  if (!screen) {
    const char* term = std::getenv("TERM");
    std::fprintf(stderr, "voxctl: top: cannot drive terminal '%s': printing one frame\n",
                 term ? term : "");
    return top_once(sampler, interval_s);
  }
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  bool quit = false;
  for (int done = 0; !quit;) {
    const voxctl::TopView v = sampler.next();
    draw(v);
    if (iterations > 0 && ++done >= iterations) break;
    // Keys until the next refresh; a resize redraws at once.
    const double deadline = monotonic_s() + interval_s;
    for (double left; !quit && (left = deadline - monotonic_s()) > 0;) {
      timeout(std::max(1, int(left * 1000)));
      const int key = getch();
      if (key == 'q' || key == 'Q')
        quit = true;
      else if (key == KEY_RESIZE)
        draw(v);
    }
  }
  endwin();
  delscreen(screen);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"voxctl: control a voxrelay (or rtpengine) over the NG protocol"};
  std::string ng = "127.0.0.1:22222";
  bool json = false;
  int timeout_ms = 2000;
  int retries = 2;
  app.add_option("--ng", ng, "NG control address IP:PORT ([IPv6]:PORT)")->capture_default_str();
  app.add_flag("--json", json, "Print the reply as one JSON line");
  app.add_option("--timeout-ms", timeout_ms, "Wait per attempt")->capture_default_str()->check(CLI::Range(1, 60000));
  app.add_option("--retries", retries, "Retransmissions after a timeout")->capture_default_str()->check(CLI::Range(0, 10));
  app.require_subcommand(1);

  app.add_subcommand("ping", "Check that the relay answers");
  app.add_subcommand("list", "List active call-ids");
  app.add_subcommand("statistics", "Global counters");
  std::string call_id;
  std::string from_tag;
  auto* query = app.add_subcommand("query", "Per-call state and counters");
  query->add_option("CALL-ID", call_id, "Call-ID")->required();
  auto* del = app.add_subcommand("delete", "Tear down a call (or one branch with --from-tag)");
  del->add_option("CALL-ID", call_id, "Call-ID")->required();
  del->add_option("--from-tag", from_tag, "Only this party's branch");
  bool drain_off = false;
  auto* drain = app.add_subcommand("drain", "Refuse new calls (\"load limit\") while calls up run to their end");
  drain->add_flag("--off", drain_off, "Stop draining: take new calls again");
  app.add_subcommand("takeover", "A standby (--subscribe-keyspace): bring up the calls it follows now");
  double interval_s = 1;
  int iterations = 0;
  bool once = false;
  auto* top = app.add_subcommand(
      "top", "Live view: calls, packet and drop rates, the worst calls by MOS (q quits)");
  top->add_option("--interval", interval_s, "Seconds between refreshes")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  top->add_option("--iterations", iterations, "Stop after N refreshes (0: until q)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  top->add_flag("--once", once, "Print one plain frame and exit (also when stdout is no terminal)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // CLI11's own codes (100+) would not match the documented contract
  }

  const auto server = vox::Endpoint::parse(ng);
  if (!server) {
    std::fprintf(stderr, "voxctl: bad --ng address '%s' (want IP:PORT or [IPv6]:PORT)\n", ng.c_str());
    return 2;
  }

  const std::string command = app.get_subcommands().front()->get_name();
  if (command == "top") {
    vox::control::NgClient client(*server);
    TopSampler sampler(client, timeout_ms, retries, interval_s);
    if (once || !isatty(STDOUT_FILENO)) return top_once(sampler, interval_s);
    return top_screen(sampler, interval_s, iterations);
  }
  NgValue request = NgValue::dict();
  request.set("command", command);
  if (!call_id.empty()) request.set("call-id", call_id);
  if (!from_tag.empty()) request.set("from-tag", from_tag);
  if (command == "drain") request.set("drain", drain_off ? "off" : "on");

  vox::control::NgClient client(*server);
  auto reply = client.call(request, timeout_ms, retries);
  if (!reply.ok()) {
    std::fprintf(stderr, "voxctl: %s\n", reply.error().c_str());
    return 1;
  }

  if (json)
    std::printf("%s\n", vox::control::encode_json(*reply).c_str());
  else
    print_value(*reply, 0);
  std::fflush(stdout);

  const auto result = reply->find_string("result").value_or("");
  if (result == "ok" || result == "pong") return 0;
  // "error" carries error-reason; "load limit" carries message.
  const auto reason = reply->find_string("error-reason").value_or(reply->find_string("message").value_or(""));
  std::fprintf(stderr, "voxctl: %s: %.*s%s%.*s\n", command.c_str(), int(result.size()), result.data(),
               reason.empty() ? "" : ": ", int(reason.size()), reason.data());
  return 1;
}
