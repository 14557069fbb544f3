// `voxctl top`'s model (tools/voxctl_top.h): NG replies in, figures and
// lines of text out. Keys are read with NgValue's spelling rules; against
// rtpengine the view shows its calls and relayed packets, "-" for the rest.
#include "voxctl_top.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <tuple>

namespace voxctl {

namespace {

// An integer value, or a decimal string (some speakers send numbers as strings).
std::optional<int64_t> int_at(const NgValue* dict, std::string_view key) {
  const NgValue* v = dict ? dict->find(key) : nullptr;
  if (!v) return std::nullopt;
  if (v->is_integer()) return v->as_integer();
  if (!v->is_string() || v->as_string().empty()) return std::nullopt;
  char* end = nullptr;
  const long long n = std::strtoll(v->as_string().c_str(), &end, 10);
  if (*end != '\0') return std::nullopt;
  return int64_t(n);
}

uint64_t counter_at(const NgValue* dict, std::string_view key) {
  return uint64_t(std::max<int64_t>(int_at(dict, key).value_or(0), 0));
}

std::optional<uint64_t> optional_counter_at(const NgValue* dict, std::string_view key) {
  if (auto v = int_at(dict, key)) return uint64_t(std::max<int64_t>(*v, 0));
  return std::nullopt;
}

const NgValue* dict_at(const NgValue* dict, std::string_view key) {
  const NgValue* v = dict ? dict->find(key) : nullptr;
  return v && v->is_dict() ? v : nullptr;
}

const NgValue::List* list_at(const NgValue* dict, std::string_view key) {
  const NgValue* v = dict ? dict->find(key) : nullptr;
  return v && v->is_list() ? &v->as_list() : nullptr;
}

bool is_ok(const NgValue& reply) {
  return reply.find_string("result").value_or("") == "ok";
}

// "Unknown call-id", or the result itself ("load limit") when no reason came.
std::string reason_of(const NgValue& reply) {
  if (auto r = reply.find_string("error-reason")) return std::string(*r);
  return std::string(reply.find_string("result").value_or("no result"));
}

NgValue request(const char* command) {
  NgValue r = NgValue::dict();
  r.set("command", command);
  return r;
}

// One stream's quality, as the table shows it.
struct StreamFigures {
  std::optional<int64_t> mos10;
  std::optional<double> loss_percent;
  std::optional<double> jitter_ms;
};

StreamFigures figures_of(const NgValue& quality) {
  StreamFigures f;
  f.mos10 = int_at(&quality, "MOS");
  // RFC 3550 A.3: "lost" goes negative with duplicates; that is no loss.
  const int64_t lost = std::max<int64_t>(int_at(&quality, "lost").value_or(0), 0);
  const int64_t received = std::max<int64_t>(int_at(&quality, "received").value_or(0), 0);
  if (lost + received > 0) f.loss_percent = 100.0 * double(lost) / double(lost + received);
  if (auto j = int_at(&quality, "jitter us")) f.jitter_ms = double(*j) / 1000.0;
  return f;
}

// Worse first: a MOS before none, lower MOS, then more loss.
auto badness(const std::optional<int64_t>& mos10, const std::optional<double>& loss) {
  return std::make_tuple(mos10 ? 0 : 1, mos10.value_or(0), -loss.value_or(-1));
}

std::string clock_of(int64_t unix_s) {
  const time_t t = time_t(unix_s);
  tm local{};
  char buf[16] = "--:--:--";
  if (localtime_r(&t, &local)) std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  return buf;
}

std::string fixed1(std::optional<double> v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", *v);
  return buf;
}

std::string fit(std::string s, size_t width) {
  if (width > 0 && s.size() > width) s.resize(width);
  return s;
}

// A call-id cut to width, its cut marked with '~'. Control bytes become
// '?': a call-id comes off the wire and must not drive the terminal.
std::string cell_id(std::string id, size_t width) {
  for (char& c : id)
    if ((unsigned char)c < 0x20 || c == 0x7f) c = '?';
  if (id.size() <= width) return id;
  return id.substr(0, width - 1) + "~";
}

constexpr size_t kIdMin = 12, kIdMax = 48;
// " AGE(7) MOS(5) LOSS%(6) JITTER ms(9) PACKETS(10)" after the call-id.
constexpr size_t kOtherColumns = 43;

std::string table_line(const char* id, size_t id_width, const char* age, const char* mos,
                       const char* loss, const char* jitter, const char* packets) {
  std::string line = id;
  line.resize(std::max(line.size(), id_width), ' ');
  char rest[128];
  std::snprintf(rest, sizeof rest, " %7s %5s %6s %9s %10s", age, mos, loss, jitter, packets);
  return line + rest;
}

std::string header_calls(const TopView& v) {
  if (!v.poll.counters) return "calls: -";
  const RelayCounters& c = *v.poll.counters;
  char buf[192];
  const std::string free = c.free_port_pairs ? std::to_string(*c.free_port_pairs) : "-";
  std::snprintf(buf, sizeof buf, "calls: %lld own, %lld total   free port pairs: %s   draining: %s",
                static_cast<long long>(c.sessions_own), static_cast<long long>(c.sessions_total),
                free.c_str(), c.draining ? "yes" : "no");
  return buf;
}

std::string header_packets(const TopView& v) {
  if (!v.rates) return "packets/s: received -, relayed -";
  auto cell = [](std::optional<double> r) { return r ? format_rate(*r) : std::string("-"); };
  return "packets/s: received " + cell(v.rates->received) + ", relayed " + cell(v.rates->relayed);
}

std::string header_drops(const TopView& v) {
  if (!v.rates) return "drops/s: -";
  if (v.rates->drops.empty()) return "drops/s: none";
  std::string s = "drops/s:";
  for (const auto& [reason, rate] : v.rates->drops)
    s += " " + reason + " " + format_rate(rate) + ",";
  s.pop_back();
  return s;
}

std::string header_workers(const TopView& v) {
  std::string s = "rx packets/s per worker:";
  if (!v.rates || v.rates->worker_rx.empty()) return s + " -";
  for (size_t w = 0; w < v.rates->worker_rx.size(); ++w)
    s += " #" + std::to_string(w) + " " + format_rate(v.rates->worker_rx[w]);
  return s;
}

std::string footer(const TopView& v, size_t shown, bool interactive) {
  const Poll& p = v.poll;
  std::string s = std::to_string(p.listed) + (p.listed == 1 ? " call listed" : " calls listed");
  if (p.more_calls)
    s += ", more on the relay: the first " + std::to_string(kMaxTopCalls) + " queried";
  if (shown < p.calls.size()) s += ", " + std::to_string(p.calls.size() - shown) + " not shown";
  if (interactive) s += "   q quits";
  return s;
}

}  // namespace

std::optional<RelayCounters> parse_statistics(const NgValue& reply) {
  const NgValue* st = dict_at(&reply, "statistics");
  if (!is_ok(reply) || !st) return std::nullopt;
  RelayCounters c;
  const NgValue* cur = dict_at(st, "currentstatistics");
  c.sessions_own = int_at(cur, "sessionsown").value_or(0);
  c.sessions_total = int_at(cur, "sessionstotal").value_or(0);
  c.free_port_pairs = int_at(cur, "free port pairs");
  const NgValue* draining = cur ? cur->find("draining") : nullptr;
  c.draining = draining && ((draining->is_string() && draining->as_string() == "yes") ||
                            (draining->is_integer() && draining->as_integer() != 0));
  const NgValue* tot = dict_at(st, "totalstatistics");
  c.packets_received = optional_counter_at(tot, "packets received");
  c.packets_relayed = optional_counter_at(tot, "packets relayed");
  if (!c.packets_relayed) c.packets_relayed = optional_counter_at(tot, "relayedpackets");
  if (const NgValue* drops = dict_at(tot, "drops"))
    for (const auto& [reason, count] : drops->as_dict())
      if (count.is_integer())
        c.drops.emplace_back(reason, uint64_t(std::max<int64_t>(count.as_integer(), 0)));
  if (const NgValue::List* workers = list_at(st, "workers"))
    for (const NgValue& w : *workers) c.worker_rx.push_back(counter_at(&w, "rx packets"));
  return c;
}

std::optional<CallRow> parse_call(std::string call_id, const NgValue& reply) {
  if (!is_ok(reply)) return std::nullopt;
  CallRow row;
  row.call_id = std::move(call_id);
  row.created = int_at(&reply, "created").value_or(0);
  row.packets = int_at(dict_at(dict_at(&reply, "totals"), "RTP"), "packets").value_or(0);
  std::optional<StreamFigures> worst;
  if (const NgValue* tags = dict_at(&reply, "tags"))
    for (const auto& [tag, party] : tags->as_dict())
      if (const NgValue::List* medias = list_at(&party, "medias"))
        for (const NgValue& media : *medias)
          if (const NgValue::List* streams = list_at(&media, "streams"))
            for (const NgValue& stream : *streams)
              if (const NgValue* quality = dict_at(&stream, "quality")) {
                const StreamFigures f = figures_of(*quality);
                if (!worst ||
                    badness(f.mos10, f.loss_percent) < badness(worst->mos10, worst->loss_percent))
                  worst = f;
              }
  if (worst) {
    row.mos10 = worst->mos10;
    row.loss_percent = worst->loss_percent;
    row.jitter_ms = worst->jitter_ms;
  }
  return row;
}

Poll poll_relay(const NgExchange& ng) {
  Poll p;
  auto stats = ng(request("statistics"));
  if (!stats.ok()) {
    p.error = "statistics: " + stats.error();
    return p;
  }
  p.counters = parse_statistics(*stats);
  if (!p.counters) p.error = "statistics: " + reason_of(*stats);

  NgValue list = request("list");
  list.set("limit", int64_t(kMaxTopCalls));
  auto listed = ng(list);
  if (!listed.ok() || !is_ok(*listed)) {
    p.error = "list: " + (listed.ok() ? reason_of(*listed) : listed.error());
    return p;
  }
  std::vector<std::string> ids;
  if (const NgValue::List* calls = list_at(&*listed, "calls"))
    for (const NgValue& id : *calls)
      if (id.is_string()) ids.push_back(id.as_string());
  p.listed = ids.size();
  p.more_calls =
      ids.size() >= kMaxTopCalls && p.counters &&
      std::max(p.counters->sessions_own, p.counters->sessions_total) > int64_t(kMaxTopCalls);
  if (ids.size() > kMaxTopCalls) ids.resize(kMaxTopCalls);

  for (std::string& id : ids) {
    NgValue query = request("query");
    query.set("call-id", id);
    auto reply = ng(query);
    if (!reply.ok()) {
      p.error = "query: " + reply.error();
      break;
    }
    if (auto row = parse_call(std::move(id), *reply)) p.calls.push_back(std::move(*row));
  }
  return p;
}

std::optional<Rates> compute_rates(const RelayCounters& before, const RelayCounters& now,
                                   double elapsed_s) {
  if (!(elapsed_s > 0)) return std::nullopt;
  auto rate = [elapsed_s](uint64_t a, uint64_t b) {
    return b >= a ? double(b - a) / elapsed_s : 0.0;
  };
  Rates r;
  auto optional_rate = [&rate](std::optional<uint64_t> a, std::optional<uint64_t> b) {
    return a && b ? std::optional<double>(rate(*a, *b)) : std::nullopt;
  };
  r.received = optional_rate(before.packets_received, now.packets_received);
  r.relayed = optional_rate(before.packets_relayed, now.packets_relayed);
  for (const auto& drop : now.drops) {  // (clang 14 cannot capture a structured binding)
    auto was = std::find_if(before.drops.begin(), before.drops.end(),
                            [&drop](const auto& d) { return d.first == drop.first; });
    const double per_s = was == before.drops.end() ? 0.0 : rate(was->second, drop.second);
    if (per_s > 0) r.drops.emplace_back(drop.first, per_s);
  }
  for (size_t w = 0; w < now.worker_rx.size(); ++w)
    r.worker_rx.push_back(w < before.worker_rx.size() ? rate(before.worker_rx[w], now.worker_rx[w])
                                                      : 0.0);
  return r;
}

void sort_worst_first(std::vector<CallRow>& calls) {
  std::stable_sort(calls.begin(), calls.end(), [](const CallRow& a, const CallRow& b) {
    return std::tuple_cat(badness(a.mos10, a.loss_percent), std::tie(a.call_id)) <
           std::tuple_cat(badness(b.mos10, b.loss_percent), std::tie(b.call_id));
  });
}

std::string format_mos(std::optional<int64_t> mos10) {
  if (!mos10) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%lld", static_cast<long long>(*mos10 / 10),
                static_cast<long long>(*mos10 % 10));
  return buf;
}

std::string format_age(int64_t seconds) {
  const long long s = std::max<int64_t>(seconds, 0);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  return buf;
}

std::string format_rate(double per_second) {
  char buf[32];
  if (per_second <= 0)
    return "0";
  else if (per_second < 100)
    std::snprintf(buf, sizeof buf, "%.1f", per_second);
  else if (per_second < 10000)
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  else if (per_second < 1e6)
    std::snprintf(buf, sizeof buf, "%.1fk", per_second / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2fM", per_second / 1e6);
  return buf;
}

Frame render_frame(const TopView& v, int width, int height) {
  const size_t w = size_t(std::max(width, 0));
  Frame f;
  char interval[32];
  std::snprintf(interval, sizeof interval, "%g", v.interval_s);
  f.lines.push_back("voxctl top   " + v.relay + "   " + clock_of(v.now_unix) + "   every " +
                    interval + " s");
  f.lines.push_back(header_calls(v));
  f.lines.push_back(header_packets(v) + "   " + header_drops(v));
  f.lines.push_back(header_workers(v));
  f.lines.push_back(v.poll.error.empty() ? "" : "error: " + v.poll.error);

  size_t id_width = kIdMin;
  for (const CallRow& c : v.poll.calls) id_width = std::max(id_width, c.call_id.size());
  if (w > 0)
    id_width = std::clamp(w > kOtherColumns + kIdMin ? w - kOtherColumns : kIdMin, kIdMin, kIdMax);
  f.table_title = f.lines.size();
  f.lines.push_back(table_line("CALL-ID", id_width, "AGE", "MOS", "LOSS%", "JITTER ms", "PACKETS"));

  size_t rows = v.poll.calls.size();
  if (height > 0)
    rows =
        std::min(rows, size_t(std::max<int64_t>(int64_t(height) - int64_t(f.lines.size()) - 1, 0)));
  for (size_t i = 0; i < rows; ++i) {
    const CallRow& c = v.poll.calls[i];
    f.lines.push_back(table_line(cell_id(c.call_id, id_width).c_str(), id_width,
                                 format_age(v.now_unix - c.created).c_str(),
                                 format_mos(c.mos10).c_str(), fixed1(c.loss_percent).c_str(),
                                 fixed1(c.jitter_ms).c_str(), std::to_string(c.packets).c_str()));
  }
  f.lines.push_back(footer(v, rows, height > 0));
  for (std::string& line : f.lines) line = fit(std::move(line), w);
  return f;
}

}  // namespace voxctl
