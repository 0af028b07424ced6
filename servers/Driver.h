// A chat server as ServerMain runs it: an I/O driver that owns the sockets and feeds the
// transport-free ChatCore. Two kinds exist: ReadinessDriver (a Poller says which socket is
// ready, the driver calls recv/send) and CompletionDriver (io_uring performs recv/send as
// requests and reports them done). Single-threaded: run() is the event loop, and only
// request_stop() may be called from elsewhere (a signal handler).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mux {

class Driver {
 public:
  virtual ~Driver() = default;

  // Binds and listens. Returns a message naming the address and errno on failure.
  virtual std::optional<std::string> listen() = 0;
  // "listening 127.0.0.1:PORT mechanism=NAME fd_limit=N max_conns=M"
  virtual std::string listening_line() const = 0;
  virtual std::uint16_t port() const = 0;

  // Serves until request_stop(). Blocks in the kernel without a timeout when idle: with nothing
  // to do the server uses no CPU, however many idle connections it holds. Returns an error text
  // if the wait call itself fails.
  virtual std::optional<std::string> run() = 0;

  // Async-signal-safe: wakes run() through a self-pipe, so a signal arriving just before the
  // wait call cannot be lost (the race a flag alone would have).
  virtual void request_stop() = 0;

  // The counters as one JSON line (no newline), as printed on exit and by /stats.
  virtual std::string stats_json() const = 0;
};

}  // namespace mux
