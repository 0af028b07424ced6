// --window auto for flood: the window (messages in flight per sender) is chosen during the
// warm-up instead of guessed. Too small a window measures the round trip, not the server; too
// large only adds queueing delay once the server is saturated.
//
// The rule: start at 1 and double after each slice of the warm-up (warm-up / kSlices long),
// measuring each slice's deliveries per second and both processes' CPU. Stop at the first window
// that drives the server or the loadgen to kSaturatedCpuPct of a CPU (keep it), or whose
// throughput is less than kMinGain times the previous window's (keep the previous: the extra
// messages only queued), or that cannot be doubled within max_window(). A warm-up that ends
// before any of these keeps the window reached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace mux {

class WindowTuner {
 public:
  // Warm-up slices: one per doubling from 1 to kMaxWindow (11), plus one at the chosen window
  // before the measuring window opens.
  static constexpr int kSlices = 12;
  static constexpr double kMinGain = 1.05;
  static constexpr std::uint64_t kMaxWindow = 1024;
  // Half the servers' default per-client output bound (--max-outbuf, 1 MiB): a sender's whole
  // window can sit in one queue when its receiver lags, and past the bound the server drops the
  // receiver as a slow consumer.
  static constexpr std::uint64_t kMaxBytesInFlight = 512 * 1024;

  // The largest window tried for messages of `size` text bytes.
  static std::uint64_t max_window(std::size_t size);

  struct Slice {
    double msgs_per_s = 0;
    std::optional<double> server_cpu_pct;  // unknown without /stats or --server-pid
    std::optional<double> loadgen_cpu_pct;
  };

  explicit WindowTuner(std::uint64_t max_window) : max_(max_window < 1 ? 1 : max_window) {}

  // The window to send with now (the chosen one once done()).
  std::uint64_t window() const { return window_; }
  bool done() const { return done_; }
  // The slice just measured at window(): decides, or doubles the window for the next slice.
  void record(const Slice& s);
  // The warm-up is over: keep the current window.
  void finish() { done_ = true; }

 private:
  std::uint64_t window_ = 1;
  std::uint64_t max_;
  std::optional<double> prev_rate_;
  bool done_ = false;
};

}  // namespace mux
