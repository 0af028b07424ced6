// The chain family's loops deliver every write: behaviour, never timing.
#include "ChainLoop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace mux {
namespace {

constexpr int kTimeoutMs = 1000;

bool any_readable(const ChainPool& pool, std::int64_t n) {
  std::vector<pollfd> fds(n);
  for (std::int64_t i = 0; i < n; ++i) fds[i] = {pool.watched(i), POLLIN, 0};
  return poll(fds.data(), fds.size(), 0) != 0;
}

struct Backend {
  std::string mechanism;
  bool libevent;
};

std::vector<Backend> backends() {
  std::vector<Backend> out = {
      {"select", false}, {"select-dynamic", false}, {"poll", false}, {"epoll-lt", false}};
  if (libevent_built()) {
    for (const char* m : {"select", "poll", "epoll"}) out.push_back({m, true});
  }
  return out;
}

std::unique_ptr<ChainLoop> make(const Backend& b, std::string* why) {
  return b.libevent ? make_libevent_loop(b.mechanism, kTimeoutMs, why)
                    : make_poller_loop(b.mechanism, kTimeoutMs, why);
}

class ChainLoopTest : public ::testing::TestWithParam<Backend> {};

TEST_P(ChainLoopTest, EveryWriteIsDeliveredAndCountedOnce) {
  const Backend& b = GetParam();
  ChainPool pool;
  constexpr std::int64_t kPairs = 64;
  ASSERT_EQ(pool.ensure(kPairs), std::nullopt);
  std::string why;
  auto loop = make(b, &why);
  ASSERT_NE(loop, nullptr) << why;
  EXPECT_EQ(loop->backend(), b.mechanism) << "the loop must run the backend asked for";
  Chain chain(pool, kPairs);
  ASSERT_EQ(loop->watch(chain), std::nullopt);
  // Twice: the second run must start from a clean state (counts reset, nothing left readable).
  for (int run = 0; run < 2; ++run) {
    const std::int64_t waits_before = loop->waits();
    ASSERT_EQ(chain.start(1, 500), std::nullopt);
    ASSERT_EQ(loop->run(chain), std::nullopt) << b.mechanism;
    EXPECT_EQ(chain.events(), 500) << "events dispatched = writes";
    EXPECT_EQ(chain.written(), 500);
    // One byte in flight: every wait call finds exactly one ready descriptor.
    EXPECT_EQ(loop->waits() - waits_before, 500);
    EXPECT_FALSE(any_readable(pool, kPairs)) << "a byte was written but never read";
  }
}

TEST_P(ChainLoopTest, SeveralActiveBytesAreAllDelivered) {
  const Backend& b = GetParam();
  ChainPool pool;
  ASSERT_EQ(pool.ensure(40), std::nullopt);
  std::string why;
  auto loop = make(b, &why);
  ASSERT_NE(loop, nullptr) << why;
  Chain chain(pool, 40);
  ASSERT_EQ(loop->watch(chain), std::nullopt);
  ASSERT_EQ(chain.start(4, 301), std::nullopt);
  ASSERT_EQ(loop->run(chain), std::nullopt);
  EXPECT_EQ(chain.events(), 301);
  EXPECT_EQ(chain.written(), 301);
  EXPECT_LE(loop->waits(), 301);
  EXPECT_FALSE(any_readable(pool, 40));
}

TEST(ChainPool, ReadEndsArePackedBelowTheWriteEnds) {
  ChainPool pool;
  ASSERT_EQ(pool.ensure(100), std::nullopt);
  std::set<int> reads, writes;
  for (std::int64_t i = 0; i < 100; ++i) {
    reads.insert(pool.watched(i));
    writes.insert(pool.peer(i));
  }
  EXPECT_EQ(reads.size(), 100u);
  EXPECT_EQ(writes.size(), 100u);
  EXPECT_LT(*reads.rbegin(), *writes.begin());
  // The read ends are the lowest free numbers (select's nfds = first + n): a number between them
  // that is not a read end is one the process already had open (an inherited descriptor).
  for (int fd = *reads.begin(); fd <= *reads.rbegin(); ++fd) {
    EXPECT_TRUE(reads.count(fd) || fcntl(fd, F_GETFD) >= 0) << "hole at descriptor " << fd;
  }
  EXPECT_EQ(pool.max_watched_fd(100), *reads.rbegin());
}

TEST(ChainPool, AnInheritedDescriptorAmongTheReadEndsDoesNotPushOneAboveTheWriteEnds) {
  // A descriptor left open where the read ends will go, as a parent's leaked pipe is: the last
  // read end once landed above all the write ends (2002 for 1000 pairs), out of select's reach.
  const int lowest = fcntl(0, F_DUPFD_CLOEXEC, 3);
  ASSERT_GE(lowest, 0);
  close(lowest);
  const int inherited = fcntl(0, F_DUPFD_CLOEXEC, lowest + 50);
  ASSERT_GE(inherited, 0);
  ChainPool pool;
  const auto err = pool.ensure(100);
  const bool skipped = fcntl(inherited, F_GETFD) >= 0;  // still ours: no read end took it
  close(inherited);
  EXPECT_TRUE(skipped);
  ASSERT_EQ(err, std::nullopt);
  int min_write = pool.peer(0);
  for (std::int64_t i = 0; i < 100; ++i) min_write = std::min(min_write, pool.peer(i));
  EXPECT_LT(pool.max_watched_fd(100), min_write);
}

TEST(Chain, StartRefusesImpossibleRuns) {
  ChainPool pool;
  ASSERT_EQ(pool.ensure(4), std::nullopt);
  Chain chain(pool, 4);
  EXPECT_NE(chain.start(0, 10), std::nullopt);
  EXPECT_NE(chain.start(5, 10), std::nullopt);
  EXPECT_NE(chain.start(2, 1), std::nullopt);
}

TEST_P(ChainLoopTest, ALostByteIsAnErrorNotAHang) {
  const Backend& b = GetParam();
  ChainPool pool;
  ASSERT_EQ(pool.ensure(8), std::nullopt);
  std::string why;
  auto loop = b.libevent ? make_libevent_loop(b.mechanism, 50, &why)
                         : make_poller_loop(b.mechanism, 50, &why);
  ASSERT_NE(loop, nullptr) << why;
  Chain chain(pool, 8);
  ASSERT_EQ(loop->watch(chain), std::nullopt);
  ASSERT_EQ(chain.start(1, 10), std::nullopt);
  ASSERT_EQ(pool.drain(8), std::nullopt);  // the byte in flight disappears
  const auto err = loop->run(chain);
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("lost"), std::string::npos) << *err;
}

TEST(Chain, CountsTakeTheLargestThatFitsWhenOneDoesNot) {
  const std::vector<std::int64_t> wanted = {100, 1000, 2048, 4096, 8192, 10000};
  EXPECT_EQ(chain_counts(wanted, 9981),
            (std::vector<std::int64_t>{100, 1000, 2048, 4096, 8192, 9981}));
  EXPECT_EQ(chain_counts(wanted, 500000), wanted);
  EXPECT_EQ(chain_counts(wanted, 600), (std::vector<std::int64_t>{100, 600}));
  EXPECT_EQ(chain_counts(wanted, 0), std::vector<std::int64_t>{});
}

TEST(Libevent, ForcedMethodOrWhyNot) {
  std::string why;
  auto loop = make_libevent_loop("poll", kTimeoutMs, &why);
  if (!libevent_built()) {
    EXPECT_EQ(loop, nullptr);
    EXPECT_NE(why.find("apt-get install libevent-dev"), std::string::npos) << why;
    return;
  }
  ASSERT_NE(loop, nullptr) << why;
  EXPECT_EQ(loop->backend(), "poll");
  EXPECT_EQ(make_libevent_loop("no-such-method", kTimeoutMs, &why), nullptr);
  EXPECT_NE(why.find("no-such-method"), std::string::npos) << why;
}

TEST(Libevent, SelectPastFdSetsizeIsRefusedNotRun) {
  EXPECT_EQ(libevent_select_refusal(FD_SETSIZE - 1), std::nullopt);
  const auto why = libevent_select_refusal(FD_SETSIZE);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("FD_SETSIZE"), std::string::npos);
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  std::string name = (info.param.libevent ? "libevent_" : "ours_") + info.param.mechanism;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Backends, ChainLoopTest, ::testing::ValuesIn(backends()), backend_name);

}  // namespace
}  // namespace mux
