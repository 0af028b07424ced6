#include "WindowTuner.h"

#include <algorithm>

#include "RunResult.h"

namespace mux {

std::uint64_t WindowTuner::max_window(std::size_t size) {
  return std::clamp<std::uint64_t>(kMaxBytesInFlight / (size + 1), 1, kMaxWindow);
}

void WindowTuner::record(const Slice& s) {
  if (done_) return;
  auto saturated = [](const std::optional<double>& pct) { return pct && *pct >= kSaturatedCpuPct; };
  if (saturated(s.server_cpu_pct) || saturated(s.loadgen_cpu_pct)) {
    done_ = true;
  } else if (prev_rate_ && s.msgs_per_s < *prev_rate_ * kMinGain) {
    window_ /= 2;
    done_ = true;
  } else if (window_ * 2 > max_) {
    done_ = true;
  } else {
    prev_rate_ = s.msgs_per_s;
    window_ *= 2;
  }
}

}  // namespace mux
