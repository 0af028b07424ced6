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

// Interest and readiness bits. kHangup/kError are only ever reported, never requested. kHangup
// covers the peer's FIN (POLLRDHUP) as well as a full hang-up wherever the mechanism reports it:
// an edge-triggered reader may stop at a short read only when the event carried neither.
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
  std::uint64_t ctl_calls = 0;        // interest changes (epoll_ctl calls, io_uring poll SQEs)
  // System calls besides the wait calls: epoll_ctl, an io_uring_enter made only because the
  // submission ring was full. select and poll make none: their interest travels with each wait.
  std::uint64_t ctl_syscalls = 0;
  std::uint64_t sqes = 0;  // io_uring: requests queued (POLL_ADD, POLL_REMOVE)
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
  // `ready` with what is ready. EINTR is not an error (it returns with no events). Not virtual:
  // the counters every backend shares are kept here, once, so that no backend can count its
  // calls differently from another; the system call itself is do_wait's.
  std::optional<std::string> wait(std::vector<ReadyEvent>& ready, int timeout_ms) {
    ready.clear();
    auto err = do_wait(ready, timeout_ms);
    ++counters_.wait_calls;
    counters_.events_returned += ready.size();
    return err;
  }

  const PollerCounters& counters() const { return counters_; }

 protected:
  // The backend's wait system call: appends what is ready to `ready` (empty on entry). Counts
  // fds_passed and ctl_calls itself; wait_calls and events_returned are counted by wait().
  virtual std::optional<std::string> do_wait(std::vector<ReadyEvent>& ready, int timeout_ms) = 0;

  PollerCounters counters_;
};

}  // namespace mux
