#include "RunResult.h"

#include <charconv>
#include <variant>

#include <fmt/format.h>

#include "Json.h"

namespace mux {

namespace {

using Cell = std::variant<std::monostate, std::int64_t, double, std::string>;

template <typename T>
Cell opt(const std::optional<T>& v) {
  if (!v) return std::monostate{};
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<double>(*v);
  } else {
    return static_cast<std::int64_t>(*v);
  }
}

Cell i(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

std::vector<std::pair<std::string, Cell>> cells(const RunResult& r) {
  const bool have = r.latency.count() > 0;
  auto hostile = [&](std::uint64_t n) -> Cell { return r.hostile > 0 ? i(n) : Cell(); };
  auto us = [&](std::uint64_t ns) -> Cell {
    if (!have) return std::monostate{};
    return static_cast<double>(ns) / 1000.0;
  };
  return {
      {"mechanism", r.mechanism},
      {"mode", r.mode},
      {"idle", i(r.idle)},
      {"idle_open", opt(r.idle_open)},
      {"refused", i(r.refused)},
      {"active", i(r.active)},
      {"size", i(r.size)},
      {"rate", r.rate},
      {"warmup_s", r.warmup_s},
      {"duration_s", r.duration_s},
      {"msgs", r.measured ? i(r.msgs) : Cell()},
      {"throughput_msgs_s", r.measured ? Cell(r.throughput()) : Cell()},
      {"p50_us", us(r.latency.percentile(0.50))},
      {"p90_us", us(r.latency.percentile(0.90))},
      {"p99_us", us(r.latency.percentile(0.99))},
      {"p999_us", us(r.latency.percentile(0.999))},
      {"max_us", us(r.latency.max())},
      {"mean_us", have ? Cell(r.latency.mean() / 1000.0) : Cell(std::monostate{})},
      {"lost", i(r.integrity.lost)},
      {"duplicated", i(r.integrity.duplicated)},
      {"reordered", i(r.integrity.reordered)},
      {"corrupted", i(r.integrity.corrupted)},
      {"server_cpu_us_per_msg", opt(r.server_cpu_us_per_msg())},
      {"loadgen_cpu_pct", opt(r.loadgen_cpu_pct)},
      {"status", r.status},
      {"server_wait_calls", opt(r.server_wait_calls)},
      {"server_events", opt(r.server_events)},
      {"server_fds_passed", opt(r.server_fds_passed)},
      {"server_ctl_calls", opt(r.server_ctl_calls)},
      {"server_cpu_us", opt(r.server_cpu_us)},
      {"label", r.label},
      {"server_cpu_pct", opt(r.server_cpu_pct())},
      {"idle_open_s", opt(r.idle_open_s)},
      {"conns_per_s", opt(r.conns_per_s)},
      {"bound_by", r.bound_by()},
      {"server_capacity_msgs_s", opt(r.server_capacity_msgs_s())},
      {"window_chosen", opt(r.window_chosen)},
      {"server_syscalls", opt(r.server_syscalls)},
      {"server_sqes", opt(r.server_sqes)},
      {"server_syscalls_per_msg", opt(r.server_syscalls_per_msg())},
      {"idle_sources", opt(r.idle_sources)},
      {"idle_destinations", opt(r.idle_destinations)},
      {"hostile", i(r.hostile)},
      {"hostile_kinds", r.hostile_kinds},
      {"hostile_connects", hostile(r.hostile_counts.connects)},
      {"hostile_refused", hostile(r.hostile_counts.refused)},
      {"hostile_dropped", hostile(r.hostile_counts.dropped)},
      {"hostile_errors", hostile(r.hostile_counts.errors)},
      {"max_send_lag_us", opt(r.max_send_lag_us)},
  };
}

std::string number(double v) {
  // Three decimals is below every figure's resolution (µs latencies, ticks of CPU) without
  // printing float noise.
  std::string s = fmt::format("{:.3f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string csv_cell(const Cell& c) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (auto* v = std::get_if<std::int64_t>(&c)) return fmt::format("{}", *v);
  if (auto* v = std::get_if<double>(&c)) return number(*v);
  const auto& s = std::get<std::string>(c);
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + "\"";
}

// The CSV row's figure (three decimals) read back, so that both rows agree digit for digit. A
// whole figure stays an integer ("duration_s":1, as the row has always printed it); NaN and
// infinities become null.
Json json_figure(double v) {
  const std::string text = number(v);
  const char* end = text.data() + text.size();
  std::int64_t whole = 0;
  if (const auto [p, ec] = std::from_chars(text.data(), end, whole); ec == std::errc() && p == end)
    return whole;
  double figure = 0;
  std::from_chars(text.data(), end, figure);
  return figure;
}

Json json_cell(const Cell& c) {
  if (std::holds_alternative<std::monostate>(c)) return nullptr;
  if (auto* v = std::get_if<std::int64_t>(&c)) return *v;
  if (auto* v = std::get_if<double>(&c)) return json_figure(*v);
  return std::get<std::string>(c);
}

}  // namespace

std::string csv_number(double v) {
  return number(v);
}

double RunResult::throughput() const {
  if (mode == "churn") return conns_per_s.value_or(0.0);
  return measured_s > 0 ? static_cast<double>(msgs) / measured_s : 0.0;
}

std::optional<double> RunResult::server_cpu_pct() const {
  if (!server_cpu_us || measured_s <= 0) return std::nullopt;
  return *server_cpu_us / (measured_s * 1e6) * 100.0;
}

std::optional<double> RunResult::server_cpu_us_per_msg() const {
  const std::uint64_t n = mode == "churn" ? churn_conns : msgs;
  if (!server_cpu_us || n == 0) return std::nullopt;
  return *server_cpu_us / static_cast<double>(n);
}

std::optional<double> RunResult::server_syscalls_per_msg() const {
  const std::uint64_t n = mode == "churn" ? churn_conns : msgs;
  if (!server_syscalls || n == 0) return std::nullopt;
  return static_cast<double>(*server_syscalls) / static_cast<double>(n);
}

std::string RunResult::bound_by() const {
  const auto srv = server_cpu_pct();
  if (!srv && !loadgen_cpu_pct) return "";
  if (srv && *srv >= kSaturatedCpuPct) return "server";
  if (loadgen_cpu_pct && *loadgen_cpu_pct >= kSaturatedCpuPct) return "loadgen";
  return "latency";
}

std::optional<double> RunResult::server_capacity_msgs_s() const {
  const auto per_msg = server_cpu_us_per_msg();
  if (!per_msg || *per_msg <= 0) return std::nullopt;
  return 1e6 / *per_msg;
}

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& [k, c] : cells(RunResult{})) v.push_back(k);
    return v;
  }();
  return names;
}

std::string csv_header() {
  std::string s;
  for (const auto& k : result_columns()) s += (s.empty() ? "" : ",") + k;
  return s;
}

std::string csv_row(const RunResult& r) {
  std::string s;
  bool first = true;
  for (const auto& [k, c] : cells(r)) {
    if (!first) s += ',';
    first = false;
    s += csv_cell(c);
  }
  return s;
}

std::string json_object(const RunResult& r) {
  Json row = Json::object();
  for (const auto& [k, c] : cells(r)) row[k] = json_cell(c);
  return json_line(row);
}

std::string human_summary(const RunResult& r) {
  std::string s = fmt::format("loadgen: {} {} idle={} active={} size={}", r.mechanism, r.mode,
                              r.idle, r.active, r.size);
  if (r.rate > 0) s += fmt::format(" rate={}/s", number(r.rate));
  s += fmt::format(" window={} s: status {}\n", number(r.measured_s), r.status);
  if (r.mode == "churn") {
    s += fmt::format("  {} connections, {} conn/s\n", r.churn_conns,
                     number(r.conns_per_s.value_or(0)));
  } else {
    s += fmt::format("  {} messages delivered, {} msg/s\n", r.msgs, number(r.throughput()));
  }
  if (r.latency.count() > 0) {
    const auto& h = r.latency;
    s += fmt::format("  latency us: p50 {} p90 {} p99 {} p99.9 {} max {} mean {}\n",
                     number(h.percentile(0.5) / 1e3), number(h.percentile(0.9) / 1e3),
                     number(h.percentile(0.99) / 1e3), number(h.percentile(0.999) / 1e3),
                     number(h.max() / 1e3), number(h.mean() / 1e3));
  }
  s += fmt::format("  integrity: lost {} duplicated {} reordered {} corrupted {}{}\n",
                   r.integrity.lost, r.integrity.duplicated, r.integrity.reordered,
                   r.integrity.corrupted,
                   r.integrity.total() ? "   <<< INTEGRITY ERRORS: the server lost or damaged "
                                         "messages >>>"
                                       : "");
  if (r.server_cpu_us) {
    s += fmt::format("  server CPU {} us over the window ({}%), {} us per {}\n",
                     number(*r.server_cpu_us), number(r.server_cpu_pct().value_or(0)),
                     number(r.server_cpu_us_per_msg().value_or(0)),
                     r.mode == "churn" ? "connection" : "message");
  }
  if (r.loadgen_cpu_pct) s += fmt::format("  loadgen CPU {}%\n", number(*r.loadgen_cpu_pct));
  if (const auto b = r.bound_by(); !b.empty()) s += fmt::format("  bound by {}\n", b);
  if (r.window_chosen)
    s += fmt::format("  window {} messages in flight per sender\n", *r.window_chosen);
  if (r.hostile > 0) {
    const auto& h = r.hostile_counts;
    s += fmt::format(
        "  hostile: {} clients ({}): {} connections, {} refused, {} dropped by the server, {} "
        "errors\n",
        r.hostile, r.hostile_kinds, h.connects, h.refused, h.dropped, h.errors);
  }
  if (r.idle > 0) {
    s += fmt::format(
        "  idle: {} requested, {} still open, {} refused", r.idle,
        r.idle_open ? fmt::format("{}", *r.idle_open) : std::string("(held elsewhere)"), r.refused);
    if (r.idle_open_s) s += fmt::format(", opened in {} s", number(*r.idle_open_s));
    if (r.idle_sources && r.idle_destinations) {
      s += fmt::format(" from {} source address(es) to {} destination(s)", *r.idle_sources,
                       *r.idle_destinations);
    }
    s += "\n";
  }
  return s;
}

}  // namespace mux
