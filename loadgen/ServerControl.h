// The control connection: one extra client in a private room that asks the server for its
// `/stats` JSON line at the edges of the measuring window, so that the row can carry the
// server's own counters (wait calls, events, descriptors passed) as deltas over the window.
// It is opened before the idle connections, so select's FD_SETSIZE does not refuse it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "Net.h"

namespace mux {

// A flat JSON object of strings and numbers, as the servers print it.
class StatsLine {
 public:
  // nullopt if the line is not a flat JSON object, with why (and where) in *error.
  static std::optional<StatsLine> parse(const std::string& line, std::string* error = nullptr);
  // A string's text, or any other value as JSON writes it ("12", "true").
  std::optional<std::string> text(const std::string& key) const;
  // An integer that fits in int64; nullopt for anything else (a string, 1.5, 2^63).
  std::optional<std::int64_t> number(const std::string& key) const;
  // This line's counter minus the same counter in `before` (a delta over a window). nullopt
  // when either is missing or not a number, or when the difference does not fit: a garbage
  // line is reported as a missing figure, never signed overflow.
  std::optional<std::int64_t> minus(const StatsLine& before, const std::string& key) const;
  // The server's CPU time so far in µs (its getrusage: cpu_user_us + cpu_sys_us), summed as
  // doubles so that garbage counters cannot overflow; nullopt when either is missing or < 0.
  std::optional<double> cpu_us() const;

 private:
  struct Value {
    std::string text;
    std::optional<std::int64_t> number;
  };
  std::map<std::string, Value> values_;
};

// True when process pid no longer runs (gone, or a zombie its parent has not reaped yet: kill(pid,
// 0) would still succeed for those).
bool process_gone(pid_t pid);

// Notices a process's death without asking /proc on every turn of an event loop (opening and
// reading /proc/PID/stat per turn was a fifth of loadgen's CPU in flood mode): a pidfd turns
// readable when the process exits, so the loop puts fd() in its epoll set and calls exited() on
// its event. Without pidfd_open (Linux < 5.3, or a seccomp filter) /proc is asked at most every
// kPollNs instead.
class ProcessWatch {
 public:
  static constexpr std::uint64_t kPollNs = 10'000'000;

  // pid <= 0 watches nothing: gone() stays false.
  explicit ProcessWatch(pid_t pid);
  ~ProcessWatch();
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  // The pidfd to watch for EPOLLIN, or -1.
  int fd() const { return fd_; }
  void exited() { gone_ = true; }
  // The caller could not watch fd(): fall back to asking /proc.
  void without_fd();
  // True once the process is known to be gone; now_ns is the caller's clock.
  bool gone(std::uint64_t now_ns);

 private:
  pid_t pid_;
  int fd_ = -1;
  bool gone_ = false;
  std::uint64_t next_check_ns_ = 0;
};

class ServerControl {
 public:
  ServerControl() = default;
  ServerControl(const ServerControl&) = delete;
  ServerControl& operator=(const ServerControl&) = delete;
  ~ServerControl();

  // Connects and joins `room`. Error text on failure; *refused_line is set when the server
  // answered with a `! ` line (e.g. select's FD_SETSIZE refusal) instead of its welcome.
  std::optional<std::string> open(const Endpoint& server, const std::string& room,
                                  std::string* refused_line);
  bool connected() const { return fd_ >= 0; }
  // True when the server closed the control connection (waits up to wait_ms for its FIN, which
  // a dying server's kernel sends at once).
  bool peer_closed(int wait_ms);
  // Sends /stats and waits for the JSON line (skipping `* ` lines). Error text on failure.
  // Answers still owed to request_stats() arrive first: they are kept for take_answers().
  std::variant<StatsLine, std::string> stats(int timeout_ms = 5000);

  // /stats without waiting (the per-interval series, IntervalSeries.h): request_stats() sends the
  // command; when fd() turns readable, take_answers() reads what has arrived without blocking and
  // returns the answers in the order they were asked for. Error text when the send failed.
  std::optional<std::string> request_stats();
  struct Answer {
    StatsLine stats;
    std::uint64_t at_ns = 0;  // when it was read (now_ns clock)
  };
  struct Answers {
    std::vector<Answer> answers;
    bool closed = false;  // the server closed the connection, or reading it failed
  };
  Answers take_answers();
  int fd() const { return fd_; }
  std::size_t owed() const { return owed_; }

 private:
  // A line read for an answer still owed to request_stats(): kept for take_answers().
  void keep_owed(const std::string& line);

  int fd_ = -1;
  std::string pending_;
  std::size_t owed_ = 0;
  std::deque<Answer> answers_;
};

}  // namespace mux
