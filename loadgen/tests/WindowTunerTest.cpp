#include "WindowTuner.h"

#include <gtest/gtest.h>

#include "RunResult.h"

namespace mux {
namespace {

WindowTuner::Slice slice(double rate, std::optional<double> server = 50,
                         std::optional<double> loadgen = 50) {
  return WindowTuner::Slice{rate, server, loadgen};
}

TEST(WindowTuner, DoublesWhileThroughputRisesThenKeepsThePreviousWindow) {
  WindowTuner t(1024);
  EXPECT_EQ(t.window(), 1u);
  t.record(slice(100'000));
  EXPECT_EQ(t.window(), 2u);
  t.record(slice(190'000));
  EXPECT_EQ(t.window(), 4u);
  t.record(slice(300'000));
  ASSERT_EQ(t.window(), 8u);
  EXPECT_FALSE(t.done());
  t.record(slice(310'000));  // +3 %: the extra messages only queued
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.window(), 4u);
  t.record(slice(900'000));  // decided: later slices change nothing
  EXPECT_EQ(t.window(), 4u);
}

TEST(WindowTuner, KeepsTheWindowThatSaturatesEitherSide) {
  WindowTuner server(1024);
  server.record(slice(100'000));
  server.record(slice(200'000, kSaturatedCpuPct, 40));
  EXPECT_TRUE(server.done());
  EXPECT_EQ(server.window(), 2u);

  WindowTuner loadgen(1024);
  loadgen.record(slice(100'000, std::nullopt, 95));
  EXPECT_TRUE(loadgen.done());
  EXPECT_EQ(loadgen.window(), 1u);
}

TEST(WindowTuner, StopsAtItsBoundAndWhenTheWarmupEnds) {
  WindowTuner bounded(4);
  bounded.record(slice(1));
  bounded.record(slice(2));
  EXPECT_EQ(bounded.window(), 4u);
  bounded.record(slice(4));
  EXPECT_TRUE(bounded.done());
  EXPECT_EQ(bounded.window(), 4u);

  WindowTuner cut(1024);
  cut.record(slice(1));
  cut.finish();
  EXPECT_TRUE(cut.done());
  EXPECT_EQ(cut.window(), 2u);
}

TEST(WindowTuner, BoundKeepsAWholeWindowUnderHalfTheServersOutputLimit) {
  EXPECT_EQ(WindowTuner::max_window(64), WindowTuner::kMaxWindow);
  EXPECT_EQ(WindowTuner::max_window(4000), 512u * 1024 / 4001);
  EXPECT_GE(WindowTuner::max_window(1'000'000), 1u);
}

}  // namespace
}  // namespace mux
