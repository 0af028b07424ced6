// The load generator's command line, parsed by main.cpp (CLI11) and read by every run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ArrivalSchedule.h"
#include "HostileClients.h"

namespace mux {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8002;
  std::string mode;
  std::uint64_t idle = 0;
  std::uint64_t idle_held = 0;
  std::uint64_t active = 2;
  std::uint64_t size = 64;
  double rate = 1000;
  ArrivalSchedule::Kind arrival = ArrivalSchedule::Kind::kFixed;  // broadcast, rate
  std::uint64_t seed = 1;  // --arrival poisson: the schedule's seed
  std::uint64_t window = 16;
  bool window_auto = false;  // --window auto: chosen during the warm-up (WindowTuner.h)
  double warmup = 1;
  double duration = 5;
  int server_pid = 0;
  int cpu = -1;
  int peer_cpu = -1;
  bool csv_header = false;
  bool json = false;
  std::string label;
  bool hold = false;
  std::string histogram_out;  // --histogram-out FILE: the window's latency histogram as JSON
  double interval = 0;        // --interval S: the per-interval series (0 = none)
  std::string series_out;     // --series-out FILE: where the series goes (CSV)
  std::string hlog;           // --hlog FILE: the window's latencies as an HdrHistogram log

  // Where the idle connections go (IdleHolders.h): address LISTs, "" for the defaults.
  std::string idle_sources;
  std::string idle_destinations;
  std::uint64_t hostile = 0;  // --hostile K: misbehaving clients beside the measured ones
  std::vector<HostileKind> hostile_kinds = all_hostile_kinds();
  HostilePacing hostile_pacing;
  // Hidden, for tests and unusual machines.
  std::uint64_t idle_per_process = 0;
  std::uint64_t idle_per_pair = 0;
  double drain_timeout = 5;
};

}  // namespace mux
