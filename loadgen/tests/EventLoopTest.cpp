// The event loop's contract: ready descriptors first, then due timers in deadline order; a
// timer never runs before its deadline, and one turn sleeps until exactly the earliest deadline.
// Only order and behaviour are asserted, never how long anything took.
#include "EventLoop.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "Net.h"

namespace mux {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

// Logs what a turn reports.
struct Log : EventLoop::Dispatcher {
  std::vector<std::string> events;
  void on_ready(std::uint64_t token, std::uint32_t, std::uint64_t) override {
    events.push_back("io " + std::to_string(token));
  }
};

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0); }
  ~Pipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int read_end() const { return fds_[0]; }
  void poke() { ASSERT_EQ(write(fds_[1], "x", 1), 1); }
  void drain() {
    char buf[64];
    while (read(fds_[0], buf, sizeof buf) > 0) {
    }
  }

 private:
  int fds_[2];
};

TEST(EventLoop, OneTurnSleepsUntilTheDeadlineAndRunsTheTimerThenNotBefore) {
  EventLoop loop;
  ASSERT_FALSE(loop.error());
  Log log;
  const std::uint64_t deadline = now_ns() + 20 * kMs;
  std::uint64_t ran_at = 0;
  loop.at(deadline, [&](std::uint64_t now) { ran_at = now; });
  // No descriptor is watched: the only way out of the wait is the timer's deadline, so one turn
  // must both wake and run it (a fixed tick would take several turns).
  ASSERT_FALSE(loop.turn(log));
  EXPECT_NE(ran_at, 0u);
  EXPECT_GE(ran_at, deadline);
  EXPECT_GE(now_ns(), deadline);
  EXPECT_EQ(loop.timers(), 0u);
}

TEST(EventLoop, ATurnWokenByADescriptorLeavesAFutureTimerAlone) {
  EventLoop loop;
  Log log;
  Pipe p;
  ASSERT_FALSE(loop.watch(p.read_end(), EPOLLIN, 7));
  bool ran = false;
  const auto id = loop.at(now_ns() + 3600 * 1000 * kMs, [&](std::uint64_t) { ran = true; });
  p.poke();
  ASSERT_FALSE(loop.turn(log));
  EXPECT_EQ(log.events, std::vector<std::string>{"io 7"});
  EXPECT_FALSE(ran);
  EXPECT_EQ(loop.timers(), 1u);
  loop.cancel(id);
  EXPECT_EQ(loop.timers(), 0u);
}

TEST(EventLoop, DueTimersRunAfterTheDescriptorsInDeadlineOrder) {
  EventLoop loop;
  Log log;
  Pipe p;
  ASSERT_FALSE(loop.watch(p.read_end(), EPOLLIN, 1));
  const std::uint64_t t = now_ns();
  auto add = [&](std::uint64_t deadline, std::string name) {
    loop.at(deadline, [&log, name](std::uint64_t) { log.events.push_back(name); });
  };
  add(t - 1 * kMs, "c");
  add(t - 3 * kMs, "a");
  add(t - 2 * kMs, "b1");
  add(t - 2 * kMs, "b2");  // same deadline: creation order
  p.poke();
  ASSERT_FALSE(loop.turn(log));
  EXPECT_EQ(log.events, (std::vector<std::string>{"io 1", "a", "b1", "b2", "c"}));
}

TEST(EventLoop, ATimerAddedForThePastByATimerRunsInTheNextTurn) {
  // A timer that keeps re-arming itself behind schedule (broadcast catching up) must let the
  // descriptors be read between its runs.
  EventLoop loop;
  Log log;
  Pipe p;
  ASSERT_FALSE(loop.watch(p.read_end(), EPOLLIN, 1));
  int runs = 0;
  std::function<void(std::uint64_t)> again = [&](std::uint64_t now) {
    log.events.push_back("timer " + std::to_string(++runs));
    if (runs < 3) loop.at(now - kMs, again);
  };
  loop.at(now_ns(), again);
  ASSERT_FALSE(loop.turn(log));
  p.poke();
  ASSERT_FALSE(loop.turn(log));
  p.drain();
  ASSERT_FALSE(loop.turn(log));
  EXPECT_EQ(log.events, (std::vector<std::string>{"timer 1", "io 1", "timer 2", "timer 3"}));
}

TEST(EventLoop, CancelledTimersNeverRunAndCancellingTwiceIsHarmless) {
  EventLoop loop;
  Log log;
  bool ran = false, other = false;
  const auto id = loop.at(now_ns(), [&](std::uint64_t) { ran = true; });
  loop.at(now_ns(), [&](std::uint64_t) { other = true; });
  loop.cancel(id);
  loop.cancel(id);
  ASSERT_FALSE(loop.turn(log));
  EXPECT_FALSE(ran);
  EXPECT_TRUE(other);
}

TEST(EventLoop, ATimerCanCancelALaterOneDueInTheSameTurn) {
  EventLoop loop;
  Log log;
  const std::uint64_t t = now_ns();
  bool second = false;
  EventLoop::TimerId later;
  loop.at(t - 2 * kMs, [&](std::uint64_t) { loop.cancel(later); });
  later = loop.at(t - 1 * kMs, [&](std::uint64_t) { second = true; });
  ASSERT_FALSE(loop.turn(log));
  EXPECT_FALSE(second);
}

TEST(EventLoop, StopTurnLeavesTheRestOfTheTurnForTheNextOne) {
  EventLoop loop;
  Log log;
  const std::uint64_t t = now_ns();
  loop.at(t - 2 * kMs, [&](std::uint64_t) {
    log.events.push_back("first");
    loop.stop_turn();
  });
  loop.at(t - 1 * kMs, [&](std::uint64_t) { log.events.push_back("second"); });
  ASSERT_FALSE(loop.turn(log));
  EXPECT_EQ(log.events, std::vector<std::string>{"first"});
  ASSERT_FALSE(loop.turn(log));
  EXPECT_EQ(log.events, (std::vector<std::string>{"first", "second"}));
}

TEST(EventLoop, WatchingABadDescriptorIsAnErrorWithItsErrno) {
  EventLoop loop;
  auto err = loop.watch(-1, EPOLLIN, 0);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("epoll_ctl"), std::string::npos) << *err;
  EXPECT_NE(err->find("errno"), std::string::npos) << *err;
}

}  // namespace
}  // namespace mux
