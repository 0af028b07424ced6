// What mux-micro runs: the descriptor counts it sweeps and the limit behind the largest one.
//
// Benchmark names (parsed by micro_to_csv.py) are `FAMILY/MECHANISM/key:value/key:value`, where
// the keys are `watched` (N, descriptors the call watches) and `ready` (k, descriptors ready at
// each call); Google Benchmark appends `/manual_time` to manually timed ones, and complexity fits
// appear as `FAMILY/MECHANISM/key:value_BigO` and `_RMS`, fitted over the key not in the name.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "SocketPairPool.h"

namespace mux {

struct MicroPlan {
  std::vector<std::int64_t> watched;  // N swept by the wait, uring, build and ctl families
  // N swept by wait/{select,poll}/ready:1 and the shared family: `watched` plus counts dense enough
  // between 1000 and the limit to show where the cost per descriptor bends (claims 2, 4, 8 are
  // judged on that shape), and select's own largest N.
  std::vector<std::int64_t> shape_watched;
  // Repetitions of the shape instances: a count whose calls fall into two modes must show as a
  // spread of repetitions in micro.csv, not as one median (0 = Google Benchmark's flag decides).
  int shape_repetitions = 0;
  // Distinct sockets behind the shared family's N pollfd entries (see SharedBenchmarks.cpp).
  std::vector<std::int64_t> shared_sockets{16};
  // Milliseconds to sleep after the pool was rebuilt for a larger N, before the first call: a
  // probe of whether the slow first calls at large N after a rebuild depend on the time since
  // the sockets were made (e.g. deferred frees of the previous pool) rather than on the calls.
  int settle_ms = 0;
  std::vector<std::int64_t> ready_counts;  // k swept by the ready family
  std::int64_t ready_watched = 1000;       // N held fixed by the ready family
  int wait_timeout_ms = 1000;  // timeout of every wait call (0 takes the kernel's cheaper path)
  // The chain family (ChainBenchmarks.cpp): pairs swept, bytes in flight, writes per run.
  std::vector<std::int64_t> chain_watched;
  std::int64_t chain_active = 1;
  std::int64_t chain_writes = 1000;
  WatchCapacity capacity;
};

// The shared pool holding at least n watched descriptors, none readable; or why not (N over the
// capacity, naming the limit that caps it; socketpair failing).
std::optional<std::string> acquire_pool(const MicroPlan& plan, std::int64_t n);

void register_wait_benchmarks(const MicroPlan& plan);
void register_shared_benchmarks(const MicroPlan& plan);
// available: describe_uring() found a working ring (else every instance is a predicted refusal).
void register_uring_benchmarks(const MicroPlan& plan, bool available);
void register_chain_benchmarks(const MicroPlan& plan);
// The largest chain the open-file limit allows: every pair is two descriptors.
std::int64_t chain_max_pairs(const WatchCapacity& capacity);

// Registers one benchmark family `name` with an instance per value of `arg_name` in `args`, fitted
// with `fit` over its instances. Instances that `will_run` predicts will skip (select past
// FD_SETSIZE, N past the open-file limit, io_uring unavailable) are registered under the same name
// in a second family without the fit: Google Benchmark 1.7 crashes (SIGSEGV in ComputeBigO) when
// no run of a fitted family succeeds, e.g. when a filter selects only refused instances.
// repetitions > 0 overrides --benchmark_repetitions for this family.
void register_sweep(const std::string& name, const std::function<void(benchmark::State&)>& fn,
                    const std::vector<std::int64_t>& args, const char* arg_name, bool manual_time,
                    benchmark::BigO fit, const std::function<bool(std::int64_t)>& will_run,
                    int repetitions = 0);

// "available (flags)" or why io_uring cannot be used here, for the JSON context.
std::string describe_uring();

}  // namespace mux
