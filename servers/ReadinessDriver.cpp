#include "ReadinessDriver.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "ReadinessIo.h"
#include "system.h"

namespace mux {

ReadinessDriver::ReadinessDriver(ServerOptions options, std::unique_ptr<Poller> poller,
                                 std::uint64_t fd_limit)
    : poller_(std::move(poller)), fd_limit_(fd_limit), core_(std::move(options), *this, fd_limit) {}

ReadinessDriver::~ReadinessDriver() {
  for (std::size_t fd = 0; fd < interest_.size(); ++fd)
    if (core_.is_open(static_cast<ConnId>(fd))) close(static_cast<int>(fd));
}

std::optional<std::string> ReadinessDriver::listen() {
  if (auto err = open_listener(core_.options(), listener_)) return err;
  if (auto err = poller_->add(listener_.fd, kReadable))
    return "watching the listening socket: " + *err;
  if (auto err = poller_->add(listener_.wake_read, kReadable))
    return "watching the wake-up pipe: " + *err;
  return std::nullopt;
}

std::string ReadinessDriver::listening_line() const {
  return mux::listening_line(listener_, poller_->name(), fd_limit_, core_.options().max_conns);
}

std::optional<std::string> ReadinessDriver::run() {
  while (!stopping_) {
    if (auto err = poller_->wait(ready_, -1)) return err;
    for (const ReadyEvent& ev : ready_) {
      if (ev.fd == listener_.fd) {
        accept_all();
      } else if (ev.fd == listener_.wake_read) {
        stopping_ = true;
      } else {
        on_ready(ev);
      }
    }
    settle();
  }
  return std::nullopt;
}

void ReadinessDriver::accept_all() {
  accept_pending(listener_, fd_limit_, core_, sys_, [this](int fd) -> std::optional<std::string> {
    if (auto why = poller_->add(fd, kReadable)) return why;
    if (static_cast<std::size_t>(fd) >= interest_.size()) interest_.resize(fd + 1);
    interest_[fd] = kReadable;
    return std::nullopt;
  });
}

void ReadinessDriver::on_ready(const ReadyEvent& ev) {
  if (!core_.is_open(ev.fd) || core_.doomed(ev.fd)) return;
  if ((ev.what & kWritable) && !core_.output(ev.fd).empty()) flush(ev.fd);
  if (!core_.doomed(ev.fd) && (ev.what & (kReadable | kHangup | kError)))
    on_readable(ev.fd, (ev.what & (kHangup | kError)) != 0);
}

void ReadinessDriver::on_readable(ConnId id, bool hangup_reported) {
  for (;;) {
    const ssize_t n = recv(id, read_buf_.data(), read_buf_.size(), 0);
    ++sys_.recv;
    if (n > 0) {
      switch (core_.on_bytes(id, std::string_view(read_buf_.data(), n))) {
        case ChatCore::Input::kDiscarded:
          continue;
        case ChatCore::Input::kStop:
          return;
        case ChatCore::Input::kFramed:
          break;
      }
      // Level-triggered: one read per event; the mechanism reports the rest next call.
      // Edge-triggered: read until the socket is drained. A short read drains it, as epoll(7)
      // allows, unless the event also reported the peer's FIN (POLLRDHUP, mapped to kHangup):
      // an EOF that arrived together with the last data raises one edge, and a short read that
      // consumed the data would leave the EOF unreported forever (the half-close test caught
      // it), so then we read on to the 0. A FIN that arrives after the event was collected
      // raises an edge of its own. Stopping at the short read saves the recv that would return
      // EAGAIN: one system call per wake-up, a quarter of a ping-pong relay's.
      if (!poller_->edge_triggered()) return;
      if (static_cast<std::size_t>(n) < read_buf_.size() && !hangup_reported) return;
      continue;
    }
    if (n == 0) return core_.on_eof(id);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) core_.doom(id);  // ECONNRESET and friends
    return;
  }
}

void ReadinessDriver::flush(ConnId id) {
  send_queued(core_, id, sys_);
  if (!core_.doomed(id)) update_interest(id);
}

void ReadinessDriver::update_interest(ConnId id) {
  // A closing connection stops reading: after EOF a level-triggered mechanism would otherwise
  // report the socket readable on every call until the last bytes are flushed.
  const std::uint8_t want =
      (core_.reading(id) ? kReadable : 0) | (core_.output(id).empty() ? 0 : kWritable);
  if (want == interest_[id]) return;
  interest_[id] = want;
  if (auto err = poller_->modify(id, want)) {
    fmt::print(stderr, "{}: closing descriptor {}\n", *err, id);
    core_.doom(id);
  }
}

void ReadinessDriver::settle() {
  core_.settle([this](ConnId id) { flush(id); }, [this](ConnId id) { close_connection(id); });
}

void ReadinessDriver::close_connection(ConnId id) {
  poller_->remove(id);
  core_.closed(id);
  sys_.close += graceful_close(id);
}

DriverCounters ReadinessDriver::driver_counters() const {
  const PollerCounters& p = poller_->counters();
  DriverCounters d;
  d.mechanism = poller_->name();
  d.wait_calls = p.wait_calls;
  d.events = p.events_returned;
  d.fds_passed = p.fds_passed;
  d.ctl_calls = p.ctl_calls;
  d.syscalls = sys_;
  d.syscalls.wait = p.wait_calls;
  d.syscalls.ctl = p.ctl_syscalls;
  d.syscalls.other += ++stats_calls_;
  d.sqes.poll = p.sqes;
  d.cpu = self_cpu_times();
  return d;
}

}  // namespace mux
