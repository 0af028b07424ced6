#include "ArrivalSchedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mux {
namespace {

constexpr std::uint64_t kStart = 1'000'000'000'000ULL;

// The gaps between the first n + 1 intended times.
std::vector<double> gaps(ArrivalSchedule& s, std::size_t n) {
  s.start(kStart);
  std::vector<double> out;
  std::uint64_t last = s.next_ns();
  EXPECT_EQ(last, kStart);  // the first message is due at the start
  for (std::size_t i = 0; i < n; ++i) {
    s.advance();
    EXPECT_GE(s.next_ns(), last);
    out.push_back(static_cast<double>(s.next_ns() - last));
    last = s.next_ns();
  }
  EXPECT_EQ(s.sent(), n);
  return out;
}

TEST(ArrivalSchedule, FixedIsEvenGapsFromTheStart) {
  ArrivalSchedule s(ArrivalSchedule::Kind::kFixed, 2000, 1);
  for (double g : gaps(s, 1000)) EXPECT_EQ(g, 500'000);
}

TEST(ArrivalSchedule, FixedRoundingDoesNotDrift) {
  // 1e9 / 3 ns is not a whole number: each time is rounded from the start, never summed.
  ArrivalSchedule s(ArrivalSchedule::Kind::kFixed, 3, 1);
  s.start(kStart);
  for (int i = 0; i < 3000; ++i) s.advance();
  EXPECT_EQ(s.next_ns(), kStart + 1000ULL * 1'000'000'000ULL);
}

TEST(ArrivalSchedule, PoissonGapsAverageTheRateAndVaryAsExponentialOnes) {
  ArrivalSchedule s(ArrivalSchedule::Kind::kPoisson, 1000, 7);
  const auto g = gaps(s, 10000);
  double sum = 0, sq = 0;
  for (double x : g) sum += x;
  const double mean = sum / g.size();
  for (double x : g) sq += (x - mean) * (x - mean);
  const double sd = std::sqrt(sq / g.size());
  // The mean of 10000 exponential gaps is within 1 % (one standard error) of 1 ms most of the
  // time; 5 % is five standard errors.
  EXPECT_NEAR(mean, 1e6, 0.05e6);
  // An exponential's standard deviation equals its mean (fixed gaps would give 0).
  EXPECT_NEAR(sd / mean, 1.0, 0.1);
}

TEST(ArrivalSchedule, PoissonIsDeterministicForASeed) {
  ArrivalSchedule a(ArrivalSchedule::Kind::kPoisson, 500, 42);
  ArrivalSchedule b(ArrivalSchedule::Kind::kPoisson, 500, 42);
  ArrivalSchedule c(ArrivalSchedule::Kind::kPoisson, 500, 43);
  const auto ga = gaps(a, 1000);
  EXPECT_EQ(ga, gaps(b, 1000));
  EXPECT_NE(ga, gaps(c, 1000));
}

TEST(ArrivalSchedule, ParsesItsTwoNames) {
  EXPECT_EQ(ArrivalSchedule::parse("fixed"), ArrivalSchedule::Kind::kFixed);
  EXPECT_EQ(ArrivalSchedule::parse("poisson"), ArrivalSchedule::Kind::kPoisson);
  EXPECT_FALSE(ArrivalSchedule::parse("uniform"));
}

}  // namespace
}  // namespace mux
