#include "SocketPairPool.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "system.h"

namespace mux {
namespace {

// How many descriptors below `below` are open (fcntl F_GETFD succeeds on them).
std::int64_t open_below(std::uint64_t below) {
  std::int64_t open = 0;
  for (std::uint64_t fd = 0; fd < below; ++fd) {
    if (fcntl(static_cast<int>(fd), F_GETFD) >= 0) ++open;
  }
  return open;
}

}  // namespace

SocketPairPool::~SocketPairPool() {
  close_all();
}

WatchCapacity SocketPairPool::capacity() {
  WatchCapacity cap;
  cap.fd_limit = raise_fd_limit();
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  // Probing every number up to the limit costs one fcntl each: ~20000 at most on this VM, and the
  // limit is capped here only so that a 1M hard limit does not take seconds.
  const std::uint64_t usable = std::min<std::uint64_t>(cap.fd_limit, 1U << 24);
  const std::int64_t open = open_below(usable);
  const std::int64_t room = static_cast<std::int64_t>(usable) - open - kHeadroom;
  // Even: descriptors come in pairs, and an odd N would still open its last peer.
  cap.max_watched = std::max<std::int64_t>(0, room & ~std::int64_t{1});
  cap.select_max_watched = FD_SETSIZE - open_below(FD_SETSIZE);
  cap.limited_by = fmt::format(
      "RLIMIT_NOFILE={} (soft limit raised to the hard limit {}; each watched descriptor is one "
      "socket, {} descriptors are already open and {} are kept free)",
      cap.fd_limit,
      lim.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_max), open,
      kHeadroom);
  return cap;
}

void SocketPairPool::close_all() {
  for (int fd : fds_) close(fd);
  fds_.clear();
  dirty_.clear();
  is_dirty_.clear();
}

std::optional<std::string> SocketPairPool::ensure(std::int64_t n) {
  if (n <= size()) return drain_all();
  close_all();
  const std::int64_t pairs = (n + 1) / 2;
  fds_.reserve(pairs * 2);
  for (std::int64_t p = 0; p < pairs; ++p) {
    int sv[2];
    // Non-blocking: a poke into a full buffer or a drain of an empty one must fail fast, never
    // hang a benchmark.
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      const int err = errno;
      const std::int64_t made = size();
      close_all();
      rlimit lim{};
      getrlimit(RLIMIT_NOFILE, &lim);
      return errno_text(
          fmt::format("socketpair after {} descriptors (for N={} watched; {})", made, n,
                      err == EMFILE ? fmt::format("open-file limit RLIMIT_NOFILE={}", lim.rlim_cur)
                                    : std::string("see ulimit -n and /proc/sys/fs/file-max")),
          err);
    }
    fds_.push_back(sv[0]);
    fds_.push_back(sv[1]);
  }
  is_dirty_.assign(fds_.size(), 0);
  return std::nullopt;
}

int SocketPairPool::max_fd(std::int64_t n) const {
  return *std::max_element(fds_.begin(), fds_.begin() + n);
}

std::vector<std::int64_t> SocketPairPool::spread(std::int64_t n, std::int64_t k) {
  std::vector<std::int64_t> out;
  k = std::min(k, n);
  out.reserve(k);
  // Centre of each of k equal slices: distinct for k <= n.
  for (std::int64_t j = 0; j < k; ++j) out.push_back((2 * j + 1) * n / (2 * k));
  return out;
}

std::optional<std::string> SocketPairPool::poke(std::int64_t i) {
  const char byte = 'x';
  const int peer = fds_[i ^ 1];
  if (write(peer, &byte, 1) != 1) {
    return errno_text(fmt::format("write to descriptor {} (peer of watched {})", peer, fds_[i]),
                      errno);
  }
  if (!is_dirty_[i]) {
    is_dirty_[i] = 1;
    dirty_.push_back(i);
  }
  return std::nullopt;
}

std::optional<std::string> SocketPairPool::drain(std::int64_t i) {
  char buf[4096];
  for (;;) {
    const ssize_t got = read(fds_[i], buf, sizeof buf);
    if (got > 0) continue;
    if (got < 0 && errno != EAGAIN) {
      return errno_text(fmt::format("read from watched descriptor {}", fds_[i]), errno);
    }
    return std::nullopt;
  }
}

std::optional<std::string> SocketPairPool::drain_all() {
  for (std::int64_t i : dirty_) {
    if (auto err = drain(i)) return err;
    is_dirty_[i] = 0;
  }
  dirty_.clear();
  return std::nullopt;
}

std::optional<std::string> SocketPairPool::rearm(const std::vector<std::int64_t>& ready,
                                                 std::int64_t round, std::int64_t drain_every) {
  if (round > 0 && round % drain_every == 0) {
    if (auto err = drain_all()) return err;
  }
  for (std::int64_t i : ready) {
    if (auto err = poke(i)) return err;
  }
  return std::nullopt;
}

SocketPairPool& shared_pool() {
  static SocketPairPool pool;
  return pool;
}

}  // namespace mux
