// Process-level helpers every muxbench binary needs: descriptor limits, CPU pinning and the
// kernel's CPU accounting. Errors are returned as text a user can act on, never swallowed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mux {

// "what: strerror(errno) (errno N)" for the current errno.
std::string errno_text(const std::string& what, int err);

// Raises RLIMIT_NOFILE's soft limit to its hard limit and returns the resulting soft limit.
// The hard limit is the machine's decision (20000 on our reference VM, often 1M elsewhere); we
// never assume a value.
std::uint64_t raise_fd_limit();

// Pins the calling process to one CPU. Returns an error message, or nullopt on success.
std::optional<std::string> pin_to_cpu(int cpu);

// User and system CPU time of a process, in microseconds, from /proc/PID/stat (the kernel's own
// accounting, in clock ticks: 10 ms resolution at USER_HZ=100, which is why callers measure over
// windows of seconds). pid 0 means this process.
struct CpuTimes {
  std::uint64_t user_us = 0;
  std::uint64_t system_us = 0;
  std::uint64_t total_us() const { return user_us + system_us; }
};
std::optional<CpuTimes> process_cpu_times(pid_t pid);

// CPU time of the calling process from getrusage (microsecond resolution).
CpuTimes self_cpu_times();

}  // namespace mux
