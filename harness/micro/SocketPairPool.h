// The descriptors every micro-benchmark watches: real sockets (AF_UNIX socketpairs), both ends
// watched, so that N watched descriptors cost N open files and N can reach the open-file limit
// (watching one end per pair would halve the largest N: 9,99x instead of 19,9xx at a 20000 limit).
// Descriptor i is made readable by writing one byte into its peer (i ^ 1); the peer itself stays
// unreadable, since nothing is ever written towards it.
//
// The watched descriptors are the lowest free numbers (contiguous unless the process inherited
// descriptors in between), because select's cost follows the highest descriptor number and it
// cannot watch one >= FD_SETSIZE: a benchmark of N watched descriptors passes nfds = first + N
// (plus any inherited ones in the range), not some larger number.
//
// The pool owns its descriptors. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mux {

// How many descriptors this process may watch, and what sets that number.
struct WatchCapacity {
  std::int64_t max_watched = 0;  // largest N a benchmark can watch
  std::uint64_t fd_limit = 0;    // RLIMIT_NOFILE soft limit after raising it to the hard limit
  // Largest N select can watch: the pool takes the lowest free descriptor numbers, skipping any
  // inherited ones (a parent's leaked pipe at 251 costs select one slot), so this is the count of
  // free numbers below FD_SETSIZE.
  std::int64_t select_max_watched = 0;
  std::string limited_by;  // e.g. "RLIMIT_NOFILE=20000 (hard limit; ...)"
};

class SocketPairPool {
 public:
  // Descriptors kept free beside the pool: the epoll or io_uring descriptor, Google Benchmark's
  // output file, stdio. Without them the largest N would fail with EMFILE mid-benchmark.
  static constexpr std::int64_t kHeadroom = 32;

  SocketPairPool() = default;
  SocketPairPool(const SocketPairPool&) = delete;
  SocketPairPool& operator=(const SocketPairPool&) = delete;
  ~SocketPairPool();

  // Raises the soft open-file limit to the hard one and computes the largest N from it.
  static WatchCapacity capacity();

  // Makes the pool hold at least n watched descriptors (rebuilding it if it is smaller) with
  // none readable. Returns why not (which limit, which call failed).
  std::optional<std::string> ensure(std::int64_t n);

  std::int64_t size() const { return static_cast<std::int64_t>(fds_.size()); }
  int fd(std::int64_t i) const { return fds_[i]; }
  // The highest descriptor number among the first n.
  int max_fd(std::int64_t n) const;

  // The k indices (of the first n) that benchmarks make ready: spread evenly over the range, so
  // that a scanning mechanism (select, poll) meets the first one halfway for k = 1 rather than at
  // either end, which would flatter or punish it.
  static std::vector<std::int64_t> spread(std::int64_t n, std::int64_t k);

  // Writes one byte towards descriptor i, making it readable (again: edge-triggered mechanisms see
  // a new arrival each time).
  std::optional<std::string> poke(std::int64_t i);
  // Reads everything pending on descriptor i, so that it is no longer readable.
  std::optional<std::string> drain(std::int64_t i);
  // Re-arms edge-triggered watchers: one byte towards each of `ready`, after draining every
  // descriptor when round is a positive multiple of drain_every (so buffers never fill).
  std::optional<std::string> rearm(const std::vector<std::int64_t>& ready, std::int64_t round,
                                   std::int64_t drain_every);
  // Drains every descriptor poked since the last call (all, not only those of the caller).
  std::optional<std::string> drain_all();
  // Closes every descriptor (the chain family needs them); ensure() builds the pool again.
  void release() { close_all(); }

 private:
  void close_all();

  std::vector<int> fds_;                 // index i -> descriptor; peer of i is i ^ 1
  std::vector<std::int64_t> dirty_;      // indices that may hold unread bytes
  std::vector<unsigned char> is_dirty_;  // per index, to keep dirty_ free of duplicates
};

// One pool for the whole process: building 20000 sockets costs tens of milliseconds, and Google
// Benchmark calls a benchmark function several times while it sizes the iteration count.
SocketPairPool& shared_pool();

}  // namespace mux
