// The chain family: libevent's benchmark method (see ChainLoop.h) run on our pollers and on
// libevent's own backends, an independent cross-check of the wait family: a per-event cost
// measured by a different program around the same system calls.
//
// Names: chain/BACKEND/active:A/writes:W/watched:N/manual_time, where N is the number of pairs
// (watched read ends; the process holds 2N descriptors) and BACKEND is one of ours (the chat
// servers' select, poll, epoll-lt) or libevent's (libevent-select, -poll, -epoll; its epoll
// events are level-triggered, so libevent-epoll pairs with epoll-lt). One iteration is one run of
// W events; its manual time is the dispatch loop alone. ns_per_call is per EVENT (the run's
// time / W); events_per_call is events per wait call (1 with one active byte).
#include <fmt/format.h>
#include <sys/select.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <string_view>

#include "ChainLoop.h"
#include "MicroPlan.h"
#include "SocketPairPool.h"

namespace mux {
namespace {

struct ChainBackend {
  const char* name;    // the mechanism column of micro.csv
  bool libevent;       // libevent's loop, or our poller's
  const char* method;  // libevent's method name, or our poller's mechanism name
};

// In the order they run at each N: each of ours just before its libevent counterpart.
constexpr ChainBackend kBackends[] = {
    {"select", false, "select"},     {"libevent-select", true, "select"},
    {"poll", false, "poll"},         {"libevent-poll", true, "poll"},
    {"epoll-lt", false, "epoll-lt"}, {"libevent-epoll", true, "epoll"},
};

// Untimed events before the timed runs, so that the first run does not pay for cold caches (few:
// at 10000 pairs one select/poll event costs ~1 ms, and every repetition warms up again).
constexpr std::int64_t kWarmupEvents = 4;

bool skip_if(benchmark::State& state, const std::optional<std::string>& why) {
  if (!why) return false;
  state.SkipWithError(why->c_str());
  return true;
}

bool is_select(const ChainBackend& b) {
  return std::string_view(b.method) == "select";
}

// What can be refused before any socket is made: N over the open-file limit, select past
// FD_SETSIZE (the read ends take the lowest free numbers, select_max_watched of them below 1024).
std::optional<std::string> predicted_refusal(const MicroPlan& plan, const ChainBackend& b,
                                             std::int64_t n) {
  const std::int64_t max_n = chain_max_pairs(plan.capacity);
  if (n > max_n) {
    return fmt::format(
        "{} chained pairs need {} descriptors (two per socketpair): at most {} pairs fit, capped "
        "by {}",
        n, 2 * n, max_n, plan.capacity.limited_by);
  }
  if (n < plan.chain_active) {
    return fmt::format("{} pairs cannot hold {} active bytes", n, plan.chain_active);
  }
  if (is_select(b) && n > plan.capacity.select_max_watched) {
    return fmt::format(
        "{} read ends cannot all be numbered below FD_SETSIZE ({}; {} numbers are free below "
        "it): {}",
        n, FD_SETSIZE, plan.capacity.select_max_watched,
        b.libevent ? "libevent's select backend sets its bits with glibc's FD_SET, which aborts "
                     "past FD_SETSIZE in Debian's fortified build"
                   : "glibc's fd_set is a fixed 1024-bit array (chat-select's default)");
  }
  return std::nullopt;
}

std::optional<std::string> check_delivered(const Chain& chain, std::int64_t writes) {
  if (chain.events() == writes && chain.written() == writes) return std::nullopt;
  return fmt::format("the run dispatched {} events for {} bytes written; expected {} of each",
                     chain.events(), chain.written(), writes);
}

// One run of `writes` events: start untimed, the dispatch loop timed. Returns its ns or why not.
std::optional<std::string> run_chain(ChainLoop& loop, Chain& chain, const MicroPlan& plan,
                                     std::int64_t writes, double* ns) {
  if (auto why = chain.start(plan.chain_active, writes)) return why;
  const auto t0 = std::chrono::steady_clock::now();
  auto why = loop.run(chain);
  *ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  if (why) return why;
  return check_delivered(chain, writes);
}

std::unique_ptr<ChainLoop> make_loop(const ChainBackend& b, int timeout_ms, std::string* why) {
  return b.libevent ? make_libevent_loop(b.method, timeout_ms, why)
                    : make_poller_loop(b.method, timeout_ms, why);
}

void chain_benchmark(benchmark::State& state, const MicroPlan& plan, const ChainBackend& b,
                     std::int64_t n) {
  if (skip_if(state, predicted_refusal(plan, b, n))) return;
  if (b.libevent && !libevent_built()) return state.SkipWithError(describe_libevent().c_str());
  shared_pool().release();  // the other families' sockets: the chain needs their descriptors
  ChainPool& pool = shared_chain_pool();
  if (skip_if(state, pool.ensure(n))) return;
  if (is_select(b) && b.libevent &&
      skip_if(state, libevent_select_refusal(pool.max_watched_fd(n)))) {
    return;
  }
  std::string why;
  auto loop = make_loop(b, plan.wait_timeout_ms, &why);  // after the pool: its descriptors above
  if (!loop) return state.SkipWithError(why.c_str());
  Chain chain(pool, n);
  double ns = 0;
  if (skip_if(state, loop->watch(chain)) ||
      skip_if(state,
              run_chain(*loop, chain, plan, std::min(plan.chain_writes, kWarmupEvents), &ns))) {
    (void)pool.drain(n);
    return;
  }
  const std::int64_t waits_before = loop->waits();
  double total_ns = 0;
  std::int64_t events = 0;
  for (auto _ : state) {
    const auto failed = run_chain(*loop, chain, plan, plan.chain_writes, &ns);
    state.SetIterationTime(ns * 1e-9);
    if (skip_if(state, failed)) break;
    total_ns += ns;
    events += chain.events();
  }
  if (state.error_occurred() || events == 0) {
    (void)pool.drain(n);
    return;
  }
  const double per_event = total_ns / static_cast<double>(events);
  state.counters["ns_per_call"] = per_event;
  state.counters["ns_per_event"] = per_event;
  state.counters["ns_per_watched_fd"] = per_event / static_cast<double>(n);
  state.counters["events_per_call"] =
      static_cast<double>(events) / static_cast<double>(loop->waits() - waits_before);
  state.SetLabel(b.libevent
                     ? fmt::format("libevent {} backend {}", describe_libevent(), loop->backend())
                     : fmt::format("muxbench poller {}", loop->backend()));
}

}  // namespace

std::int64_t chain_max_pairs(const WatchCapacity& capacity) {
  return capacity.max_watched / 2;
}

void register_chain_benchmarks(const MicroPlan& plan) {
  // One registration per (N, backend), N outermost: Google Benchmark runs registrations in order,
  // so ours and libevent's are measured seconds apart at each N instead of minutes apart (this
  // VM's poll over 8192 descriptors drifted from 2 to 6 ms per event between runs of one day),
  // and the pool is built once per N.
  for (std::int64_t n : plan.chain_watched) {
    for (const ChainBackend& b : kBackends) {
      const std::string name =
          fmt::format("chain/{}/active:{}/writes:{}", b.name, plan.chain_active, plan.chain_writes);
      auto* bm = benchmark::RegisterBenchmark(name.c_str(), [&plan, &b](benchmark::State& s) {
        chain_benchmark(s, plan, b, s.range(0));
      });
      // One run per repetition, whatever --benchmark_min_time says: Google Benchmark would
      // otherwise call a short run (epoll: W x ~5 us) again and again with growing iteration
      // counts, each call registering N descriptors anew, which costs more than the runs. The
      // repetitions give the spread.
      bm->ArgName("watched")->Unit(benchmark::kMicrosecond)->UseManualTime()->Iterations(1);
      bm->Arg(n);
    }
  }
}

}  // namespace mux
