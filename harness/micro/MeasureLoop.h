// The measured loop shared by the wait, ready and uring families (see WaitBenchmarks.cpp for why
// every iteration starts with k arrivals).
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "CallTimer.h"
#include "SocketPairPool.h"

namespace mux {

// Sockets are drained every this many iterations so their buffers never fill (a 1-byte write
// costs a socket several hundred bytes of buffer accounting).
constexpr std::int64_t kDrainEvery = 64;

// Untimed warm-up calls before the measured ones: without them the first instance of each family
// paid for cold caches (twice its steady figure in --quick runs). Google Benchmark's own
// --benchmark_min_warmup_time would rerun the whole set-up (registering or arming N descriptors)
// instead of the call. Bounded in count and in time so that 20000-descriptor polls stay cheap.
constexpr int kWarmupCalls = 64;
constexpr std::chrono::milliseconds kWarmupTime{5};

// Each iteration: k bytes arrive (untimed), prepare() restores what the call overwrites
// (untimed), call() is timed alone and returns how many ready descriptors it reported; check(got)
// returns why that count is wrong, if it is. Skips the benchmark on the first failure.
template <typename Prepare, typename Call, typename Check>
void measure_calls(benchmark::State& state, SocketPairPool& pool,
                   const std::vector<std::int64_t>& ready, CallTimer& timer, std::int64_t& events,
                   Prepare prepare, Call call, Check check) {
  std::int64_t round = 0;
  const auto fail = [&](const std::optional<std::string>& why) {
    if (why) state.SkipWithError(why->c_str());
    return why.has_value();
  };
  const auto warm_until = CallTimer::Clock::now() + kWarmupTime;
  for (int i = 0; i < kWarmupCalls && CallTimer::Clock::now() < warm_until; ++i) {
    if (fail(pool.rearm(ready, round++, kDrainEvery))) return;
    prepare();
    if (fail(check(call()))) return;
  }
  for (auto _ : state) {
    if (fail(pool.rearm(ready, round++, kDrainEvery))) return;
    prepare();
    timer.start();
    const int got = call();
    timer.stop(state);
    if (fail(check(got))) return;
    events += got;
  }
}

}  // namespace mux
