// How the completion model (CompletionDriver.cpp) closes a connection: a chain of requests linked
// by IOSQE_IO_HARDLINK, each started when the previous one ended, whatever its result. Apart from
// the driver so that a test can read the requests a close hands the kernel.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <optional>

#include "ServerCounters.h"

namespace mux {

// One connection's close: the requests of its own still in the kernel, then its descriptor.
struct CloseChain {
  int fd = -1;
  std::optional<std::uint64_t> armed_recv;      // user_data of its multishot recv, if still armed
  std::optional<std::uint64_t> send_in_flight;  // user_data of its send, if not yet completed
  std::uint64_t close_data = 0;                 // user_data of the CLOSE, the chain's last CQE
  std::uint64_t ignored_data = 0;               // user_data of the others' CQEs
};

// The most SQEs one chain takes. A linked chain must not be split across two submits (the kernel
// would run the second half unlinked): the caller leaves this many free in the SQ.
constexpr unsigned kCloseChainMaxSqes = 5;

// Queues, unsubmitted: ASYNC_CANCEL of each request of the connection still in the kernel, by its
// user_data; SHUTDOWN(SHUT_WR); a non-blocking RECV that drains unread input; CLOSE. Counts them.
void queue_close_chain(io_uring& ring, const CloseChain& chain, SqeCounts& counted);

}  // namespace mux
