// voxctl: the operator's command line client for any NG speaker (voxrelay or
// rtpengine): ping, list, query, delete, statistics, and voxrelay's drain.
// Prints the reply as an indented tree, or as one JSON line with --json.
// Exit status: 0 on result ok/pong, 1 on an error reply or no reply, 2 on bad usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "control/ng_client.h"
#include "control/ng_json.h"

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
