// poll(2): the caller hands the kernel an array of {fd, events} on every call; the kernel checks
// each entry and writes revents back.
//
// What poll does differently:
//  - No FD_SETSIZE: the array may hold any descriptor number (the kernel only refuses nfds above
//    RLIMIT_NOFILE with EINVAL).
//  - Like select, the whole interest set crosses into the kernel on every call and is checked
//    entry by entry, so a call costs O(watched), idle or not.
//  - Unlike select the array is not overwritten (only revents), so it is kept incrementally and
//    passed as is: add appends, remove swaps the last entry into the hole.
#include "PollPoller.h"

#include <poll.h>

#include <cerrno>

#include "system.h"

namespace mux {
namespace {

class PollPoller final : public Poller {
 public:
  std::string_view name() const override { return "poll"; }

  std::optional<std::string> add(int fd, std::uint8_t interest) override {
    if (fd < 0) return "poll: negative descriptor";
    if (static_cast<std::size_t>(fd) >= index_.size()) index_.resize(fd + 1, -1);
    if (index_[fd] < 0) {
      index_[fd] = static_cast<int>(fds_.size());
      fds_.push_back({fd, 0, 0});
    }
    return modify(fd, interest);
  }

  std::optional<std::string> modify(int fd, std::uint8_t interest) override {
    pollfd& p = fds_[index_[fd]];
    p.events = static_cast<short>(((interest & kReadable) ? POLLIN : 0) |
                                  ((interest & kWritable) ? POLLOUT : 0));
    return std::nullopt;
  }

  void remove(int fd) override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= index_.size() || index_[fd] < 0) return;
    const int hole = index_[fd];
    fds_[hole] = fds_.back();
    index_[fds_[hole].fd] = hole;
    fds_.pop_back();
    index_[fd] = -1;
  }

  std::optional<std::string> do_wait(std::vector<ReadyEvent>& ready, int timeout_ms) override {
    const int n = poll(fds_.data(), fds_.size(), timeout_ms);
    counters_.fds_passed += fds_.size();
    if (n < 0) return errno == EINTR ? std::nullopt : std::optional(errno_text("poll", errno));
    // poll returns how many entries have non-zero revents: stop scanning once all are found.
    for (std::size_t i = 0; i < fds_.size() && static_cast<int>(ready.size()) < n; ++i) {
      const short re = fds_[i].revents;
      if (!re) continue;
      std::uint8_t what = 0;
      if (re & (POLLIN | POLLPRI)) what |= kReadable;
      if (re & POLLOUT) what |= kWritable;
      if (re & POLLHUP) what |= kHangup;
      if (re & (POLLERR | POLLNVAL)) what |= kError;
      ready.push_back({fds_[i].fd, what});
    }
    return std::nullopt;
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<int> index_;  // fd -> position in fds_, -1 when not watched
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller() {
  return std::make_unique<PollPoller>();
}

}  // namespace mux
