#include "EventLoop.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "Net.h"
#include "system.h"

namespace mux {

namespace {

// Ready descriptors taken per wait: more than any run has active connections, so one wait takes
// every one that is ready.
constexpr std::size_t kBatch = 1024;

}  // namespace

EventLoop::EventLoop() : events_(kBatch) {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) error_ = errno_text("epoll_create1", errno);
}

EventLoop::~EventLoop() {
  if (ep_ >= 0) close(ep_);
}

std::optional<std::string> EventLoop::watch(int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_text("epoll_ctl(ADD)", errno);
  return std::nullopt;
}

std::optional<std::string> EventLoop::rewatch(int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev) != 0) return errno_text("epoll_ctl(MOD)", errno);
  return std::nullopt;
}

void EventLoop::unwatch(int fd) {
  // ENOENT or EBADF here means it was never watched or is already closed: nothing to undo.
  epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::at(std::uint64_t deadline_ns, TimerFn fn) {
  const TimerId id{deadline_ns, next_seq_++};
  timers_.emplace(id, std::move(fn));
  return id;
}

void EventLoop::cancel(TimerId id) {
  timers_.erase(id);
}

void EventLoop::run_due_timers(std::uint64_t now) {
  const std::uint64_t added_before = next_seq_;
  auto it = timers_.begin();
  while (!stop_turn_ && it != timers_.end() && it->first.deadline <= now) {
    if (it->first.seq >= added_before) {  // added by a timer of this turn: next turn
      ++it;
      continue;
    }
    TimerFn fn = std::move(it->second);
    timers_.erase(it);
    fn(now);
    it = timers_.begin();  // fn may have added or cancelled timers
  }
}

std::optional<std::string> EventLoop::turn(Dispatcher& d) {
  stop_turn_ = false;
  timespec ts{};
  timespec* timeout = nullptr;
  if (!timers_.empty()) {
    const std::uint64_t now = now_ns();
    const std::uint64_t wake = timers_.begin()->first.deadline;
    if (wake > now) {
      ts.tv_sec = static_cast<time_t>((wake - now) / 1'000'000'000ULL);
      ts.tv_nsec = static_cast<long>((wake - now) % 1'000'000'000ULL);
    }
    timeout = &ts;
  }
  const int n =
      epoll_pwait2(ep_, events_.data(), static_cast<int>(events_.size()), timeout, nullptr);
  if (n < 0 && errno != EINTR) return errno_text("epoll_pwait2", errno);
  std::uint64_t now = now_ns();
  for (int i = 0; i < n && !stop_turn_; ++i)
    d.on_ready(events_[i].data.u64, events_[i].events, now);
  if (!stop_turn_) d.on_ready_done();
  // The clock again: handling the descriptors took time, and timers due meanwhile run now rather
  // than after another wait.
  if (n > 0) now = now_ns();
  run_due_timers(now);
  return std::nullopt;
}

}  // namespace mux
