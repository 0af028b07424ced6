// What the drivers that are told readiness do with a ready socket (ReadinessDriver for our
// pollers, LibeventDriver for libevent's): accept the pending connections, send the queued output.
// The completion driver and libuv submit these as requests instead and do not use them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "ChatCore.h"
#include "ServerSocket.h"

namespace mux {

// Accepts every pending connection, until EAGAIN (edge-triggered epoll requires it; for the
// level-triggered mechanisms it saves one wait call per queued connection). A connection the full
// core cannot take is refused with the core's line; otherwise `watch(fd)` hands it to the
// mechanism and returns nullopt, or returns why the mechanism cannot watch it (the connection is
// refused with that reason); then the core opens it. Counts every system call in `sys`.
void accept_pending(Listener& l, std::uint64_t fd_limit, ChatCore& core, SyscallCounts& sys,
                    const std::function<std::optional<std::string>(int fd)>& watch);

// Sends the connection's queued output until it is all sent or the kernel's send buffer is full
// (a short write); an error other than EAGAIN (EPIPE, ECONNRESET) dooms the connection. Counts
// the sends in `sys`. The caller adjusts its interest afterwards unless the core doomed `id`.
void send_queued(ChatCore& core, ConnId id, SyscallCounts& sys);

}  // namespace mux
