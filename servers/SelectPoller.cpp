// select(2): the caller hands the kernel bitmaps of descriptors on every call, the kernel scans
// every bit below nfds and overwrites the bitmaps with the result.
//
// What select does differently:
//  - The interest set lives in user space. We keep master copies (read_, write_) up to date
//    incrementally and copy them on each call, because select() overwrites its arguments: a set
//    cannot be reused after the call.
//  - The cost of a call follows nfds = highest descriptor + 1, not the number of ready ones: the
//    kernel walks every bit below nfds, and we walk them again to find the ready ones.
//  - glibc's fd_set is a fixed array of FD_SETSIZE (1024) bits. FD_SET on a descriptor >= 1024
//    writes past it (or aborts under _FORTIFY_SOURCE), so add() refuses such a descriptor.
#include "SelectPoller.h"

#include <sys/select.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

class SelectPoller final : public Poller {
 public:
  SelectPoller() {
    FD_ZERO(&read_);
    FD_ZERO(&write_);
  }

  std::string_view name() const override { return "select"; }

  std::optional<std::string> add(int fd, std::uint8_t interest) override {
    if (fd < 0 || fd >= FD_SETSIZE) {
      return fmt::format("select() cannot watch descriptor {} (FD_SETSIZE is {})", fd, FD_SETSIZE);
    }
    if (!FD_ISSET(fd, &watched_)) {
      FD_SET(fd, &watched_);
      ++count_;
    }
    max_fd_ = std::max(max_fd_, fd);
    return modify(fd, interest);
  }

  std::optional<std::string> modify(int fd, std::uint8_t interest) override {
    if (interest & kReadable)
      FD_SET(fd, &read_);
    else
      FD_CLR(fd, &read_);
    if (interest & kWritable)
      FD_SET(fd, &write_);
    else
      FD_CLR(fd, &write_);
    return std::nullopt;
  }

  void remove(int fd) override {
    if (fd < 0 || fd >= FD_SETSIZE || !FD_ISSET(fd, &watched_)) return;
    FD_CLR(fd, &watched_);
    FD_CLR(fd, &read_);
    FD_CLR(fd, &write_);
    --count_;
    while (max_fd_ >= 0 && !FD_ISSET(max_fd_, &watched_)) --max_fd_;
  }

  std::optional<std::string> wait(std::vector<ReadyEvent>& ready, int timeout_ms) override {
    ready.clear();
    // select() overwrites its sets, so it always works on copies of the masters.
    fd_set rd = read_, wr = write_;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    const int n = select(max_fd_ + 1, &rd, &wr, nullptr, timeout_ms < 0 ? nullptr : &tv);
    ++counters_.wait_calls;
    counters_.fds_passed += count_;
    if (n < 0) return errno == EINTR ? std::nullopt : std::optional(errno_text("select", errno));
    int left = n;  // each ready descriptor counts once per set it is ready in
    for (int fd = 0; fd <= max_fd_ && left > 0; ++fd) {
      std::uint8_t what = 0;
      if (FD_ISSET(fd, &rd)) what |= kReadable, --left;
      if (FD_ISSET(fd, &wr)) what |= kWritable, --left;
      if (what) ready.push_back({fd, what});
    }
    counters_.events_returned += ready.size();
    return std::nullopt;
  }

 private:
  fd_set read_, write_;
  fd_set watched_{};
  int max_fd_ = -1;
  std::uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<Poller> make_select_poller() {
  return std::make_unique<SelectPoller>();
}

}  // namespace mux
