// The measuring window's edges: at each edge the server's /stats counters (over the control
// connection), the server's CPU (from those counters, in µs, or else from /proc/PID/stat with
// --server-pid) and our own CPU, so the row can give deltas over exactly the window. Shared by
// every mode that talks to a server.
#pragma once

#include <cstdint>
#include <optional>

#include "Options.h"
#include "RunResult.h"
#include "ServerControl.h"
#include "system.h"

namespace mux {

class WindowMeter {
 public:
  WindowMeter(const Options& o, ServerControl& control) : o_(o), control_(control) {}

  // Called when the window opens; returns its start time (ns).
  std::uint64_t begin();
  // Called when it closes; server_alive = false skips /stats (nobody would answer).
  void end(bool server_alive);
  bool begun() const { return begun_; }
  bool ended() const { return ended_; }
  std::uint64_t begin_ns() const { return begin_.t_ns; }
  std::uint64_t end_ns() const { return end_.t_ns; }
  // The server's cumulative CPU (µs) at the window's start and end, as the row's figure takes
  // it: its /stats, else /proc/PID/stat.
  std::optional<double> server_cpu_us_at_begin() const { return server_us(begin_); }
  std::optional<double> server_cpu_us_at_end() const { return server_us(end_); }

  // Window length, CPU figures and server counter deltas into r (when the window began).
  void fill(RunResult& r) const;

  // The status for a run that completed: integrity errors first, then loadgen-bound.
  static void judge(RunResult& r, std::uint64_t server_error_lines);

 private:
  struct Snapshot {
    std::uint64_t t_ns = 0;
    CpuTimes self;
    std::optional<CpuTimes> server_proc;
    std::optional<StatsLine> stats;
  };
  Snapshot take(bool with_stats);
  static std::optional<double> server_us(const Snapshot& s);

  const Options& o_;
  ServerControl& control_;
  Snapshot begin_, end_;
  bool begun_ = false, ended_ = false;
};

}  // namespace mux
