// The shared family: one poll call over N pollfd entries that name only D distinct sockets (the
// same D descriptors repeated), one of the N entries being a separate socket made ready.
//
// Why: poll's cost per watched descriptor is flat up to some N and then rises (on the reference VM
// about x3 between 10000 and 19964). poll does the same work per entry whether or not entries
// repeat a descriptor (look up the file, call its poll method, register on its wait queue), but
// with D distinct sockets the kernel objects it touches (file, socket, sock, their wait queue
// locks) are D sets instead of N. If the per-entry cost stays flat here up to the same N, the bend
// of the wait family is the working set of N distinct sockets outgrowing a cache; if it bends here
// too, it is the per-entry work itself (the pollfd array, the poll table pages).
// epoll cannot take the same descriptor twice (EEXIST) and select's bitmap has one bit per
// descriptor, so the family is poll's alone.
#include <fmt/format.h>
#include <poll.h>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "CallTimer.h"
#include "MeasureLoop.h"
#include "MicroPlan.h"
#include "SocketPairPool.h"

namespace mux {
namespace {

void shared_benchmark(benchmark::State& state, const MicroPlan& plan, std::int64_t n,
                      std::int64_t sockets) {
  // Pool indices 0..D-1 are the repeated descriptors (never written to: both ends of D/2 pairs),
  // index D the ready one, poked through its peer D ^ 1 (D even, so the peer is D + 1).
  if (sockets < 2 || sockets % 2 != 0 || n < sockets + 1) {
    state.SkipWithError(
        fmt::format("shared family needs an even D >= 2 and N > D (got D={}, N={})", sockets, n)
            .c_str());
    return;
  }
  if (auto err = acquire_pool(plan, sockets + 2)) {
    state.SkipWithError(err->c_str());
    return;
  }
  SocketPairPool& pool = shared_pool();
  const std::vector<std::int64_t> ready{sockets};
  const std::int64_t ready_at = SocketPairPool::spread(n, 1)[0];
  std::vector<pollfd> fds(n);
  for (std::int64_t i = 0; i < n; ++i) fds[i] = {pool.fd(i % sockets), POLLIN, 0};
  fds[ready_at].fd = pool.fd(sockets);
  CallTimer timer;
  std::int64_t events = 0;
  measure_calls(
      state, pool, ready, timer, events, [] {},
      [&] { return poll(fds.data(), fds.size(), plan.wait_timeout_ms); },
      [&](int got) -> std::optional<std::string> {
        if (got == 1) return std::nullopt;
        return fmt::format("poll over {} entries on {} sockets reported {} ready, expected 1", n,
                           sockets + 1, got);
      });
  if (state.error_occurred()) return;
  state.SetComplexityN(n);
  timer.report(state, n, events);
  if (auto err = pool.drain_all()) state.SkipWithError(err->c_str());
}

}  // namespace

void register_shared_benchmarks(const MicroPlan& plan) {
  // poll refuses nfds above RLIMIT_NOFILE (EINVAL), so N stays within what the wait family can
  // watch, although only D + 2 descriptors are open.
  const std::int64_t max_n = plan.capacity.max_watched;
  for (std::int64_t d : plan.shared_sockets) {
    std::vector<std::int64_t> ns;
    for (std::int64_t n : plan.shape_watched) {
      if (n > d) ns.push_back(n);
    }
    register_sweep(
        fmt::format("shared/poll/sockets:{}/ready:1", d),
        [&plan, d](benchmark::State& s) { shared_benchmark(s, plan, s.range(0), d); }, ns,
        "watched", true, benchmark::oN, [max_n](std::int64_t n) { return n <= max_n; },
        plan.shape_repetitions);
  }
}

}  // namespace mux
