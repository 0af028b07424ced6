#include "Histogram.h"

#include <algorithm>
#include <cmath>

namespace mux {

namespace {
constexpr std::uint64_t kLinearEnd = 2 * Histogram::kSub;  // values below are their own bucket
}

std::size_t Histogram::index_of(std::uint64_t ns) {
  if (ns < kLinearEnd) return static_cast<std::size_t>(ns);
  const int top = 63 - __builtin_clzll(ns);        // >= kSubBits + 1
  const int shift = top - kSubBits;                // >= 1
  const std::uint64_t sub = (ns >> shift) - kSub;  // 0 .. kSub-1
  return static_cast<std::size_t>(kLinearEnd + (shift - 1) * kSub + sub);
}

std::uint64_t Histogram::lowest_in(std::size_t index) {
  if (index < kLinearEnd) return index;
  const std::uint64_t shift = (index - kLinearEnd) / kSub + 1;
  const std::uint64_t sub = (index - kLinearEnd) % kSub + kSub;
  return sub << shift;
}

std::uint64_t Histogram::width_of(std::size_t index) {
  if (index < kLinearEnd) return 1;
  return 1ULL << ((index - kLinearEnd) / kSub + 1);
}

void Histogram::record(std::uint64_t ns) {
  const std::size_t i = std::min(index_of(std::min(ns, kMaxTrackable)), kBuckets - 1);
  ++counts_[i];
  ++count_;
  sum_ += ns;
  max_ = std::max(max_, ns);
  min_ = std::min(min_, ns);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

std::optional<std::string> Histogram::restore(
    const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets, std::uint64_t min,
    std::uint64_t max, std::uint64_t sum, Histogram& out) {
  Histogram h;
  for (const auto& [index, n] : buckets) {
    if (index >= kBuckets) return "bucket index " + std::to_string(index) + " out of range";
    h.counts_[index] += n;
    h.count_ += n;
  }
  if (h.count_ > 0) {
    if (min > max) return "min > max";
    h.min_ = min;
    h.max_ = max;
    h.sum_ = sum;
  } else if (min != 0 || max != 0 || sum != 0) {
    return "no counts but a non-zero min, max or sum";
  }
  out = h;
  return std::nullopt;
}

Histogram Histogram::since(const Histogram& earlier) const {
  Histogram d;
  std::size_t first = kBuckets, last = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t n = counts_[i] >= earlier.counts_[i] ? counts_[i] - earlier.counts_[i] : 0;
    d.counts_[i] = n;
    d.count_ += n;
    if (n > 0) {
      first = std::min(first, i);
      last = i;
    }
  }
  if (d.count_ == 0) return Histogram{};
  d.sum_ = sum_ >= earlier.sum_ ? sum_ - earlier.sum_ : 0;
  d.min_ = std::max(lowest_in(first), min_);
  d.max_ = last == kBuckets - 1 ? max_ : std::min(lowest_in(last) + width_of(last) - 1, max_);
  return d;
}

void Histogram::reset() {
  *this = Histogram{};
}

std::uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  if (q <= 0.0) return min_;
  if (q >= 1.0) return max_;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The midpoint halves the worst-case error; clamping to the exact extremes makes p0/p100
      // (and single-valued histograms) exact.
      const std::uint64_t mid = lowest_in(i) + (width_of(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace mux
