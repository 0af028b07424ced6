// Times one call per iteration with the monotonic clock and reports it to Google Benchmark as
// manual time, so that the set-up each iteration needs (re-arming edge-triggered descriptors,
// draining sockets) stays outside the figure without PauseTiming, which costs more than the calls
// being measured. The figure includes one clock read (about 20 ns through the vDSO on a TSC
// clocksource; mux-micro records it as timer_overhead_ns in the JSON context).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

namespace mux {

class CallTimer {
 public:
  using Clock = std::chrono::steady_clock;

  void start() { t0_ = Clock::now(); }
  void stop(benchmark::State& state) {
    const auto ns = std::chrono::duration<double, std::nano>(Clock::now() - t0_).count();
    state.SetIterationTime(ns * 1e-9);
    total_ns_ += ns;
  }

  // For families timed by Google Benchmark itself (pure user-space loops, where a clock read per
  // iteration would cost more than the work): the loop's total, measured around it.
  void add_total(double ns) { total_ns_ += ns; }

  // User counters, the same for every family: ns_per_call (the timed call alone),
  // ns_per_watched_fd (ns_per_call / N) and events_per_call (ready descriptors reported).
  void report(benchmark::State& state, std::int64_t watched, std::int64_t events) const {
    const double iters = static_cast<double>(state.iterations());
    if (iters <= 0) return;
    const double per_call = total_ns_ / iters;
    state.counters["ns_per_call"] = per_call;
    if (watched > 0) state.counters["ns_per_watched_fd"] = per_call / watched;
    state.counters["events_per_call"] = static_cast<double>(events) / iters;
  }

 private:
  Clock::time_point t0_;
  double total_ns_ = 0;
};

}  // namespace mux
