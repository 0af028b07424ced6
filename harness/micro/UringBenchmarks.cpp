// The uring family: one io_uring submit-and-wait with N armed multishot polls
// (IORING_OP_POLL_ADD with IORING_POLL_ADD_MULTI, Linux 5.13+), k of them firing.
//
// Like edge-triggered epoll, a multishot poll posts one completion per wake-up, not per call; each
// iteration first writes one byte towards each of the k descriptors, outside the timed region,
// exactly as the wait family does for every mechanism (see WaitBenchmarks.cpp). The timed region is
// io_uring_submit_and_wait_timeout for k completions plus reading them from the mapped completion
// ring and advancing its head: the whole cost a server pays to learn what is ready.
//
// The ring is set up with IORING_SETUP_DEFER_TASKRUN (Linux 6.1+) when the kernel accepts it.
// Without it, the poll wake-up's task work (checking the socket, posting the completion) runs
// when the *writer* returns to user space, i.e. inside the untimed writes here, and the figure
// would leave out work that epoll_wait does inside its call. With it, that work runs inside the
// timed io_uring_enter. Which set-up ran is in the JSON context (io_uring) and in the label.
#include <fmt/format.h>
#include <liburing.h>
#include <poll.h>

#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>

#include "CallTimer.h"
#include "MeasureLoop.h"
#include "MicroPlan.h"
#include "SocketPairPool.h"

namespace mux {
namespace {

constexpr unsigned kRingEntries = 4096;

std::string io_uring_errno_text(int err) {
  std::string hint;
  if (err == EPERM || err == EACCES) {
    hint =
        "; io_uring is disabled (sysctl kernel.io_uring_disabled) or forbidden by a seccomp "
        "filter (containers)";
  } else if (err == ENOSYS) {
    hint = "; this kernel has no io_uring (Linux 5.1+) or it is compiled out";
  } else if (err == ENOMEM) {
    hint = "; ring memory is charged to RLIMIT_MEMLOCK on kernels before 5.12 (ulimit -l)";
  }
  return fmt::format("io_uring_queue_init: {} (errno {}){}", std::strerror(err), err, hint);
}

// A ring, set up with the deferred task-work flags when the kernel takes them.
class Ring {
 public:
  ~Ring() {
    if (ok_) io_uring_queue_exit(&ring_);
  }
  // Returns why not, or nullopt.
  std::optional<std::string> init() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    setup_ = "SINGLE_ISSUER|DEFER_TASKRUN";
    if (rc == -EINVAL) {  // kernel before 6.1: plain ring, task work runs at the writer's return
      params = {};
      rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
      setup_ = "default flags (task work outside the timed region)";
    }
    if (rc < 0) return io_uring_errno_text(-rc);
    ok_ = true;
    return std::nullopt;
  }
  io_uring* get() { return &ring_; }
  const std::string& setup() const { return setup_; }

 private:
  io_uring ring_{};
  bool ok_ = false;
  std::string setup_;
};

void uring_benchmark(benchmark::State& state, const MicroPlan& plan, std::int64_t n, std::int64_t k,
                     bool fit_over_ready) {
  if (auto err = acquire_pool(plan, n)) return state.SkipWithError(err->c_str());
  SocketPairPool& pool = shared_pool();
  auto ring = std::make_unique<Ring>();
  if (auto err = ring->init()) {
    return state.SkipWithError(fmt::format("io_uring unavailable: {}", *err).c_str());
  }
  io_uring* r = ring->get();
  for (std::int64_t i = 0; i < n; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(r);
    if (sqe == nullptr) {  // submission queue full: hand this batch to the kernel first
      const int rc = io_uring_submit(r);
      if (rc < 0) {
        return state.SkipWithError(
            fmt::format("io_uring_submit (arming polls): {}", std::strerror(-rc)).c_str());
      }
      sqe = io_uring_get_sqe(r);
    }
    io_uring_prep_poll_multishot(sqe, pool.fd(i), POLLIN);
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(i));
  }
  if (const int rc = io_uring_submit(r); rc < 0) {
    return state.SkipWithError(
        fmt::format("io_uring_submit (arming polls): {}", std::strerror(-rc)).c_str());
  }
  const auto ready = SocketPairPool::spread(n, k);
  const auto want = static_cast<unsigned>(ready.size());
  CallTimer timer;
  std::int64_t events = 0;
  std::string error;
  __kernel_timespec timeout{};
  const auto prepare = [&] {
    timeout = {plan.wait_timeout_ms / 1000, (plan.wait_timeout_ms % 1000) * 1000000LL};
  };
  // Waits for k completions and consumes them from the mapped ring: returns how many were seen,
  // or -1 with `error` set.
  const auto call = [&]() -> int {
    io_uring_cqe* first = nullptr;
    const int rc = io_uring_submit_and_wait_timeout(r, &first, want, &timeout, nullptr);
    unsigned head = 0, seen = 0, bad = 0;
    int bad_res = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(r, head, cqe) {
      ++seen;
      if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_MORE)) ++bad, bad_res = cqe->res;
    }
    io_uring_cq_advance(r, seen);
    if (rc < 0) {
      error =
          fmt::format("io_uring_submit_and_wait_timeout: {} (errno {})", std::strerror(-rc), -rc);
      return -1;
    }
    if (bad != 0) {
      // res < 0 at arming: multishot poll unsupported (Linux < 5.13); no F_MORE: a poll ended.
      error = fmt::format(
          "{} poll completions failed or ended (res {}: {}); multishot poll needs "
          "Linux 5.13+",
          bad, bad_res, std::strerror(bad_res < 0 ? -bad_res : 0));
      return -1;
    }
    return static_cast<int>(seen);
  };
  const auto check = [&](int got) -> std::optional<std::string> {
    if (got < 0) return error;
    if (static_cast<unsigned>(got) != want) {
      return fmt::format("io_uring reported {} completions, expected {}: the ready state was lost",
                         got, want);
    }
    return std::nullopt;
  };
  measure_calls(state, pool, ready, timer, events, prepare, call, check);
  if (state.error_occurred()) return;
  state.SetLabel(ring->setup());
  state.SetComplexityN(fit_over_ready ? k : n);
  timer.report(state, n, events);
  ring.reset();  // cancels the polls before the sockets are drained and reused
  if (auto err = pool.drain_all()) state.SkipWithError(err->c_str());
}

}  // namespace

std::string describe_uring() {
  Ring ring;
  if (auto err = ring.init()) return fmt::format("unavailable: {}", *err);
  return fmt::format("available ({})", ring.setup());
}

void register_uring_benchmarks(const MicroPlan& plan, bool available) {
  const std::int64_t max_n = plan.capacity.max_watched;
  const auto runs = [max_n, available](std::int64_t n) { return available && n <= max_n; };
  for (std::int64_t k : {1, 16}) {
    std::vector<std::int64_t> ns;
    for (std::int64_t n : plan.watched) {
      if (n >= k) ns.push_back(n);
    }
    register_sweep(
        fmt::format("uring/uring/ready:{}", k),
        [&plan, k](benchmark::State& s) { uring_benchmark(s, plan, s.range(0), k, false); }, ns,
        "watched", true, benchmark::oN, runs);
  }
  const std::int64_t n = plan.ready_watched;
  std::vector<std::int64_t> ks;
  for (std::int64_t k : plan.ready_counts) {
    if (k <= n) ks.push_back(k);
  }
  register_sweep(
      fmt::format("ready/uring/watched:{}", n),
      [&plan, n](benchmark::State& s) { uring_benchmark(s, plan, n, s.range(0), true); }, ks,
      "ready", true, benchmark::oN, [&](std::int64_t) { return runs(n); });
}

}  // namespace mux
