// One run's figures and their output as the CSV row / JSON object whose columns are the
// contract of docs/results.md#runscsv (add at the end, rename none).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Histogram.h"
#include "HostileClients.h"
#include "IntegrityChecker.h"

namespace mux {

// A process using this much of one CPU over the window is taken to be the bottleneck. Not 100: a
// saturated single-threaded event loop still sleeps for a moment whenever its batch runs dry,
// and /proc/PID/stat counts 10 ms ticks, so the process that limits a run reads a few % short.
constexpr double kSaturatedCpuPct = 90;

struct RunResult {
  std::string mechanism;  // from the server's /stats; "floor" for --mode floor
  std::string mode;
  std::uint64_t idle = 0;
  std::optional<std::uint64_t> idle_open;  // empty with --idle-held (the holder knows)
  std::uint64_t refused = 0;
  std::uint64_t active = 0;
  std::uint64_t size = 0;
  double rate = 0;
  double warmup_s = 0;
  double duration_s = 0;   // requested window
  double measured_s = 0;   // actual window (shorter when the server died)
  bool measured = false;   // a window began: otherwise the figure columns stay empty
  std::uint64_t msgs = 0;  // deliveries received in the window
  Histogram latency;       // ns
  IntegrityCounts integrity;
  std::optional<double> server_cpu_us;  // over the window
  std::optional<double> loadgen_cpu_pct;
  std::string status = "ok";
  std::optional<std::int64_t> server_wait_calls, server_events, server_fds_passed, server_ctl_calls;
  // Every system call the server made in the window (its /stats "syscalls") and the io_uring
  // requests (SQEs) that travelled in them.
  std::optional<std::int64_t> server_syscalls, server_sqes;
  std::string label;
  std::optional<double> idle_open_s;           // time to establish the idle connections
  std::optional<double> conns_per_s;           // churn only
  std::uint64_t churn_conns = 0;               // churn: connections completed in the window
  std::optional<std::uint64_t> window_chosen;  // flood: --window N, or what --window auto chose
  // The idle connections this run held: source addresses bound (0: the kernel's choice) and
  // destination addresses; empty with --idle-held or no idle connections.
  std::optional<std::uint64_t> idle_sources, idle_destinations;
  // --hostile K: the misbehaving clients beside the measured ones (HostileClients.h); their
  // counters stay empty without them.
  std::uint64_t hostile = 0;
  std::string hostile_kinds;
  HostileCounts hostile_counts;
  // broadcast, rate: how late the loadgen sent a message of the window at most, after its
  // intended time (ArrivalSchedule.h); its latency counts from the intended time regardless.
  std::optional<double> max_send_lag_us;

  double throughput() const;
  std::optional<double> server_cpu_pct() const;
  std::optional<double> server_cpu_us_per_msg() const;
  // System calls per message delivered (the denominator of server_cpu_us_per_msg).
  std::optional<double> server_syscalls_per_msg() const;
  // "server" or "loadgen" (whichever is saturated, the server first), "latency" when neither
  // is, "" when neither CPU figure is known.
  std::string bound_by() const;
  // Messages (churn: connections) per second the server could handle at 100 % of one CPU, at
  // this run's cost per message; empty when that cost is unknown.
  std::optional<double> server_capacity_msgs_s() const;
};

// The column names, in order.
const std::vector<std::string>& result_columns();
std::string csv_header();
std::string csv_row(const RunResult& r);
// The row as one JSON object on one line: the same columns in the same order, empty cells null.
std::string json_object(const RunResult& r);
// A figure as the row prints it: at most three decimals, trailing zeros dropped.
std::string csv_number(double v);
// The human summary for stderr (several lines).
std::string human_summary(const RunResult& r);

}  // namespace mux
