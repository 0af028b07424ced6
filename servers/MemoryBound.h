// The most memory a chat server can hold, as a function of its options: what
// docs/protocol.md#memory states and what ServerLimitsTest checks against the server's peak
// resident set. User-space memory only; the kernel's share (socket structures, socket buffers) is
// bounded by the kernel's own limits (net.ipv4.tcp_mem, tcp_rmem, tcp_wmem).
#pragma once

#include <cstdint>

#include "ChatCore.h"

namespace mux {

// The process with no connection: the binary, its libraries, the 64 KiB read buffer, the
// io_uring rings. Measured: 4.3 MiB (readiness servers) and 4.9 MiB (uring, uring-completion)
// resident at start on Debian 12 / glibc 2.36; the rest is room for malloc's arenas.
constexpr std::uint64_t kBaseBytes = 8 << 20;

// One connection with nothing queued: its state in the core and the driver, its nick (up to 32
// characters) and, at worst, a room of its own (every room has a member, so there are at most
// min(--max-rooms, --max-conns) rooms). Measured with 10000 connections each renamed to a
// 32-character nick in its own 32-character room, minus the server at rest: 723-747 bytes
// (readiness servers), 975 (uring-completion, its provided buffers apart); idle guests in
// lobby: 409-466 bytes.
constexpr std::uint64_t kConnectionBytes = 1024;

// The longest line the server queues beyond a client's --max-line: the "<NICK> " prefix of a
// message, a /stats reply (~700 bytes), a /who reply's header.
constexpr std::uint64_t kLineSlackBytes = 1024;

// The bytes all output queues together may hold (each queue's unsent bytes, not its allocation):
// every queue is at most the limit it was last held to plus one line (the line that tips it over
// gets the client dropped), and that limit stays below 8/7 of --max-queued-total / connections
// (ChatCore::update_queue_limit checks every queue once the limit has fallen by 1/8), and at
// most --max-outbuf. So: 8/7 of the budget, at most --max-conns x --max-outbuf, plus one line
// per connection.
constexpr std::uint64_t queued_total_bound_bytes(const ServerOptions& o) {
  const std::uint64_t all_full = o.max_conns * std::uint64_t{o.max_outbuf};
  const std::uint64_t budget =
      o.max_queued_total == 0 ? all_full : o.max_queued_total + o.max_queued_total / 7;
  return (budget < all_full ? budget : all_full) +
         o.max_conns * (std::uint64_t{o.max_line} + kLineSlackBytes);
}

// Worst case, every connection at its limits at once: a partial line of --max-line bytes in a
// buffer twice its size; a drained output queue keeping kRetainedCapacity; the queued bytes of
// queued_total_bound_bytes in std::strings whose capacity may be twice their size after growing
// by doubling. uring-completion holds a second such buffer per connection, the send in flight
// (taken from the queue, so bounded by the same limits, and counted beside it), and its provided
// buffers.
// With --max-conns 0 (no cap) there is no bound: UINT64_MAX.
constexpr std::uint64_t worst_case_memory_bytes(const ServerOptions& o, bool completion_model) {
  if (o.max_conns == 0) return UINT64_MAX;
  const std::uint64_t copies = completion_model ? 2 : 1;
  const std::uint64_t line = o.max_line + 1;
  const std::uint64_t per_connection = kConnectionBytes + 2 * line + copies * kRetainedCapacity;
  const std::uint64_t buffers =
      completion_model ? std::uint64_t{o.uring_buffers ? o.uring_buffers : kDefaultUringBuffers} *
                             kUringBufferBytes
                       : 0;
  return kBaseBytes + o.max_conns * per_connection + copies * 2 * queued_total_bound_bytes(o) +
         buffers;
}

}  // namespace mux
