#include "CloseChain.h"

#include <sys/socket.h>

#include <cstddef>

namespace mux {
namespace {

// What the drain RECV takes: input the multishot recv has not already taken.
constexpr std::size_t kDrainBytes = 64 * 1024;

// After the prep, which clears the flags.
void link(io_uring_sqe* sqe, std::uint64_t user_data) {
  io_uring_sqe_set_data64(sqe, user_data);
  sqe->flags |= IOSQE_IO_HARDLINK;
}

}  // namespace

void queue_close_chain(io_uring& ring, const CloseChain& chain, SqeCounts& counted) {
  for (const auto& target : {chain.armed_recv, chain.send_in_flight}) {
    if (!target) continue;
    // By user_data, not by descriptor: the kernel keeps armed requests (every idle connection's
    // multishot recv) in a hash table keyed by user_data and finds this one in one bucket.
    // IORING_ASYNC_CANCEL_FD has no key to hash: the kernel compares the file of every armed
    // request in every bucket, so each close would cost in proportion to all the connections.
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel64(sqe, *target, 0);
    link(sqe, chain.ignored_data);
    ++counted.other;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_shutdown(sqe, chain.fd, SHUT_WR);
  link(sqe, chain.ignored_data);
  // Whatever the drains write is never read: one sink serves every connection.
  static char sink[kDrainBytes];
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv(sqe, chain.fd, sink, sizeof sink, MSG_DONTWAIT);
  link(sqe, chain.ignored_data);
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_close(sqe, chain.fd);
  io_uring_sqe_set_data64(sqe, chain.close_data);
  counted.close += 2;
  ++counted.recv;
}

}  // namespace mux
