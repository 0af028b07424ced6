#include "IntervalSeries.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace mux {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000ULL;

CpuTimes cpu(std::uint64_t us) {
  return CpuTimes{us, 0};
}

TEST(HistogramSince, GivesThePercentilesOfWhatCameAfterTheCopy) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> before(9.0, 0.5), after(11.0, 0.3);
  Histogram all, later_only;
  for (int i = 0; i < 5000; ++i) all.record(static_cast<std::uint64_t>(before(rng)));
  const Histogram copy = all;
  for (int i = 0; i < 3000; ++i) {
    const auto v = static_cast<std::uint64_t>(after(rng));
    all.record(v);
    later_only.record(v);
  }
  const Histogram part = all.since(copy);
  EXPECT_EQ(part.count(), later_only.count());
  EXPECT_EQ(part.sum(), later_only.sum());
  for (double q : {0.5, 0.9, 0.99}) {
    EXPECT_EQ(part.percentile(q), later_only.percentile(q)) << q;
  }
  // The extremes are known to a bucket: never outside it.
  EXPECT_LE(part.min(), later_only.min());
  EXPECT_EQ(Histogram::index_of(part.min()), Histogram::index_of(later_only.min()));
  EXPECT_GE(part.max(), later_only.max());
  EXPECT_EQ(Histogram::index_of(part.max()), Histogram::index_of(later_only.max()));
  EXPECT_EQ(all.since(all).count(), 0u);
}

TEST(IntervalSeries, KeepsEachIntervalsLatenciesWhenAsked) {
  Histogram h;
  IntervalSeries kept(kSec, true), not_kept(kSec);
  kept.open(0, 0, h, cpu(0));
  not_kept.open(0, 0, h, cpu(0));
  h.record(1000);
  h.record(2000);
  kept.cut(kSec, 2, h, cpu(0));
  not_kept.cut(kSec, 2, h, cpu(0));
  h.record(5000);
  kept.cut(2 * kSec, 3, h, cpu(0));
  ASSERT_NE(kept.latency_of(1), nullptr);
  ASSERT_NE(kept.latency_of(2), nullptr);
  EXPECT_EQ(kept.latency_of(1)->count(), 2u);
  EXPECT_EQ(kept.latency_of(2)->count(), 1u);
  EXPECT_EQ(kept.latency_of(2)->count_at(Histogram::index_of(5000)), 1u);
  EXPECT_EQ(kept.latency_of(0), nullptr);
  EXPECT_EQ(kept.latency_of(3), nullptr);
  EXPECT_EQ(not_kept.latency_of(1), nullptr);
}

TEST(IntervalSeries, CutsTheCountersAtEachEdge) {
  IntervalSeries s(kSec);
  Histogram h;
  const std::uint64_t t0 = 100 * kSec;
  s.open(t0, 7, h, cpu(1000));
  s.server_at(0, 5000, t0);
  EXPECT_EQ(s.next_edge_ns(), t0 + kSec);

  for (int i = 0; i < 99; ++i) h.record(10'000);
  h.record(1'000'000);
  const auto e1 = s.cut(t0 + kSec, 107, h, cpu(1000 + 250'000));
  EXPECT_EQ(e1, 1u);
  EXPECT_EQ(s.next_edge_ns(), t0 + 2 * kSec);
  for (int i = 0; i < 50; ++i) h.record(20'000);
  const auto e2 = s.cut(t0 + 2 * kSec, 157, h, cpu(1000 + 750'000));
  // The last interval is the window's tail: half a second.
  const auto e3 = s.cut(t0 + 2 * kSec + kSec / 2, 157, h, cpu(1000 + 750'000));
  // Edge 1's answer came 2 ms late; edge 2's never came; edge 3 is the window's end.
  s.server_at(e1, 5000 + 400'000, t0 + kSec + 2'000'000);
  s.server_at(e3, 5000 + 900'000, t0 + 2 * kSec + kSec / 2);
  (void)e2;

  const auto iv = s.intervals();
  ASSERT_EQ(iv.size(), 3u);
  EXPECT_EQ(iv[0].index, 1u);
  EXPECT_DOUBLE_EQ(iv[0].start_s, 0.0);
  EXPECT_DOUBLE_EQ(iv[0].end_s, 1.0);
  EXPECT_EQ(iv[0].msgs, 100u);
  EXPECT_EQ(iv[0].latencies, 100u);
  EXPECT_NEAR(*iv[0].p50_us, 10.0, 0.1);
  EXPECT_NEAR(*iv[0].p99_us, 10.0, 0.1);  // the 99th of 100 values is still 10 µs
  EXPECT_NEAR(*iv[0].loadgen_cpu_pct, 25.0, 1e-9);
  EXPECT_NEAR(*iv[0].server_cpu_us, 400'000.0, 1e-9);
  EXPECT_NEAR(*iv[0].server_cpu_pct, 400'000.0 / 1'002'000.0 * 100, 1e-9);
  EXPECT_NEAR(*iv[0].server_lag_us, 2000.0, 1e-9);

  EXPECT_EQ(iv[1].msgs, 50u);
  EXPECT_NEAR(*iv[1].p50_us, 20.0, 0.2);
  EXPECT_NEAR(*iv[1].loadgen_cpu_pct, 50.0, 1e-9);
  EXPECT_FALSE(iv[1].server_cpu_us);  // no reading at its end
  EXPECT_FALSE(iv[1].server_lag_us);

  EXPECT_EQ(iv[2].msgs, 0u);
  EXPECT_EQ(iv[2].latencies, 0u);
  EXPECT_FALSE(iv[2].p50_us);  // nothing measured: empty, never 0
  EXPECT_DOUBLE_EQ(iv[2].end_s, 2.5);
  EXPECT_FALSE(iv[2].server_cpu_us);  // its start has no reading
}

TEST(IntervalSeries, WritesOneCsvLinePerInterval) {
  IntervalSeries s(kSec / 2);
  Histogram h;
  s.open(0, 0, h, cpu(0));
  h.record(5000);
  s.cut(kSec / 2, 10, h, cpu(0));
  s.cut(kSec, 30, h, cpu(0));
  const std::string text = s.csv({"epoll-lt", "flood", 100, "a,b"});
  std::istringstream in(text);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, series_csv_header());
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "epoll-lt,flood,100,\"a,b\",1,0,0.5,10,20,1,5,5,0,,,");
  EXPECT_EQ(lines[1], "epoll-lt,flood,100,\"a,b\",2,0.5,1,20,40,0,,,0,,,");
}

}  // namespace
}  // namespace mux
