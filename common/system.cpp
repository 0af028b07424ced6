#include "system.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace mux {

std::string errno_text(const std::string& what, int err) {
  return fmt::format("{}: {} (errno {})", what, std::strerror(err), err);
}

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : lim.rlim_cur;
}

std::optional<std::string> pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0 || cpu >= CPU_SETSIZE) return fmt::format("--cpu {}: no such CPU", cpu);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return errno_text(fmt::format("--cpu {}: sched_setaffinity (this machine has {} CPUs online)",
                                  cpu, sysconf(_SC_NPROCESSORS_ONLN)),
                      errno);
  }
  return std::nullopt;
}

std::optional<CpuTimes> process_cpu_times(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/stat") : fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields 3..13 precede utime (14) and stime (15).
  for (int i = 3; i <= 13; ++i) rest >> field;
  unsigned long long utime = 0, stime = 0;
  if (!(rest >> utime >> stime)) return std::nullopt;
  const long hz = sysconf(_SC_CLK_TCK);
  return CpuTimes{utime * 1000000ULL / hz, stime * 1000000ULL / hz};
}

CpuTimes self_cpu_times() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1000000ULL +
           static_cast<std::uint64_t>(tv.tv_usec);
  };
  return CpuTimes{us(ru.ru_utime), us(ru.ru_stime)};
}

}  // namespace mux
