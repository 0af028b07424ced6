// epoll(7): the interest set lives in the kernel. epoll_ctl registers a descriptor once; the
// kernel's socket callbacks put it on a ready list when it becomes ready; epoll_wait copies out
// only the ready list.
//
// What epoll does differently:
//  - A wait call hands the kernel no descriptors (fds_passed stays 0) and its cost follows the
//    number of ready descriptors, not the number watched.
//  - Interest changes are system calls (epoll_ctl), counted as ctl_calls: that is epoll's price
//    under connection churn or when write interest is toggled.
//  - Level-triggered (default) reports a ready descriptor on every call until it is drained,
//    like poll. Edge-triggered (EPOLLET) reports a readiness change once: the core must read
//    until the socket is drained. In that mode write interest is registered once with read
//    interest and never toggled: an edge for EPOLLOUT only fires when the send buffer regains
//    room, so a permanently registered EPOLLOUT costs nothing while idle and saves an epoll_ctl
//    per full buffer. That is how ET is meant to be used, and the comparison must not handicap it.
//  - No mmap: epoll_wait copies each ready event to the caller's array (fs/eventpoll.c).
#include "EpollPoller.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller(int epfd, bool edge) : epfd_(epfd), edge_(edge) {}
  ~EpollPoller() override { close(epfd_); }

  std::string_view name() const override { return edge_ ? "epoll-et" : "epoll-lt"; }
  bool edge_triggered() const override { return edge_; }

  std::optional<std::string> add(int fd, std::uint8_t interest) override {
    return ctl(EPOLL_CTL_ADD, fd, interest);
  }

  std::optional<std::string> modify(int fd, std::uint8_t interest) override {
    if (edge_) return std::nullopt;  // registered for both directions once, see above
    return ctl(EPOLL_CTL_MOD, fd, interest);
  }

  void remove(int fd) override {
    // Closing the descriptor would remove it too, but only once every duplicate of the open file
    // is closed; an explicit DEL keeps the interest set exact.
    epoll_event unused{};
    ++counters_.ctl_calls;
    ++counters_.ctl_syscalls;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &unused);
  }

  std::optional<std::string> do_wait(std::vector<ReadyEvent>& ready, int timeout_ms) override {
    const int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0)
      return errno == EINTR ? std::nullopt : std::optional(errno_text("epoll_wait", errno));
    for (int i = 0; i < n; ++i) {
      const std::uint32_t e = events_[i].events;
      std::uint8_t what = 0;
      if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) what |= kReadable;
      if (e & EPOLLOUT) what |= kWritable;
      if (e & (EPOLLHUP | EPOLLRDHUP)) what |= kHangup;  // RDHUP: the peer's FIN (see Poller.h)
      if (e & EPOLLERR) what |= kError;
      ready.push_back({events_[i].data.fd, what});
    }
    // A full array means more may be ready: grow it so one call can return them all next time.
    if (static_cast<std::size_t>(n) == events_.size()) events_.resize(events_.size() * 2);
    return std::nullopt;
  }

 private:
  std::optional<std::string> ctl(int op, int fd, std::uint8_t interest) {
    epoll_event ev{};
    ev.data.fd = fd;
    if (edge_) {
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    } else {
      ev.events =
          ((interest & kReadable) ? EPOLLIN : 0u) | ((interest & kWritable) ? EPOLLOUT : 0u);
    }
    ++counters_.ctl_calls;
    ++counters_.ctl_syscalls;
    if (epoll_ctl(epfd_, op, fd, &ev) != 0) {
      return errno_text(
          fmt::format("epoll_ctl({}, descriptor {})", op == EPOLL_CTL_ADD ? "ADD" : "MOD", fd),
          errno);
    }
    return std::nullopt;
  }

  int epfd_;
  bool edge_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(64);
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller(bool edge_triggered, std::string* error) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    if (error) *error = errno_text("epoll_create1", errno);
    return nullptr;
  }
  return std::make_unique<EpollPoller>(epfd, edge_triggered);
}

}  // namespace mux
