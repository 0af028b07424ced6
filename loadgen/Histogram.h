// A log-linear latency histogram: values in nanoseconds, exact below 256 ns, then 128 linear
// sub-buckets per power of two. Reporting a bucket's midpoint bounds the relative error by 1/256
// (0.4 %), inside the 1 % the spec asks for, over 1 µs .. 100 s in 3899 counters (31 KiB).
// HdrHistogram_c does the same job but is not packaged in Debian; this is the part we need.
// Not thread-safe: one per event loop, merged once at the end (as wrk does).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mux {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kSub = 1ULL << kSubBits;  // sub-buckets per power of two
  static constexpr std::uint64_t kMaxTrackable = 100'000'000'000ULL;  // 100 s in ns
  static constexpr std::size_t kBuckets = 3899;  // index_of(kMaxTrackable) + 1 (checked by a test)

  // Records one value in nanoseconds. Values above 100 s are counted in the top bucket (and
  // max() keeps the true value), so a stuck message is never silently dropped.
  void record(std::uint64_t ns);
  void merge(const Histogram& other);
  void reset();
  // The values recorded since `earlier`, an earlier copy of this histogram (the per-interval
  // series cuts the row's histogram at each interval's edge instead of recording every value
  // twice). Counts and the sum subtract exactly; min and max become the edges of the lowest and
  // highest non-empty bucket (within this histogram's own min and max), as a copy cannot tell
  // which extreme came after it.
  Histogram since(const Histogram& earlier) const;

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  std::uint64_t sum() const { return sum_; }
  // The count in bucket `index` (< kBuckets). For serialisation (HistogramJson.h), not the hot
  // path.
  std::uint64_t count_at(std::size_t index) const { return counts_[index]; }
  // Rebuilds a histogram from its parts (as HistogramJson.h reads them back): the count is the
  // sum of the bucket counts. Returns an error when an index is out of range or the parts
  // contradict each other (min > max, or a non-empty histogram with no buckets).
  static std::optional<std::string> restore(
      const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets, std::uint64_t min,
      std::uint64_t max, std::uint64_t sum, Histogram& out);
  // The value at quantile q (0 < q <= 1): the smallest recorded value v such that at least
  // ceil(q * count) values are <= v, within the bucket error. 0 when empty.
  std::uint64_t percentile(double q) const;

  // Bucket arithmetic, public for the unit tests.
  static std::size_t index_of(std::uint64_t ns);
  static std::uint64_t lowest_in(std::size_t index);
  static std::uint64_t width_of(std::size_t index);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;  // 2^64 ns = 584 years of summed latency: no overflow in practice
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace mux
