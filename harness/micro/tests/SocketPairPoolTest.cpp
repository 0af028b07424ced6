#include "SocketPairPool.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <set>

namespace mux {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(SocketPairPool, HoldsDistinctDescriptorsNoneReadable) {
  SocketPairPool pool;
  ASSERT_EQ(pool.ensure(9), std::nullopt);
  EXPECT_GE(pool.size(), 9);
  std::set<int> seen;
  for (std::int64_t i = 0; i < 9; ++i) {
    seen.insert(pool.fd(i));
    EXPECT_FALSE(readable(pool.fd(i))) << "descriptor #" << i;
  }
  EXPECT_EQ(seen.size(), 9u);
  EXPECT_EQ(pool.max_fd(9), *seen.rbegin());
}

TEST(SocketPairPool, PokeMakesOnlyThatDescriptorReadableAndDrainClearsIt) {
  SocketPairPool pool;
  ASSERT_EQ(pool.ensure(6), std::nullopt);
  ASSERT_EQ(pool.poke(3), std::nullopt);
  ASSERT_EQ(pool.poke(3), std::nullopt);
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(readable(pool.fd(i)), i == 3) << "#" << i;
  ASSERT_EQ(pool.drain_all(), std::nullopt);
  EXPECT_FALSE(readable(pool.fd(3)));
}

TEST(SocketPairPool, EnsureDrainsWhatAPreviousBenchmarkLeftReadable) {
  SocketPairPool pool;
  ASSERT_EQ(pool.ensure(4), std::nullopt);
  ASSERT_EQ(pool.rearm({0, 2}, 0, 64), std::nullopt);
  EXPECT_TRUE(readable(pool.fd(2)));
  ASSERT_EQ(pool.ensure(4), std::nullopt);  // reused, not rebuilt
  EXPECT_FALSE(readable(pool.fd(0)));
  EXPECT_FALSE(readable(pool.fd(2)));
}

TEST(SocketPairPool, SpreadGivesDistinctIndicesInRange) {
  for (std::int64_t n : {1, 2, 10, 1000}) {
    for (std::int64_t k : {1, 2, 16, 1000}) {
      const auto idx = SocketPairPool::spread(n, k);
      EXPECT_EQ(static_cast<std::int64_t>(idx.size()), std::min(n, k));
      std::set<std::int64_t> distinct(idx.begin(), idx.end());
      EXPECT_EQ(distinct.size(), idx.size()) << "n=" << n << " k=" << k;
      for (auto i : idx) {
        EXPECT_GE(i, 0);
        EXPECT_LT(i, n);
      }
    }
  }
  EXPECT_EQ(SocketPairPool::spread(100, 1), std::vector<std::int64_t>{50});
}

TEST(SocketPairPool, CapacityNamesTheOpenFileLimit) {
  const WatchCapacity cap = SocketPairPool::capacity();
  EXPECT_GT(cap.max_watched, 0);
  EXPECT_EQ(cap.max_watched % 2, 0);
  EXPECT_LT(static_cast<std::uint64_t>(cap.max_watched), cap.fd_limit);
  EXPECT_LE(cap.select_max_watched, FD_SETSIZE);
  EXPECT_NE(cap.limited_by.find("RLIMIT_NOFILE=" + std::to_string(cap.fd_limit)), std::string::npos)
      << cap.limited_by;
}

TEST(SocketPairPool, RunningOutOfDescriptorsIsAnErrorNamingTheLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  SocketPairPool pool;
  const auto err = pool.ensure(200);
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("RLIMIT_NOFILE=64"), std::string::npos) << *err;
  EXPECT_EQ(pool.size(), 0) << "a failed build must not keep half a pool";
}

}  // namespace
}  // namespace mux
