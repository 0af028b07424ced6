// mux-micro: Google Benchmark micro-benchmarks of select, poll, epoll (and io_uring) system calls.
// Its own flags are taken out of argv before Google Benchmark sees the rest (see usage()).
#include <fmt/format.h>
#include <sys/select.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "CallTimer.h"
#include "ChainLoop.h"
#include "MicroPlan.h"
#include "SocketPairPool.h"

namespace {

// --quick: seconds of timed calls per benchmark and repetitions, chosen so that the whole run
// stays near 25 s on a 2-core VM (most of it is set-up and the untimed arrivals, not the calls)
// while every figure is still a median of 3 (never a single run:
// docs/claims.md#how-the-bench-measures).
constexpr double kQuickMinTime = 0.005;
constexpr int kRepetitions = 3;
// Full ranges: ~400 instances. Google Benchmark's default of 0.5 s of timed calls each would take
// most of an hour here, because the untimed arrivals cost up to 10x the timed call.
constexpr double kFullMinTime = 0.05;
// The shape counts (wait/*/ready:1 and shared): between 1000 and the limit, dense enough to show
// where poll's cost per descriptor starts to rise (on the reference VM it was flat at 1000 and
// ~3x at 19964, with 10000 in between as the only sample), plus 200 and 500 so that select, capped
// near 1000, has points of its own above the fixed cost of a call.
constexpr std::int64_t kShapeCounts[] = {200,   500,   1000,  2000,  5000, 8192,
                                         10000, 12000, 14000, 16384, 18000};
// Repetitions of the shape instances: on the reference VM one count (16384) gave 1.86 ms in one
// run and 4.67 ms in the next; with 9 repetitions a two-mode count shows as a wide min–max and
// quartiles in micro.csv. Each repetition at the largest N is ~2 calls, so 9 cost little.
constexpr int kShapeRepetitions = 9;
// --settle-ms default: see MicroPlan::settle_ms.
constexpr int kSettleMs = 0;
// The chain family (libevent's benchmark method): pairs swept by default, the counts libevent's
// own bench was run at in issue 18 (plus 100, cheap), and the largest the open-file limit allows
// when one of them does not fit.
const std::vector<std::int64_t> kChainWatched = {100, 1000, 2048, 4096, 8192, 10000};
// Writes (= events) per chain run, chosen so that the family adds a few seconds to --quick
// (~25 s) and well under a minute to the full run (~8.5 min): one poll event at 10000 pairs costs
// 1-7 ms on the reference VM, every backend and count runs 3 repetitions, and each repetition
// registers N descriptors again. libevent's bench makes 1000; the cost per event is a mean over
// the run either way, and the repetitions give its spread.
constexpr std::int64_t kChainWritesFull = 500;
constexpr std::int64_t kChainWritesQuick = 20;

void usage() {
  fmt::print(
      "mux-micro: cost of select / poll / epoll / io_uring wait calls over N real sockets.\n"
      "mux-micro's own flags (the rest go to Google Benchmark, listed below):\n"
      "  --quick            short settings for ./bench: N in 10,100,1000,10000 and the largest "
      "the\n"
      "                     open-file limit allows; --benchmark_min_time={} and\n"
      "                     --benchmark_repetitions={} unless given\n"
      "  (without --quick: the full ranges below, --benchmark_min_time={} and\n"
      "                     --benchmark_repetitions={} unless given)\n"
      "  --watched=LIST     N values to sweep, comma-separated (default: powers of two up to the\n"
      "                     limit plus 10,100,1000,10000; wait/*/ready:1 and shared add the\n"
      "                     shape counts 200..18000 and select's largest N unless LIST is given)\n"
      "  --ready=LIST       k values for the ready family (N fixed at 1000)\n"
      "  --wait-timeout-ms=T  timeout passed to every wait call (default 1000; 0 makes select and\n"
      "                     poll skip wait-queue registration, a path no blocking server takes)\n"
      "  --shape-repetitions=R  repetitions of wait/*/ready:1 and shared (default {})\n"
      "  --shared-sockets=LIST  distinct sockets D behind the shared family's N entries (default "
      "16)\n"
      "  --settle-ms=T      sleep T ms after the socket pool is rebuilt (default {})\n"
      "  --chain-watched=LIST  socketpairs of the chain family (default: {} and the largest\n"
      "                     the open-file limit allows if one does not fit)\n"
      "  --chain-writes=W   events per chain run (default {}, --quick {})\n"
      "  --chain-active=A   bytes in flight in the chain (default 1)\n"
      "Names: FAMILY/MECHANISM/key:value/key:value, keys watched (N), ready (k), sockets (D),\n"
      "active, writes; families wait, ready, build, ctl, uring, shared, chain. Example:\n"
      "  mux-micro --benchmark_filter='^wait/epoll-lt/ready:1/' --benchmark_repetitions=3\n\n",
      kQuickMinTime, kRepetitions, kFullMinTime, kRepetitions, kShapeRepetitions, kSettleMs,
      fmt::join(kChainWatched, ","), kChainWritesFull, kChainWritesQuick);
}

// A positive integer flag value (--chain-writes=W), or nullopt.
std::optional<std::int64_t> parse_positive(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1) return std::nullopt;
  return v;
}

std::optional<std::vector<std::int64_t>> parse_list(std::string_view text) {
  std::vector<std::int64_t> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || end != item.data() + item.size() || v < 1) return std::nullopt;
    out.push_back(v);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

void sort_unique(std::vector<std::int64_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Mean cost of one steady_clock read, which every manually timed figure includes once.
double timer_overhead_ns() {
  using Clock = mux::CallTimer::Clock;
  constexpr int kReads = 100000;
  const auto t0 = Clock::now();
  for (int i = 0; i < kReads; ++i) benchmark::DoNotOptimize(Clock::now());
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kReads;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  bool min_time_given = false;
  bool help = false;
  bool out_file_given = false;
  bool repetitions_given = false;
  int wait_timeout_ms = 1000;
  int shape_repetitions = kShapeRepetitions;
  bool shape_repetitions_given = false;
  int settle_ms = kSettleMs;
  std::optional<std::vector<std::int64_t>> watched, ready, shared, chain_watched;
  std::optional<std::int64_t> chain_writes, chain_active;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a.starts_with("--watched=") || a.starts_with("--ready=") ||
               a.starts_with("--shared-sockets=")) {
      auto list = parse_list(a.substr(a.find('=') + 1));
      if (!list) {
        fmt::print(stderr, "mux-micro: {}: expected positive integers separated by commas\n", a);
        return 2;
      }
      (a.starts_with("--watched=") ? watched
       : a.starts_with("--ready=") ? ready
                                   : shared) = std::move(list);
    } else if (a.starts_with("--chain-watched=")) {
      chain_watched = parse_list(a.substr(a.find('=') + 1));
      if (!chain_watched) {
        fmt::print(stderr, "mux-micro: {}: expected positive integers separated by commas\n", a);
        return 2;
      }
    } else if (a.starts_with("--chain-writes=") || a.starts_with("--chain-active=")) {
      const auto v = parse_positive(a.substr(a.find('=') + 1));
      if (!v) {
        fmt::print(stderr, "mux-micro: {}: expected a positive integer\n", a);
        return 2;
      }
      (a.starts_with("--chain-writes=") ? chain_writes : chain_active) = v;
    } else if (a.starts_with("--wait-timeout-ms=") || a.starts_with("--shape-repetitions=") ||
               a.starts_with("--settle-ms=")) {
      if (a.starts_with("--shape-repetitions=")) shape_repetitions_given = true;
      int& target = a.starts_with("--wait-timeout-ms=")     ? wait_timeout_ms
                    : a.starts_with("--shape-repetitions=") ? shape_repetitions
                                                            : settle_ms;
      const auto v = a.substr(a.find('=') + 1);
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), target);
      if (ec != std::errc() || end != v.data() + v.size() || target < 0) {
        fmt::print(stderr, "mux-micro: {}: expected an integer >= 0\n", a);
        return 2;
      }
    } else {
      if (a.starts_with("--benchmark_min_time")) min_time_given = true;
      if (a.starts_with("--benchmark_repetitions")) repetitions_given = true;
      if (a.starts_with("--benchmark_out=")) out_file_given = true;
      if (a == "--help" || a == "-h") help = true;
      rest.push_back(argv[i]);
    }
  }
  if (help) usage();

  mux::MicroPlan plan;
  plan.capacity = mux::SocketPairPool::capacity();
  plan.wait_timeout_ms = wait_timeout_ms;
  // Google Benchmark opens --benchmark_out before the first benchmark, taking the lowest free
  // descriptor away from the pool: select's predicted refusals must know it.
  if (out_file_given) --plan.capacity.select_max_watched;
  const std::int64_t max_n = plan.capacity.max_watched;
  if (watched) {
    plan.watched = *watched;
  } else if (quick) {
    plan.watched = {10, 100, 1000, 10000, max_n};
  } else {
    for (std::int64_t n = 1; n <= max_n; n *= 2) plan.watched.push_back(n);
    plan.watched.insert(plan.watched.end(), {10, 100, 1000, 10000, max_n});
  }
  std::erase(plan.watched, 0);
  sort_unique(plan.watched);
  plan.shape_watched = plan.watched;
  if (!watched) {
    for (std::int64_t n : kShapeCounts) {
      if (n <= max_n) plan.shape_watched.push_back(n);
    }
    if (plan.capacity.select_max_watched <= max_n) {
      plan.shape_watched.push_back(plan.capacity.select_max_watched);
    }
    sort_unique(plan.shape_watched);
  }
  // An explicit --benchmark_repetitions applies to every family, the shape ones included, unless
  // --shape-repetitions is given too.
  plan.shape_repetitions = repetitions_given && !shape_repetitions_given ? 0 : shape_repetitions;
  plan.settle_ms = settle_ms;
  if (shared) plan.shared_sockets = *shared;
  if (ready) {
    plan.ready_counts = *ready;
  } else if (quick) {
    plan.ready_counts = {1, 16, 64, 256, 1000};
  } else {
    for (std::int64_t k = 1; k < plan.ready_watched; k *= 2) plan.ready_counts.push_back(k);
    plan.ready_counts.push_back(plan.ready_watched);
  }
  sort_unique(plan.ready_counts);
  const std::int64_t chain_max = mux::chain_max_pairs(plan.capacity);
  plan.chain_watched = chain_watched ? *chain_watched : mux::chain_counts(kChainWatched, chain_max);
  sort_unique(plan.chain_watched);
  plan.chain_writes = chain_writes.value_or(quick ? kChainWritesQuick : kChainWritesFull);
  plan.chain_active = chain_active.value_or(1);
  if (plan.chain_active > plan.chain_writes) {
    fmt::print(stderr, "mux-micro: --chain-active={} is more than --chain-writes={}\n",
               plan.chain_active, plan.chain_writes);
    return 2;
  }

  mux::register_wait_benchmarks(plan);
  mux::register_shared_benchmarks(plan);
#ifdef MUXBENCH_HAVE_URING
  const std::string uring = mux::describe_uring();
  mux::register_uring_benchmarks(plan, uring.starts_with("available"));
#else
  const std::string uring = "not built: liburing was not found when mux-micro was configured";
#endif
  mux::register_chain_benchmarks(plan);

  std::string min_time_flag =
      fmt::format("--benchmark_min_time={}", quick ? kQuickMinTime : kFullMinTime);
  std::string repetitions_flag = fmt::format("--benchmark_repetitions={}", kRepetitions);
  if (!min_time_given) rest.push_back(min_time_flag.data());
  if (!repetitions_given) rest.push_back(repetitions_flag.data());
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;

  const auto join = [](const std::vector<std::int64_t>& v) {
    return fmt::format("{}", fmt::join(v, ","));
  };
  benchmark::AddCustomContext("mux_micro_mode", quick ? "quick" : "full");
  benchmark::AddCustomContext("fd_limit", std::to_string(plan.capacity.fd_limit));
  benchmark::AddCustomContext("max_watched", std::to_string(max_n));
  benchmark::AddCustomContext("max_watched_limited_by", plan.capacity.limited_by);
  benchmark::AddCustomContext("fd_setsize", std::to_string(FD_SETSIZE));
  benchmark::AddCustomContext("watched_sweep", join(plan.watched));
  benchmark::AddCustomContext("shape_watched_sweep", join(plan.shape_watched));
  benchmark::AddCustomContext("shape_repetitions", std::to_string(plan.shape_repetitions));
  benchmark::AddCustomContext("shared_sockets", join(plan.shared_sockets));
  benchmark::AddCustomContext("settle_ms", std::to_string(plan.settle_ms));
  benchmark::AddCustomContext("ready_sweep", join(plan.ready_counts));
  benchmark::AddCustomContext("ready_watched", std::to_string(plan.ready_watched));
  benchmark::AddCustomContext("wait_timeout_ms", std::to_string(plan.wait_timeout_ms));
  benchmark::AddCustomContext("timer_overhead_ns", fmt::format("{:.1f}", timer_overhead_ns()));
  benchmark::AddCustomContext("io_uring", uring);
  benchmark::AddCustomContext("chain_sweep", join(plan.chain_watched));
  benchmark::AddCustomContext("chain_max_watched", std::to_string(chain_max));
  benchmark::AddCustomContext("chain_active", std::to_string(plan.chain_active));
  benchmark::AddCustomContext("chain_writes", std::to_string(plan.chain_writes));
  benchmark::AddCustomContext("libevent", mux::describe_libevent());
  fmt::print(stderr, "mux-micro: N up to {} watched descriptors, capped by {}; io_uring {}\n",
             max_n, plan.capacity.limited_by, uring);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
