// The load generator's one event loop: epoll for descriptors plus deadline timers (as Redis's ae
// has file and time events). Each turn sleeps exactly until the earliest timer's deadline, with
// epoll_pwait2's nanosecond timeout (Linux 5.11): a fixed tick would start an open-loop send or
// close a window up to one tick late, and wake an idle loop for nothing.
//
// Single-threaded. The loop owns its epoll descriptor, not the descriptors it watches.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mux {

class EventLoop {
 public:
  // Receives the ready descriptors of a turn, by the token they were watched with.
  class Dispatcher {
   public:
    virtual ~Dispatcher() = default;
    virtual void on_ready(std::uint64_t token, std::uint32_t events, std::uint64_t now) = 0;
    // After the turn's descriptors, before its timers: where batched sends are flushed.
    virtual void on_ready_done() {}
  };

  // A timer: its deadline and a sequence number that orders timers due at the same time by
  // creation. Cancelling a timer that has fired (or was cancelled) does nothing.
  struct TimerId {
    std::uint64_t deadline = 0, seq = 0;
    auto operator<=>(const TimerId&) const = default;
  };
  using TimerFn = std::function<void(std::uint64_t now)>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Set when epoll_create1 failed; the loop is then unusable.
  const std::optional<std::string>& error() const { return error_; }

  // Watches fd for `events` (EPOLLIN, EPOLLOUT, ...), reported with `token`. Error text on failure.
  std::optional<std::string> watch(int fd, std::uint32_t events, std::uint64_t token);
  std::optional<std::string> rewatch(int fd, std::uint32_t events, std::uint64_t token);
  // Closing a descriptor also stops watching it; this is for one that stays open.
  void unwatch(int fd);

  // Runs fn(now) in the first turn whose clock reading is >= deadline_ns (now_ns() clock), never
  // earlier. Timers due in the same turn run in deadline order.
  TimerId at(std::uint64_t deadline_ns, TimerFn fn);
  void cancel(TimerId id);
  std::size_t timers() const { return timers_.size(); }

  // One turn: waits until a descriptor is ready or the earliest timer is due (without timers,
  // until a descriptor is ready), reports the ready descriptors, then runs the due timers. A
  // timer that a due timer adds for a time already past runs in the next turn, so a callback
  // that keeps re-arming itself cannot starve the descriptors. Error text when the wait failed.
  std::optional<std::string> turn(Dispatcher& d);
  // Ends the current turn early: the rest of its descriptors and timers wait for the next one.
  void stop_turn() { stop_turn_ = true; }

 private:
  void run_due_timers(std::uint64_t now);

  int ep_ = -1;
  std::optional<std::string> error_;
  std::vector<epoll_event> events_;
  std::map<TimerId, TimerFn> timers_;
  std::uint64_t next_seq_ = 0;
  bool stop_turn_ = false;
};

}  // namespace mux
