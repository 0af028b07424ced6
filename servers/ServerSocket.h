// The socket chores every driver shares: the listening socket, the self-pipe that stop signals
// write to, and closing a connection without losing its last line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ChatCore.h"

namespace mux {

struct Listener {
  int fd = -1;
  std::string host;  // as bound: "127.0.0.1" or "[::1]"
  std::uint16_t port = 0;
  int wake_read = -1, wake_write = -1;  // the self-pipe (non-blocking, close-on-exec)
  int reserve_fd = -1;                  // spare descriptor given up to accept-and-refuse on EMFILE
  ~Listener();
};

// Binds, listens (non-blocking), opens the self-pipe and the spare descriptor. Returns a message
// naming the address and errno on failure. TCP_NODELAY is set on the listening socket, and every
// accepted socket inherits it: no driver pays a setsockopt per connection, so connection churn
// costs every mechanism the same calls beside its own.
std::optional<std::string> open_listener(const ServerOptions& opt, Listener& l);

// "listening HOST:PORT mechanism=NAME fd_limit=N max_conns=M": the harness waits for this line
// (common/ListeningLine.h reads it). max_conns 0 means no cap but the descriptor limit; nullopt
// leaves the field out (a line of a server older than --max-conns, written back by a test).
std::string listening_line(const Listener& l, std::string_view mechanism, std::uint64_t fd_limit,
                           std::optional<std::uint64_t> max_conns);

// Async-signal-safe; preserves errno.
void wake(const Listener& l);

// Closes a socket we are done with without turning our last line into a reset. Returns the
// number of system calls it made (the drivers count them).
int graceful_close(int fd);

// Sends a refusal line on a fresh socket and closes it. Returns the system calls made.
int refuse(int fd, std::string_view line);

// accept failed with EMFILE or ENFILE: a pending connection would stay in the backlog (and a
// level-triggered loop would spin on the listening socket). Gives up the spare descriptor,
// accepts the next pending connection, refuses it with "! server full: out of file descriptors
// (limit N)" and takes the spare back. Returns true when it refused one (the caller counts it
// and tries again), false when the backlog was empty or there is no spare. Counts its system
// calls in `sys`.
bool refuse_for_want_of_descriptors(Listener& l, std::uint64_t fd_limit, SyscallCounts& sys);

}  // namespace mux
