#include "Progress.h"

#include <fmt/format.h>

namespace mux {

double seconds_between(std::uint64_t since_ns, std::uint64_t now_ns) {
  return now_ns > since_ns ? static_cast<double>(now_ns - since_ns) / 1e9 : 0.0;
}

std::string warmup_progress(std::uint64_t start_ns, std::uint64_t now_ns, double warmup_s) {
  return fmt::format("warm-up {:.0f}/{} s", seconds_between(start_ns, now_ns), warmup_s);
}

std::string window_progress(std::uint64_t begin_ns, std::uint64_t now_ns, double duration_s,
                            std::uint64_t count, std::string_view unit,
                            std::optional<std::uint64_t> p99_ns) {
  const double in = seconds_between(begin_ns, now_ns);
  std::string s = fmt::format("window {:.0f}/{} s, {} {} ({:.0f}/s)", in, duration_s, count, unit,
                              in > 0 ? static_cast<double>(count) / in : 0.0);
  if (p99_ns) s += fmt::format(", p99 {:.1f} us", static_cast<double>(*p99_ns) / 1e3);
  return s;
}

}  // namespace mux
