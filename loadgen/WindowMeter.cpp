#include "WindowMeter.h"

#include "Net.h"

namespace mux {

WindowMeter::Snapshot WindowMeter::take(bool with_stats) {
  Snapshot s;
  if (with_stats && control_.connected()) {
    auto st = control_.stats(2000);
    if (auto* line = std::get_if<StatsLine>(&st)) s.stats = *line;
  }
  if (o_.server_pid > 0) s.server_proc = process_cpu_times(o_.server_pid);
  s.self = self_cpu_times();
  s.t_ns = now_ns();
  return s;
}

std::optional<double> WindowMeter::server_us(const Snapshot& s) {
  if (s.stats)
    if (auto cpu = s.stats->cpu_us()) return cpu;
  if (s.server_proc) return static_cast<double>(s.server_proc->total_us());
  return std::nullopt;
}

std::uint64_t WindowMeter::begin() {
  begin_ = take(true);
  begun_ = true;
  return begin_.t_ns;
}

void WindowMeter::end(bool server_alive) {
  if (!begun_ || ended_) return;
  ended_ = true;
  end_ = take(server_alive);
}

void WindowMeter::fill(RunResult& r) const {
  if (!begun_ || !ended_) return;
  r.measured = true;
  r.measured_s = static_cast<double>(end_.t_ns - begin_.t_ns) / 1e9;
  const double window_us = r.measured_s * 1e6;
  if (window_us > 0) {
    r.loadgen_cpu_pct =
        static_cast<double>(end_.self.total_us() - begin_.self.total_us()) / window_us * 100;
  }
  if (begin_.stats && end_.stats) {
    auto delta = [&](const char* key) { return end_.stats->minus(*begin_.stats, key); };
    r.server_wait_calls = delta("wait_calls");
    r.server_events = delta("events");
    r.server_fds_passed = delta("fds_passed");
    r.server_ctl_calls = delta("ctl_calls");
    r.server_syscalls = delta("syscalls");
    r.server_sqes = delta("sqes");
    // The server's own getrusage figures come in µs; /proc/PID/stat counts clock ticks (10 ms at
    // USER_HZ=100), a 2 % error bar on a 0.5 s window at 100 % CPU. Both are the kernel's
    // accounting of the same process, so the finer one wins.
    auto u = delta("cpu_user_us"), s = delta("cpu_sys_us");
    if (u && s) r.server_cpu_us = static_cast<double>(*u) + static_cast<double>(*s);
  }
  if (!r.server_cpu_us && begin_.server_proc && end_.server_proc) {
    r.server_cpu_us =
        static_cast<double>(end_.server_proc->total_us() - begin_.server_proc->total_us());
  }
}

void WindowMeter::judge(RunResult& r, std::uint64_t server_error_lines) {
  if (r.status != "ok") return;
  const double lg = r.loadgen_cpu_pct.value_or(0);
  const auto srv = r.server_cpu_pct();
  if (r.integrity.total() > 0 || server_error_lines > 0) {
    r.status = "integrity-errors";
  } else if (lg >= kSaturatedCpuPct && (!srv || *srv < kSaturatedCpuPct)) {
    // Our one thread was busy nearly the whole window while the server was not: the figures
    // measure the load generator, not the server.
    r.status = "loadgen-bound";
  }
}

}  // namespace mux
