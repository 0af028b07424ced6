// io_uring(7) in poll mode: each descriptor gets one multishot IORING_OP_POLL_ADD; the kernel
// posts a completion (CQE) to a ring shared with us by mmap whenever the descriptor becomes
// ready, and one io_uring_enter both submits pending registrations and waits for completions.
//
// What io_uring does differently:
//  - Like epoll the interest set lives in the kernel and a wait call hands it no descriptors
//    (fds_passed stays 0); unlike epoll, registrations are not system calls of their own: they
//    are queued in the submission ring and go in with the next wait (ctl_calls counts them).
//  - The completion ring really is shared memory (mmap of the ring), the mechanism tutorials
//    wrongly attribute to epoll: the kernel writes CQEs there and we read them without a copy
//    call.
//  - Multishot poll without IORING_POLL_ADD_LEVEL is edge-triggered (the kernel adds EPOLLET),
//    so the core drains each ready socket, as with epoll-et; interest is registered once for
//    both directions and never changed, for the same reason as there.
//  - Both models exist, and they measure different things. This one (mechanism `uring`) keeps
//    the seam: ReadinessDriver's recv/send calls and buffers are those of select, poll and epoll,
//    so `uring` beside `epoll-et` compares readiness notification and nothing else. The
//    completion model (mechanism `uring-completion`, CompletionDriver.cpp) lets the kernel
//    perform accept, recv, send and close as requests: it measures what io_uring is built for,
//    fewer system calls per message (claim 11 of docs/claims.md#the-claims), together with what
//    that changes (provided buffers, a copy into the send in flight, completions instead of calls).
#include "UringPoller.h"

#include <liburing.h>
#include <poll.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

constexpr unsigned kSubmissionEntries = 1024;
// Completions can outnumber submissions many times over (multishot): a large CQ keeps the kernel
// off its overflow list, and it never drops a CQE anyway (IORING_FEAT_NODROP).
constexpr unsigned kCompletionEntries = 32768;

class UringPoller final : public Poller {
 public:
  explicit UringPoller(io_uring ring) : ring_(ring) {}
  ~UringPoller() override { io_uring_queue_exit(&ring_); }

  std::string_view name() const override { return "uring"; }
  bool edge_triggered() const override { return true; }

  std::optional<std::string> add(int fd, std::uint8_t) override {
    if (fd < 0) return "io_uring: negative descriptor";
    if (static_cast<std::size_t>(fd) >= state_.size()) state_.resize(fd + 1);
    State& s = state_[fd];
    ++s.generation;  // completions still queued for an earlier user of this number are ignored
    s.armed = true;
    arm(fd);
    return std::nullopt;
  }

  std::optional<std::string> modify(int, std::uint8_t) override { return std::nullopt; }

  void remove(int fd) override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= state_.size() || !state_[fd].armed) return;
    State& s = state_[fd];
    s.armed = false;
    // The armed poll holds a reference to the file: the socket is only released (and its FIN
    // sent) once this removal reaches the kernel, with the next wait call.
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_remove(sqe, user_data(fd, s.generation));
    io_uring_sqe_set_data64(sqe, kIgnored);
    ++counters_.ctl_calls;
    ++counters_.sqes;
  }

  std::optional<std::string> do_wait(std::vector<ReadyEvent>& ready, int timeout_ms) override {
    io_uring_cqe* cqe = nullptr;
    int rc;
    if (timeout_ms < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR) return errno_text("io_uring_enter", -rc);

    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      collect(*cqe, ready);
    }
    io_uring_cq_advance(&ring_, seen);
    for (const ReadyEvent& ev : ready) state_[ev.fd].slot = -1;
    return std::nullopt;
  }

 private:
  struct State {
    std::uint32_t generation = 0;
    bool armed = false;
    int slot = -1;  // index in this call's ready vector: two CQEs for one fd become one event
  };
  static constexpr std::uint64_t kIgnored = ~0ULL;

  static std::uint64_t user_data(int fd, std::uint32_t gen) {
    return (static_cast<std::uint64_t>(gen) << 32) | static_cast<std::uint32_t>(fd);
  }

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // submission ring full (a burst of accepts): hand what we have to the kernel
      io_uring_submit(&ring_);
      ++counters_.ctl_syscalls;
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void arm(int fd) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_multishot(sqe, fd, POLLIN | POLLOUT | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, user_data(fd, state_[fd].generation));
    ++counters_.ctl_calls;
    ++counters_.sqes;
  }

  void collect(const io_uring_cqe& cqe, std::vector<ReadyEvent>& ready) {
    if (cqe.user_data == kIgnored) return;
    const int fd = static_cast<int>(cqe.user_data & 0xffffffffu);
    const auto gen = static_cast<std::uint32_t>(cqe.user_data >> 32);
    if (static_cast<std::size_t>(fd) >= state_.size()) return;
    State& s = state_[fd];
    if (!s.armed || s.generation != gen) return;  // removed, or an earlier connection's fd
    // Without F_MORE the kernel ended this multishot poll (e.g. it ran out of memory, or the
    // CQ overflowed): re-arm, or the descriptor would go silent.
    if (!(cqe.flags & IORING_CQE_F_MORE)) arm(fd);
    std::uint8_t what = 0;
    if (cqe.res < 0) {
      if (cqe.res == -ECANCELED) return;
      what = kError;
    } else {
      const unsigned m = static_cast<unsigned>(cqe.res);
      if (m & (POLLIN | POLLPRI | POLLRDHUP)) what |= kReadable;
      if (m & POLLOUT) what |= kWritable;
      if (m & (POLLHUP | POLLRDHUP)) what |= kHangup;  // RDHUP: the peer's FIN (see Poller.h)
      if (m & (POLLERR | POLLNVAL)) what |= kError;
    }
    if (s.slot >= 0) {
      ready[s.slot].what |= what;
    } else {
      s.slot = static_cast<int>(ready.size());
      ready.push_back({fd, what});
    }
  }

  io_uring ring_;
  std::vector<State> state_;  // indexed by descriptor
};

}  // namespace

std::string uring_setup_failure(int err) {
  std::string why = errno_text("io_uring unavailable: io_uring_setup", err);
  std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
  int value = 0;
  if (disabled >> value && value != 0) {
    why += fmt::format(
        " (kernel.io_uring_disabled={}: 'sysctl kernel.io_uring_disabled=0' "
        "enables it)",
        value);
  } else if (err == ENOSYS) {
    why += " (this kernel has no io_uring: Linux 5.1 or later is needed)";
  } else if (err == EPERM) {
    why += " (blocked by a seccomp filter or container policy?)";
  }
  return why;
}

std::unique_ptr<Poller> make_uring_poller(std::string* error) {
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  params.cq_entries = kCompletionEntries;
  int rc = io_uring_queue_init_params(kSubmissionEntries, &ring, &params);
  if (rc == -EINVAL) {  // kernels before 6.0 know neither SINGLE_ISSUER nor COOP_TASKRUN
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCompletionEntries;
    rc = io_uring_queue_init_params(kSubmissionEntries, &ring, &params);
  }
  if (rc < 0) {
    if (error) *error = uring_setup_failure(-rc);
    return nullptr;
  }
  return std::make_unique<UringPoller>(ring);
}

}  // namespace mux
