// The wait, ready, build and ctl families: select, poll and epoll system calls over N real sockets
// of which k are readable.
//
// Every iteration of the wait and ready families is the moment a server lives for: one byte
// arrives on each of k descriptors, then the process makes its wait call. The arrivals are writes
// made outside the timed region; the timed region (CallTimer, manual time) is the wait call alone.
// Why re-arrive at every iteration, for level-triggered mechanisms too, where leaving the bytes
// unread would keep the state constant for free:
//  - edge-triggered epoll (and io_uring's multishot poll) report an arrival once, so they need a
//    new one before each call, and a write is the only honest way to make one (it runs the same
//    kernel wake-up path, ep_poll_callback, that a client's data does);
//  - giving every mechanism the same untimed writes makes the figures comparable: the writes evict
//    cache lines the wait call then misses, and a level-triggered loop without them runs hot and
//    flatters LT against ET (claim 7): epoll-lt at N=100, k=16 took 1365 ns per call without them
//    and 1510 ns with them in a one-off comparison on the reference VM. The sockets are drained
//    every kDrainEvery iterations (also outside the timed region) so their buffers never fill.
// PauseTiming is not used: it costs more than the calls measured.
//
// Every wait call gets a timeout (1 s unless --wait-timeout-ms), as a server's would, not 0: with a
// zero timeout select and poll skip registering on each descriptor's wait queue (fs/select.c,
// do_select/do_poll set `wait->_qproc = NULL` when timed out), a cheaper path than a blocking
// server takes. With a timeout they register on every descriptor scanned before the first ready
// one, which is why the ready descriptors are spread evenly (SocketPairPool::spread). With k >= 1
// ready the call returns after one pass; a call that reports anything but k ready stops the
// benchmark with an error rather than publishing a figure for a different state.
#include <fmt/format.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "CallTimer.h"
#include "MeasureLoop.h"
#include "MicroPlan.h"
#include "SocketPairPool.h"
#include "system.h"

namespace mux {
namespace {

enum class Mechanism { kSelect, kPoll, kEpollLt, kEpollEt };

const char* name_of(Mechanism m) {
  switch (m) {
    case Mechanism::kSelect:
      return "select";
    case Mechanism::kPoll:
      return "poll";
    case Mechanism::kEpollLt:
      return "epoll-lt";
    case Mechanism::kEpollEt:
      return "epoll-et";
  }
  return "?";
}

// Skips the benchmark with `why` and returns true when there is an error.
bool skip_if(benchmark::State& state, const std::optional<std::string>& why) {
  if (!why) return false;
  state.SkipWithError(why->c_str());
  return true;
}

std::optional<std::string> check_count(const char* call, int got, std::int64_t want) {
  if (got < 0) return errno_text(call, errno);
  if (got != want) {
    return fmt::format("{} reported {} ready descriptors, expected {}: the ready state was lost",
                       call, got, want);
  }
  return std::nullopt;
}

// select refuses to go past FD_SETSIZE here, before any FD_SET: glibc's fd_set is a fixed array
// of FD_SETSIZE bits, and FD_SET on a larger descriptor writes past it (or aborts under
// _FORTIFY_SOURCE with "bit out of range").
std::optional<std::string> select_refusal(const SocketPairPool* pool, std::int64_t n) {
  if (n > FD_SETSIZE) {
    return fmt::format(
        "select cannot watch N={} descriptors: FD_SETSIZE is {} (glibc's fd_set is "
        "a fixed {}-bit array; refused instead of writing past it)",
        n, FD_SETSIZE, FD_SETSIZE);
  }
  if (pool != nullptr && pool->max_fd(n) >= FD_SETSIZE) {
    return fmt::format(
        "select cannot watch descriptor {} (FD_SETSIZE is {}): N={} watched "
        "descriptors start at descriptor {}",
        pool->max_fd(n), FD_SETSIZE, n, pool->fd(0));
  }
  return std::nullopt;
}

void run_select(benchmark::State& state, SocketPairPool& pool, std::int64_t n,
                const std::vector<std::int64_t>& ready, int timeout_ms, CallTimer& timer,
                std::int64_t& events) {
  if (skip_if(state, select_refusal(&pool, n))) return;
  fd_set master;
  FD_ZERO(&master);
  for (std::int64_t i = 0; i < n; ++i) FD_SET(pool.fd(i), &master);
  const int nfds = pool.max_fd(n) + 1;
  fd_set rd;
  timeval tv{};
  // select overwrites its sets and its timeout (Linux writes back the time left): both are
  // restored outside the timed region; the user-space side of that is the build family.
  const auto prepare = [&] {
    rd = master;
    tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  };
  measure_calls(
      state, pool, ready, timer, events, prepare,
      [&] { return select(nfds, &rd, nullptr, nullptr, &tv); },
      [&](int got) { return check_count("select", got, ready.size()); });
}

void run_poll(benchmark::State& state, SocketPairPool& pool, std::int64_t n,
              const std::vector<std::int64_t>& ready, int timeout_ms, CallTimer& timer,
              std::int64_t& events) {
  // poll writes only revents, which the kernel overwrites at each call: nothing to restore.
  std::vector<pollfd> fds(n);
  for (std::int64_t i = 0; i < n; ++i) fds[i] = {pool.fd(i), POLLIN, 0};
  measure_calls(
      state, pool, ready, timer, events, [] {},
      [&] { return poll(fds.data(), fds.size(), timeout_ms); },
      [&](int got) { return check_count("poll", got, ready.size()); });
}

void run_epoll(benchmark::State& state, SocketPairPool& pool, std::int64_t n,
               const std::vector<std::int64_t>& ready, bool edge, int timeout_ms, CallTimer& timer,
               std::int64_t& events) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    skip_if(state, errno_text("epoll_create1", errno));
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | (edge ? EPOLLET : 0u);
    ev.data.u64 = static_cast<std::uint64_t>(i);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pool.fd(i), &ev) != 0) {
      skip_if(state, errno_text(fmt::format("epoll_ctl ADD descriptor {} (#{} of N={}; see "
                                            "/proc/sys/fs/epoll/max_user_watches)",
                                            pool.fd(i), i + 1, n),
                                errno));
      close(ep);
      return;
    }
  }
  // maxevents = N, as a server sized for its connections would pass: epoll_wait still copies
  // out only the ready ones.
  std::vector<epoll_event> out(std::max<std::int64_t>(n, 1));
  measure_calls(
      state, pool, ready, timer, events, [] {},
      [&] { return epoll_wait(ep, out.data(), static_cast<int>(out.size()), timeout_ms); },
      [&](int got) { return check_count("epoll_wait", got, ready.size()); });
  close(ep);
}

// One wait call with N watched, k ready. fit_over_ready: the complexity fit is over k (the
// ready family) instead of N.
void wait_benchmark(benchmark::State& state, const MicroPlan& plan, Mechanism m, std::int64_t n,
                    std::int64_t k, bool fit_over_ready) {
  // select's limit is checked before building the pool: N > FD_SETSIZE needs no sockets to refuse.
  if (m == Mechanism::kSelect && skip_if(state, select_refusal(nullptr, n))) return;
  if (skip_if(state, acquire_pool(plan, n))) return;
  SocketPairPool& pool = shared_pool();
  const auto ready = SocketPairPool::spread(n, k);
  CallTimer timer;
  std::int64_t events = 0;
  const int t = plan.wait_timeout_ms;
  switch (m) {
    case Mechanism::kSelect:
      run_select(state, pool, n, ready, t, timer, events);
      break;
    case Mechanism::kPoll:
      run_poll(state, pool, n, ready, t, timer, events);
      break;
    case Mechanism::kEpollLt:
      run_epoll(state, pool, n, ready, false, t, timer, events);
      break;
    case Mechanism::kEpollEt:
      run_epoll(state, pool, n, ready, true, t, timer, events);
      break;
  }
  if (state.error_occurred()) return;
  state.SetComplexityN(fit_over_ready ? k : n);
  timer.report(state, n, events);
  if (auto err = pool.drain_all()) state.SkipWithError(err->c_str());
}

// The build family: the per-call user-space work select and poll impose on the caller, which
// epoll does once in epoll_ctl. Pure user space, timed by Google Benchmark over the whole loop.
//  - select: copying the kept interest set into the set passed (select overwrites it), then
//    scanning the returned set bit by bit up to the highest descriptor for the k ready ones.
//  - poll: scanning the kept array's revents for the k ready entries (the array itself is kept
//    between calls, as our chat-poll does; the kernel copies it in inside the wait call).
//  - poll-rebuild: refilling the array from the descriptor list first, as servers that rebuild
//    their pollfd array at every call do, then the same scan.
enum class Build { kSelect, kPoll, kPollRebuild };

void build_benchmark(benchmark::State& state, const MicroPlan& plan, Build b, std::int64_t n,
                     std::int64_t k) {
  if (b == Build::kSelect && skip_if(state, select_refusal(nullptr, n))) return;
  if (skip_if(state, acquire_pool(plan, n))) return;
  SocketPairPool& pool = shared_pool();
  if (b == Build::kSelect && skip_if(state, select_refusal(&pool, n))) return;
  const auto ready = SocketPairPool::spread(n, k);
  CallTimer timer;
  std::int64_t found_total = 0;
  const auto t0 = CallTimer::Clock::now();
  if (b == Build::kSelect) {
    fd_set master, result;
    FD_ZERO(&master);
    FD_ZERO(&result);
    for (std::int64_t i = 0; i < n; ++i) FD_SET(pool.fd(i), &master);
    for (std::int64_t i : ready) FD_SET(pool.fd(i), &result);
    const int max_fd = pool.max_fd(n);
    const std::int64_t want = static_cast<std::int64_t>(ready.size());
    for (auto _ : state) {
      fd_set passed = master;
      benchmark::DoNotOptimize(&passed);
      benchmark::ClobberMemory();
      std::int64_t found = 0;
      for (int fd = 0; fd <= max_fd && found < want; ++fd) {
        if (FD_ISSET(fd, &result)) ++found;
      }
      benchmark::DoNotOptimize(found);
      found_total += found;
    }
  } else {
    std::vector<int> list(n);
    for (std::int64_t i = 0; i < n; ++i) list[i] = pool.fd(i);
    std::vector<pollfd> fds(n);
    for (std::int64_t i = 0; i < n; ++i) fds[i] = {list[i], POLLIN, 0};
    for (std::int64_t i : ready) fds[i].revents = POLLIN;
    const std::int64_t want = static_cast<std::int64_t>(ready.size());
    const bool rebuild = b == Build::kPollRebuild;
    for (auto _ : state) {
      if (rebuild) {
        for (std::int64_t i = 0; i < n; ++i) {
          fds[i].fd = list[i];
          fds[i].events = POLLIN;
        }
        benchmark::ClobberMemory();
      }
      std::int64_t found = 0;
      for (std::int64_t i = 0; i < n && found < want; ++i) {
        if (fds[i].revents != 0) ++found;
      }
      benchmark::DoNotOptimize(found);
      found_total += found;
    }
  }
  timer.add_total(std::chrono::duration<double, std::nano>(CallTimer::Clock::now() - t0).count());
  state.SetComplexityN(n);
  timer.report(state, n, found_total);
}

// The ctl family: one epoll_ctl call on a set already holding N-1 other descriptors (add: the N-th
// goes in; del: the N-th comes out; mod: the N-th toggles EPOLLOUT, as a server does when its
// output queue fills and empties). The inverse operation runs outside the timed region.
enum class Ctl { kAdd, kMod, kDel };

void ctl_benchmark(benchmark::State& state, const MicroPlan& plan, Ctl c, std::int64_t n) {
  if (skip_if(state, acquire_pool(plan, n))) return;
  SocketPairPool& pool = shared_pool();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    skip_if(state, errno_text("epoll_create1", errno));
    return;
  }
  const auto add = [&](std::int64_t i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(i);
    return epoll_ctl(ep, EPOLL_CTL_ADD, pool.fd(i), &ev);
  };
  const std::int64_t target = n - 1;
  for (std::int64_t i = 0; i < target + (c == Ctl::kAdd ? 0 : 1); ++i) {
    if (add(i) != 0) {
      skip_if(state, errno_text(fmt::format("epoll_ctl ADD descriptor {}", pool.fd(i)), errno));
      close(ep);
      return;
    }
  }
  CallTimer timer;
  const int fd = pool.fd(target);
  bool out = false;
  for (auto _ : state) {
    int rc = 0;
    if (c == Ctl::kAdd) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      timer.start();
      rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      timer.stop(state);
      if (rc == 0) rc = epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    } else if (c == Ctl::kDel) {
      timer.start();
      rc = epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      timer.stop(state);
      if (rc == 0) rc = add(target);
    } else {
      out = !out;
      epoll_event ev{};
      ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
      timer.start();
      rc = epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      timer.stop(state);
    }
    if (rc != 0) {
      skip_if(state, errno_text(fmt::format("epoll_ctl on descriptor {}", fd), errno));
      break;
    }
  }
  close(ep);
  if (state.error_occurred()) return;
  state.SetComplexityN(n);
  timer.report(state, 0, 0);
}

}  // namespace

void register_wait_benchmarks(const MicroPlan& plan) {
  // Predicted refusals (see register_sweep): N past the open-file limit, and for select N past
  // FD_SETSIZE given the descriptors already open below the pool.
  const std::int64_t max_n = plan.capacity.max_watched;
  const std::int64_t select_max = plan.capacity.select_max_watched;
  const auto fits = [max_n](std::int64_t n) { return n <= max_n; };
  const auto select_fits = [max_n, select_max](std::int64_t n) {
    return n <= max_n && n <= select_max;
  };
  const auto at_least = [](const std::vector<std::int64_t>& v, std::int64_t lo) {
    std::vector<std::int64_t> out;
    for (std::int64_t x : v) {
      if (x >= lo) out.push_back(x);
    }
    return out;
  };
  const auto at_most = [](const std::vector<std::int64_t>& v, std::int64_t hi) {
    std::vector<std::int64_t> out;
    for (std::int64_t x : v) {
      if (x <= hi) out.push_back(x);
    }
    return out;
  };

  const Mechanism mechanisms[] = {Mechanism::kSelect, Mechanism::kPoll, Mechanism::kEpollLt,
                                  Mechanism::kEpollEt};
  for (Mechanism m : mechanisms) {
    const auto runs = [&](std::int64_t n) {
      return m == Mechanism::kSelect ? select_fits(n) : fits(n);
    };
    for (std::int64_t k : {1, 16}) {
      // ready:1 is the series the shape rules judge: more repetitions, and for the scanning
      // mechanisms the dense counts (where their cost per descriptor bends). epoll's flatness is
      // judged on the two ends, so it keeps the sparse counts: its 2 x 9 repetitions at 14
      // counts, each registering N descriptors, doubled the --quick run.
      const bool shape = k == 1;
      const bool dense = shape && (m == Mechanism::kSelect || m == Mechanism::kPoll);
      register_sweep(
          fmt::format("wait/{}/ready:{}", name_of(m), k),
          [&plan, m, k](benchmark::State& s) { wait_benchmark(s, plan, m, s.range(0), k, false); },
          at_least(dense ? plan.shape_watched : plan.watched, k), "watched", true, benchmark::oN,
          runs, shape ? plan.shape_repetitions : 0);
    }
  }
  for (Mechanism m : mechanisms) {
    const std::int64_t n = plan.ready_watched;
    const bool ok = m == Mechanism::kSelect ? select_fits(n) : fits(n);
    register_sweep(
        fmt::format("ready/{}/watched:{}", name_of(m), n),
        [&plan, m, n](benchmark::State& s) { wait_benchmark(s, plan, m, n, s.range(0), true); },
        at_most(plan.ready_counts, n), "ready", true, benchmark::oN,
        [ok](std::int64_t) { return ok; });
  }
  const std::pair<Build, const char*> builds[] = {
      {Build::kSelect, "select"}, {Build::kPoll, "poll"}, {Build::kPollRebuild, "poll-rebuild"}};
  for (auto [bld, name] : builds) {
    const auto runs = [&, bld](std::int64_t n) {
      return bld == Build::kSelect ? select_fits(n) : fits(n);
    };
    for (std::int64_t k : {1, 16}) {
      register_sweep(
          fmt::format("build/{}/ready:{}", name, k),
          [&plan, bld, k](benchmark::State& s) { build_benchmark(s, plan, bld, s.range(0), k); },
          at_least(plan.watched, k), "watched", false, benchmark::oN, runs);
    }
  }
  const std::pair<Ctl, const char*> ctls[] = {
      {Ctl::kAdd, "epoll-ctl-add"}, {Ctl::kMod, "epoll-ctl-mod"}, {Ctl::kDel, "epoll-ctl-del"}};
  for (auto [c, name] : ctls) {
    // Registration walks epoll's red-black tree (O(log N)); the fit that matters to a server is
    // the flat one: a constant cost per call, with RMS saying how flat it really is.
    register_sweep(
        fmt::format("ctl/{}", name),
        [&plan, c](benchmark::State& s) { ctl_benchmark(s, plan, c, s.range(0)); }, plan.watched,
        "watched", true, benchmark::o1, fits);
  }
}

}  // namespace mux
