#include "Histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mux {
namespace {

// The exact percentile with the histogram's definition: the ceil(q*n)-th smallest sample.
std::uint64_t exact(std::vector<std::uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * v.size())));
  return v[rank - 1];
}

void expect_within_one_percent(const std::vector<std::uint64_t>& samples) {
  Histogram h;
  for (auto s : samples) h.record(s);
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const double want = static_cast<double>(exact(samples, q));
    const double got = static_cast<double>(h.percentile(q));
    EXPECT_LE(std::abs(got - want), 0.01 * want) << "q=" << q << " want " << want;
  }
}

TEST(Histogram, BucketCountCoversHundredSeconds) {
  EXPECT_EQ(Histogram::index_of(Histogram::kMaxTrackable) + 1, Histogram::kBuckets);
}

TEST(Histogram, BucketsTileTheRangeWithBoundedWidth) {
  for (std::size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::lowest_in(i) + Histogram::width_of(i), Histogram::lowest_in(i + 1));
    ASSERT_EQ(Histogram::index_of(Histogram::lowest_in(i)), i);
    ASSERT_EQ(Histogram::index_of(Histogram::lowest_in(i) + Histogram::width_of(i) - 1), i);
    if (Histogram::lowest_in(i) >= 1000) {
      ASSERT_LE(static_cast<double>(Histogram::width_of(i)) / Histogram::lowest_in(i), 0.01);
    }
  }
}

TEST(Histogram, UniformMicrosecondsMatchExactPercentiles) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> d(1'000, 1'000'000);
  std::vector<std::uint64_t> v(100'000);
  for (auto& x : v) x = d(rng);
  expect_within_one_percent(v);
}

TEST(Histogram, HeavyTailFromMicrosecondsToSecondsMatchesExactPercentiles) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(std::log(20'000.0), 2.0);
  std::vector<std::uint64_t> v(200'000);
  for (auto& x : v)
    x = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(d(rng)), 1'000,
                                  Histogram::kMaxTrackable);
  expect_within_one_percent(v);
}

TEST(Histogram, MeanMaxMinAndCountAreExact) {
  Histogram h;
  h.record(1'000);
  h.record(3'000);
  h.record(123'456'789);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.max(), 123'456'789u);
  EXPECT_EQ(h.min(), 1'000u);
  EXPECT_DOUBLE_EQ(h.mean(), (1'000.0 + 3'000.0 + 123'456'789.0) / 3);
  EXPECT_EQ(h.percentile(1.0), 123'456'789u);
  EXPECT_EQ(h.percentile(0.0), 1'000u);
}

TEST(Histogram, SingleValueIsExact) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.record(54'321);
  EXPECT_EQ(h.percentile(0.5), 54'321u);
  EXPECT_EQ(h.percentile(0.999), 54'321u);
}

TEST(Histogram, ValuesBeyondHundredSecondsAreCountedNotDropped) {
  Histogram h;
  h.record(500ULL * 1'000'000'000ULL);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 500ULL * 1'000'000'000ULL);
  EXPECT_GE(h.percentile(0.5), Histogram::kMaxTrackable * 99 / 100);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::uint64_t> d(1'000, 10'000'000);
  Histogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    auto x = d(rng), y = d(rng);
    a.record(x);
    b.record(y);
    all.record(x);
    all.record(y);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double q : {0.5, 0.9, 0.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
}

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  h.record(5'000);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
}

}  // namespace
}  // namespace mux
