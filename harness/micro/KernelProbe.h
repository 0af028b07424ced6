// What this kernel and libc actually do, observed rather than asserted, for the report's claims
// 1 (FD_SETSIZE), 3 (poll's limit), 5 and 6 (level/edge triggering) and 9 (epoll and mmap).
// Every value is the outcome of a system call made by probe_kernel(); a step that could not be made
// leaves its value unset and says why in `errors`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mux {

struct KernelFacts {
  int fd_setsize = 0;
  std::uint64_t rlimit_nofile = 0;
  std::string kernel;  // uname -r

  // Claim 5 and 6: an unserviced readable descriptor, asked twice.
  std::optional<bool> select_lt_reports_again;
  std::optional<bool> poll_lt_reports_again;
  std::optional<bool> epoll_lt_reports_again;
  std::optional<bool> epoll_et_reports_once;      // EPOLLET: first call 1 event, second 0
  std::optional<bool> epoll_et_reports_new_data;  // EPOLLET: a new byte makes a new event

  // Claim 1: the limit is glibc's fd_set, not the system call. A hand-sized bitmap passed to the
  // select system call (pselect6) with nfds > FD_SETSIZE, and what FD_SET does past the limit in a
  // _FORTIFY_SOURCE build (in a child process).
  std::optional<bool> select_syscall_accepts_fd_ge_fdsetsize;
  int select_syscall_fd = -1;             // the descriptor used for it
  std::string fd_set_macro_ge_fdsetsize;  // e.g. "SIGABRT: *** bit out of range ... ***"

  // Claim 3: poll's only limit is RLIMIT_NOFILE on nfds.
  std::int64_t poll_watched_max = 0;  // distinct open sockets one poll call watched
  std::optional<bool> poll_nfds_at_rlimit_ok;
  std::string poll_nfds_over_rlimit_errno;  // "EINVAL" expected

  // Claim 9: epoll's descriptor cannot be mapped, and epoll_wait writes into the caller's array.
  std::string epoll_fd_mmap_errno;               // "ENODEV" expected
  std::string epoll_wait_readonly_buffer_errno;  // "EFAULT": events are copied out
  std::optional<bool> io_uring_fd_mmap_ok;       // io_uring's rings are mapped

  bool io_uring_available = false;
  std::string io_uring_unavailable_reason;

  std::vector<std::string> errors;  // probe steps that could not be made, and why
};

KernelFacts probe_kernel();

// One JSON object, keys as in KernelFacts; unset values are null.
std::string to_json(const KernelFacts& facts);

}  // namespace mux
