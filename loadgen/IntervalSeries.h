// The per-interval series (`loadgen --interval S --series-out FILE`): the measuring window cut
// into intervals of S seconds, each with its messages, the p50 and p99 of its own latencies,
// loadgen's CPU and the server's CPU, to show drift inside a window and to follow long runs.
//
// Where each figure comes from, and what taking it costs the measured traffic:
//   - messages and latencies are the row's own counter and histogram, cut at each edge: a copy
//     of the histogram (31 KiB) and a difference, a few µs per interval and nothing per message;
//   - loadgen's CPU: getrusage at each edge (~1 µs);
//   - the server's CPU: its /stats cpu_user_us + cpu_sys_us (getrusage, µs). At the window's two
//     edges these are WindowMeter's readings (the row's). At an edge inside the window the
//     driver only sends "/stats" on the control connection (one 7-byte send) and takes the
//     answer when epoll reports it, so the loop never waits for the server: a server in the
//     middle of a poll() over 19000 descriptors answers milliseconds later, and a blocking ask
//     would stall the measured traffic that long, once per interval. Each reading keeps the time
//     its answer arrived, so the server's CPU % is over the span between two answers (their lag
//     after the edge is in the file). The server pays one more ready descriptor and one
//     formatted line per interval, a few µs per second, counted in its CPU like any /stats.
//   Without a control connection the server's CPU comes from /proc/PID/stat (--server-pid) at
//   each edge, in 10 ms ticks.
//
// Pure bookkeeping: RunDriver feeds it the counters; tests feed it numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Histogram.h"
#include "HistogramJson.h"
#include "system.h"

namespace mux {

class IntervalSeries {
 public:
  // One interval as the file gives it.
  struct Interval {
    std::size_t index = 0;          // 1, 2, ...
    double start_s = 0, end_s = 0;  // since the window opened
    std::uint64_t msgs = 0;         // the row's msgs counted in this interval
    std::uint64_t latencies = 0;    // latency samples in this interval
    std::optional<double> p50_us, p99_us;
    std::optional<double> loadgen_cpu_pct;
    std::optional<double> server_cpu_us, server_cpu_pct;
    std::optional<double> server_lag_us;  // how long after the interval's end its reading came
  };

  // keep_latencies: keep each interval's histogram (31 KiB each) for latency_of (--hlog).
  explicit IntervalSeries(std::uint64_t interval_ns, bool keep_latencies = false)
      : interval_ns_(interval_ns), keep_latencies_(keep_latencies) {}

  // The window opens at now_ns with these counters.
  void open(std::uint64_t now_ns, std::uint64_t count, const Histogram& latency, CpuTimes self);
  bool opened() const { return !edges_.empty(); }
  // When the next edge inside the window is due: the window's start + k intervals (from the
  // start, so lateness never accumulates).
  std::uint64_t next_edge_ns() const;
  // Closes the current interval at now_ns (and starts the next); returns the edge's number
  // (1 = the end of the first interval), by which a later server reading is matched.
  std::size_t cut(std::uint64_t now_ns, std::uint64_t count, const Histogram& latency,
                  CpuTimes self);
  // The server's cumulative CPU (µs) at edge k (0 = the window's start), read at at_ns.
  void server_at(std::size_t edge, double cpu_us, std::uint64_t at_ns);

  std::vector<Interval> intervals() const;
  // Interval `index`'s own latencies (Interval::index: 1, 2, ...), when kept; else nullptr.
  const Histogram* latency_of(std::size_t index) const;
  // The file: a header line, then one line per interval
  // (docs/loadgen.md#per-interval-series---series-out-file).
  std::string csv(const HistogramIdentity& id) const;

 private:
  struct Edge {
    std::uint64_t t_ns = 0;
    std::uint64_t count = 0;
    CpuTimes self;
    std::uint64_t latencies = 0;
    std::optional<std::uint64_t> p50_ns, p99_ns;  // of the interval that ends here
    std::optional<double> server_us;
    std::uint64_t server_at_ns = 0;
  };

  std::uint64_t interval_ns_;
  bool keep_latencies_;
  std::vector<Edge> edges_;
  std::vector<Histogram> latencies_;  // keep_latencies: interval k's at k - 1
  Histogram last_;                    // the row's histogram at the last edge
};

// The series file's header line (no newline).
std::string series_csv_header();

}  // namespace mux
