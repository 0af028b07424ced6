// The seam between the chat core and a readiness mechanism.
//
// A backend (SelectPoller, PollPoller, EpollPoller, ...) watches descriptors for the core and
// reports which are ready; it owns none of them. Dispatch, buffering and protocol stay in the
// core, so the backend file is the one place where "what select does differently" lives.
// Single-threaded: every call comes from the server's event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mux {

// Interest and readiness bits. kHangup/kError are only ever reported, never requested.
enum : std::uint8_t {
  kReadable = 1,
  kWritable = 2,
  kHangup = 4,
  kError = 8,
};

struct ReadyEvent {
  int fd;
  std::uint8_t what;  // kReadable | kWritable | kHangup | kError
};

// What the mechanism cost, counted where the system call is made.
struct PollerCounters {
  std::uint64_t wait_calls = 0;       // select/poll/epoll_wait/io_uring_enter calls
  std::uint64_t events_returned = 0;  // ready descriptors reported to the core
  std::uint64_t fds_passed = 0;       // descriptors handed to the kernel by wait calls (epoll: 0)
  std::uint64_t ctl_calls = 0;        // registration system calls (epoll_ctl; select/poll: 0)
};

class Poller {
 public:
  virtual ~Poller() = default;

  // The mechanism's name as it appears in the listening line, the counters and runs.csv.
  virtual std::string_view name() const = 0;

  // True when readiness is reported once per change (edge-triggered): the core must then read
  // until the socket is drained and cannot rely on being told again.
  virtual bool edge_triggered() const { return false; }

  // Starts watching fd for `interest`. Returns why not when the mechanism cannot watch it
  // (select and FD_SETSIZE, epoll_ctl failing), so the core can refuse that one connection.
  virtual std::optional<std::string> add(int fd, std::uint8_t interest) = 0;

  // Changes the interest of a watched fd.
  virtual std::optional<std::string> modify(int fd, std::uint8_t interest) = 0;

  // Stops watching fd. Must be called before fd is closed.
  virtual void remove(int fd) = 0;

  // Waits until a watched descriptor is ready or timeout_ms passes (-1: forever), and replaces
  // `ready` with what is ready. EINTR is not an error (it returns with no events).
  virtual std::optional<std::string> wait(std::vector<ReadyEvent>& ready, int timeout_ms) = 0;

  const PollerCounters& counters() const { return counters_; }

 protected:
  PollerCounters counters_;
};

}  // namespace mux
