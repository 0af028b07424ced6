#include "Progress.h"

#include <gtest/gtest.h>

namespace mux {
namespace {

constexpr std::uint64_t kSecond = 1'000'000'000ULL;

TEST(Progress, AClockReadingTakenJustBeforeTheWindowOpenedCountsAsItsStart) {
  // The loop's `now` is read before the window's start is: 1 µs earlier here.
  const std::uint64_t begin = 5 * kSecond;
  EXPECT_EQ(window_progress(begin, begin - 1000, 6, 0, "msgs", std::nullopt),
            "window 0/6 s, 0 msgs (0/s)");
  EXPECT_EQ(window_progress(begin, begin - 1000, 6, 3, "connections", std::nullopt),
            "window 0/6 s, 3 connections (0/s)");
  EXPECT_EQ(warmup_progress(begin, begin - 1000, 2), "warm-up 0/2 s");
  EXPECT_EQ(seconds_between(begin, begin - 1), 0.0);
}

TEST(Progress, WindowLineGivesElapsedRateAndP99) {
  const std::uint64_t begin = 7 * kSecond;
  EXPECT_EQ(window_progress(begin, begin + 2 * kSecond, 6, 300, "msgs", 12'500),
            "window 2/6 s, 300 msgs (150/s), p99 12.5 us");
  EXPECT_EQ(warmup_progress(begin, begin + 3 * kSecond, 5), "warm-up 3/5 s");
}

}  // namespace
}  // namespace mux
