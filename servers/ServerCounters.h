// What a server counts: the application's figures (the core's) and the cost of getting bytes in
// and out (the driver's), which /stats prints side by side so that a message's system calls can
// be read beside its CPU time.
#pragma once

#include <cstdint>
#include <string_view>

#include "system.h"

namespace mux {

struct ServerCounters {
  std::uint64_t accepted = 0, refused = 0, current = 0, peak = 0;
  std::uint64_t msgs_in = 0, msgs_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t slow_dropped = 0, overlong_dropped = 0;
};

// Every system call a driver makes, by kind, counted where it is made.
struct SyscallCounts {
  std::uint64_t wait = 0;    // select, poll, epoll_wait, io_uring_enter that waits
  std::uint64_t ctl = 0;     // epoll_ctl; io_uring_enter only to submit (a full submission ring)
  std::uint64_t accept = 0;  // accept4
  std::uint64_t recv = 0;    // recv, including the one that returns EAGAIN (edge-triggered)
  std::uint64_t send = 0;
  std::uint64_t close = 0;  // shutdown and close of a connection, refused ones included
  std::uint64_t other = 0;  // the spare descriptor, the wake-up pipe, getrusage for /stats
  std::uint64_t total() const { return wait + ctl + accept + recv + send + close + other; }
};

// io_uring requests (SQEs) by operation. They are not system calls: many travel to the kernel in
// one io_uring_enter, which is the completion model's whole argument; counting them shows what
// each enter carried.
struct SqeCounts {
  std::uint64_t poll = 0;    // POLL_ADD (multishot) and POLL_REMOVE of a connection or listener
  std::uint64_t accept = 0;  // multishot ACCEPT (armed once, again only when the kernel ends it)
  std::uint64_t recv = 0;    // multishot RECV (likewise), and the drain RECV before a close
  std::uint64_t send = 0;    // SEND, one per batch of output, one more per short send
  std::uint64_t close = 0;   // SHUTDOWN and CLOSE
  std::uint64_t other = 0;   // ASYNC_CANCEL, the POLL_ADD on the stop signal's pipe
  std::uint64_t total() const { return poll + accept + recv + send + close + other; }
};

struct DriverCounters {
  std::string_view mechanism;
  std::uint64_t wait_calls = 0;  // the mechanism's wait calls (= syscalls.wait)
  std::uint64_t events = 0;      // readiness events or completions handed to the core's loop
  std::uint64_t fds_passed = 0;  // descriptors handed to the kernel by wait calls (select, poll)
  std::uint64_t ctl_calls = 0;   // interest changes: epoll_ctl calls, io_uring poll SQEs
  // Completion model: multishot recvs the kernel ended with ENOBUFS because the provided-buffer
  // ring was empty (each is re-armed once buffers are back; no data is lost). 0 elsewhere.
  std::uint64_t recv_nobufs = 0;
  SyscallCounts syscalls;
  SqeCounts sqes;
  CpuTimes cpu;
};

}  // namespace mux
