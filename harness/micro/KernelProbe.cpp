#include "KernelProbe.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "Json.h"
#include "SocketPairPool.h"
#include "system.h"

namespace mux {

// Defined in FortifiedFdSet.cpp, the one file built with _FORTIFY_SOURCE=2.
void fd_set_fortified(int fd);

namespace {

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : fmt::format("errno {}", err);
}

// A connected pair of non-blocking sockets, closed on scope exit.
struct Pair {
  int fd[2] = {-1, -1};
  Pair() { socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd); }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) close(f);
    }
  }
  bool ok() const { return fd[0] >= 0; }
  bool send_byte() const { return write(fd[1], "x", 1) == 1; }
};

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int select_once(int fd) {
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(fd, &rd);
  timeval tv{0, 0};
  const int n = select(fd + 1, &rd, nullptr, nullptr, &tv);
  return n > 0 && FD_ISSET(fd, &rd) ? 1 : n;
}

int poll_once(int fd) {
  pollfd p{fd, POLLIN, 0};
  const int n = poll(&p, 1, 0);
  return n > 0 && (p.revents & POLLIN) ? 1 : n;
}

void probe_level_triggered(KernelFacts& f) {
  Pair p;
  if (!p.ok() || !p.send_byte()) {
    f.errors.push_back(errno_text("socketpair/write for the level-triggered probes", errno));
    return;
  }
  f.select_lt_reports_again = select_once(p.fd[0]) == 1 && select_once(p.fd[0]) == 1;
  f.poll_lt_reports_again = poll_once(p.fd[0]) == 1 && poll_once(p.fd[0]) == 1;
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (ep.fd < 0 || epoll_ctl(ep.fd, EPOLL_CTL_ADD, p.fd[0], &ev) != 0) {
    f.errors.push_back(errno_text("epoll_create1/epoll_ctl for the level-triggered probe", errno));
    return;
  }
  epoll_event out[4];
  const int first = epoll_wait(ep.fd, out, 4, 0);
  const int second = epoll_wait(ep.fd, out, 4, 0);
  f.epoll_lt_reports_again = first == 1 && second == 1;
}

void probe_edge_triggered(KernelFacts& f) {
  Pair p;
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  if (!p.ok() || ep.fd < 0 || epoll_ctl(ep.fd, EPOLL_CTL_ADD, p.fd[0], &ev) != 0 ||
      !p.send_byte()) {
    f.errors.push_back(errno_text("set-up of the edge-triggered probe", errno));
    return;
  }
  epoll_event out[4];
  const int first = epoll_wait(ep.fd, out, 4, 0);
  const int second = epoll_wait(ep.fd, out, 4, 0);  // the byte is still unread
  f.epoll_et_reports_once = first == 1 && second == 0;
  if (!p.send_byte()) {
    f.errors.push_back(errno_text("write for the EPOLLET new-data probe", errno));
    return;
  }
  f.epoll_et_reports_new_data = epoll_wait(ep.fd, out, 4, 0) == 1;
}

// The select system call sizes its bitmaps from nfds; only glibc's fd_set stops at FD_SETSIZE.
void probe_select_syscall(KernelFacts& f) {
  Pair p;
  const int want = FD_SETSIZE + FD_SETSIZE / 2;  // well past the limit, not at its edge
  if (f.rlimit_nofile <= static_cast<std::uint64_t>(FD_SETSIZE)) {
    f.errors.push_back(
        fmt::format("select past FD_SETSIZE not probed: RLIMIT_NOFILE={} leaves no "
                    "descriptor >= {}",
                    f.rlimit_nofile, FD_SETSIZE));
    return;
  }
  const int target = static_cast<int>(std::min<std::uint64_t>(want, f.rlimit_nofile - 1));
  Fd high(p.ok() ? fcntl(p.fd[0], F_DUPFD_CLOEXEC, target) : -1);
  if (high.fd < FD_SETSIZE || !p.send_byte()) {
    f.errors.push_back(
        errno_text(fmt::format("dup to descriptor {} for the select probe", target), errno));
    return;
  }
  f.select_syscall_fd = high.fd;
  constexpr int kBits = 8 * sizeof(unsigned long);
  std::vector<unsigned long> bits((high.fd + kBits) / kBits, 0);
  bits[high.fd / kBits] |= 1UL << (high.fd % kBits);
  timespec ts{0, 0};
  const long n = syscall(SYS_pselect6, high.fd + 1, bits.data(), nullptr, nullptr, &ts, nullptr);
  if (n < 0) f.errors.push_back(errno_text("pselect6 with nfds > FD_SETSIZE", errno));
  f.select_syscall_accepts_fd_ge_fdsetsize =
      n == 1 && (bits[high.fd / kBits] & (1UL << (high.fd % kBits))) != 0;
}

// FD_SET(1500) in a child built with _FORTIFY_SOURCE: glibc aborts. Its stderr is captured.
void probe_fd_set_macro(KernelFacts& f) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    f.errors.push_back(errno_text("pipe for the FD_SET probe", errno));
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDERR_FILENO);
    // glibc's fortify failure also writes to the terminal when there is one; keep it in the pipe.
    setenv("LIBC_FATAL_STDERR_", "1", 1);
    fd_set_fortified(FD_SETSIZE + FD_SETSIZE / 2);
    _exit(0);
  }
  close(out[1]);
  std::string text;
  char buf[512];
  for (ssize_t got; (got = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, got);
  close(out[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    f.errors.push_back(errno_text("fork/waitpid for the FD_SET probe", errno));
    return;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (const auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
  if (WIFSIGNALED(status)) {
    const char* sig = sigabbrev_np(WTERMSIG(status));
    f.fd_set_macro_ge_fdsetsize = fmt::format("killed by SIG{}: {}", sig ? sig : "?", text);
  } else {
    f.fd_set_macro_ge_fdsetsize = fmt::format(
        "exited {} (no fortify check: the bit was written past the fd_set)", WEXITSTATUS(status));
  }
}

void probe_poll_limits(KernelFacts& f) {
  const WatchCapacity cap = SocketPairPool::capacity();
  SocketPairPool pool;
  if (auto err = pool.ensure(cap.max_watched)) {
    f.errors.push_back(*err);
  } else {
    std::vector<pollfd> fds(cap.max_watched);
    for (std::int64_t i = 0; i < cap.max_watched; ++i) fds[i] = {pool.fd(i), POLLIN, 0};
    if (poll(fds.data(), fds.size(), 0) >= 0) {
      f.poll_watched_max = cap.max_watched;
    } else {
      f.errors.push_back(errno_text(fmt::format("poll over {} sockets", cap.max_watched), errno));
    }
  }
  // Entries with fd -1 are ignored by poll, so nfds can be tested without that many descriptors.
  constexpr std::uint64_t kMaxArray = 1U << 24;  // 16M entries = 128 MiB: past that, not probed
  if (f.rlimit_nofile >= kMaxArray) {
    f.errors.push_back(
        fmt::format("poll nfds limit not probed: RLIMIT_NOFILE={} would need an "
                    "array larger than {} entries",
                    f.rlimit_nofile, kMaxArray));
    return;
  }
  const nfds_t limit = static_cast<nfds_t>(f.rlimit_nofile);
  std::vector<pollfd> none(limit + 1, pollfd{-1, POLLIN, 0});
  f.poll_nfds_at_rlimit_ok = poll(none.data(), limit, 0) == 0;
  if (poll(none.data(), limit + 1, 0) < 0) {
    f.poll_nfds_over_rlimit_errno = errno_name(errno);
  } else {
    f.poll_nfds_over_rlimit_errno = "accepted";
  }
}

void probe_mmap(KernelFacts& f) {
  const long page = sysconf(_SC_PAGESIZE);
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  void* map = mmap(nullptr, page, PROT_READ, MAP_SHARED, ep.fd, 0);
  if (map == MAP_FAILED) {
    f.epoll_fd_mmap_errno = errno_name(errno);
  } else {
    f.epoll_fd_mmap_errno = "mapped";
    munmap(map, page);
  }
  // A ready descriptor and a read-only result array: if epoll shared a mapping with user space the
  // array would not matter; the kernel copies each event out and the copy faults.
  Pair p;
  epoll_event ev{};
  ev.events = EPOLLIN;
  void* ro = mmap(nullptr, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!p.ok() || !p.send_byte() || ro == MAP_FAILED ||
      epoll_ctl(ep.fd, EPOLL_CTL_ADD, p.fd[0], &ev) != 0) {
    f.errors.push_back(errno_text("set-up of the epoll_wait copy probe", errno));
  } else if (epoll_wait(ep.fd, static_cast<epoll_event*>(ro), 1, 0) < 0) {
    f.epoll_wait_readonly_buffer_errno = errno_name(errno);
  } else {
    f.epoll_wait_readonly_buffer_errno = "accepted";
  }
  if (ro != MAP_FAILED) munmap(ro, page);
}

void probe_io_uring(KernelFacts& f) {
  io_uring_params params{};
  const long fd = syscall(__NR_io_uring_setup, 8, &params);
  if (fd < 0) {
    const int err = errno;
    f.io_uring_available = false;
    f.io_uring_unavailable_reason = errno_text("io_uring_setup", err);
    if (err == EPERM || err == EACCES) {
      f.io_uring_unavailable_reason +=
          ": disabled by sysctl kernel.io_uring_disabled or a seccomp filter";
    } else if (err == ENOSYS) {
      f.io_uring_unavailable_reason += ": kernel without io_uring (Linux 5.1+)";
    }
    return;
  }
  Fd ring(static_cast<int>(fd));
  f.io_uring_available = true;
  const std::size_t sq_bytes = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  void* map = mmap(nullptr, sq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
                   IORING_OFF_SQ_RING);
  f.io_uring_fd_mmap_ok = map != MAP_FAILED;
  if (map != MAP_FAILED) munmap(map, sq_bytes);
}

// Unmeasured values are null: an empty text, a descriptor < 0, a count of 0.
Json json(const std::optional<bool>& b) {
  return b ? Json(*b) : Json(nullptr);
}
Json json(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}
template <typename Int>
Json json_if(bool measured, Int n) {
  return measured ? Json(n) : Json(nullptr);
}

}  // namespace

KernelFacts probe_kernel() {
  KernelFacts f;
  f.fd_setsize = FD_SETSIZE;
  f.rlimit_nofile = raise_fd_limit();
  utsname u{};
  if (uname(&u) == 0) f.kernel = u.release;
  probe_level_triggered(f);
  probe_edge_triggered(f);
  probe_select_syscall(f);
  probe_fd_set_macro(f);
  probe_poll_limits(f);
  probe_mmap(f);
  probe_io_uring(f);
  return f;
}

std::string to_json(const KernelFacts& f) {
  const Json facts = {
      {"fd_setsize", f.fd_setsize},
      {"rlimit_nofile", f.rlimit_nofile},
      {"kernel", json(f.kernel)},
      {"select_lt_reports_again", json(f.select_lt_reports_again)},
      {"poll_lt_reports_again", json(f.poll_lt_reports_again)},
      {"epoll_lt_reports_again", json(f.epoll_lt_reports_again)},
      {"epoll_et_reports_once", json(f.epoll_et_reports_once)},
      {"epoll_et_reports_new_data", json(f.epoll_et_reports_new_data)},
      {"select_syscall_accepts_fd_ge_fdsetsize", json(f.select_syscall_accepts_fd_ge_fdsetsize)},
      {"select_syscall_fd", json_if(f.select_syscall_fd >= 0, f.select_syscall_fd)},
      {"fd_set_macro_ge_fdsetsize", json(f.fd_set_macro_ge_fdsetsize)},
      {"poll_watched_max", json_if(f.poll_watched_max > 0, f.poll_watched_max)},
      {"poll_nfds_at_rlimit_ok", json(f.poll_nfds_at_rlimit_ok)},
      {"poll_nfds_over_rlimit_errno", json(f.poll_nfds_over_rlimit_errno)},
      {"epoll_fd_mmap_errno", json(f.epoll_fd_mmap_errno)},
      {"epoll_wait_readonly_buffer_errno", json(f.epoll_wait_readonly_buffer_errno)},
      {"io_uring_fd_mmap_ok", json(f.io_uring_fd_mmap_ok)},
      {"io_uring_available", f.io_uring_available},
      {"io_uring_unavailable_reason", json(f.io_uring_unavailable_reason)},
      {"errors", f.errors},
  };
  return json_line(facts);
}

}  // namespace mux
