// Each backend's readiness semantics, tested on real sockets. These are claims 5 and 6
// (docs/claims.md#the-claims) as tests: level-triggered mechanisms report an unserviced ready
// descriptor again, edge-triggered epoll reports a readiness change once.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "MechanismRegistry.h"
#include "system.h"

namespace {

// Every readiness mechanism of the registry, so that a new one is tested without a line here.
// A completion-model mechanism has no Poller to test: it is left out, not skipped.
struct Factory {
  std::string name;  // a test-name form of the mechanism's name: epoll_lt
  const mux::Mechanism* mechanism;
  bool edge;
  std::unique_ptr<mux::Poller> make() const {
    return mechanism->make ? mechanism->make(nullptr) : nullptr;
  }
};

std::ostream& operator<<(std::ostream& os, const Factory& f) {
  return os << f.name;
}

std::vector<Factory> factories() {
  std::vector<Factory> out;
  for (const auto& m : mux::mechanisms()) {
    if (m.model != "readiness") continue;
    std::string name(m.name);
    std::replace(name.begin(), name.end(), '-', '_');
    out.push_back({name, &m, m.edge_triggered});
  }
  return out;
}

struct SocketPair {
  int watched = -1, peer = -1;
  SocketPair() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    watched = sv[0];
    peer = sv[1];
  }
  ~SocketPair() {
    close(watched);
    close(peer);
  }
  void poke() const { ASSERT_EQ(write(peer, "x", 1), 1); }
  void drain() const {
    char buf[64];
    while (read(watched, buf, sizeof buf) > 0) {
    }
  }
};

class PollerSemantics : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    if (!poller) {
      GTEST_SKIP() << GetParam().name << " is unavailable on this machine: "
                   << mux::unavailable_reason(*GetParam().mechanism).value_or("?");
    }
  }
  std::unique_ptr<mux::Poller> poller = GetParam().make();
  std::vector<mux::ReadyEvent> ready;

  // Returns the readiness reported for fd by one non-blocking wait call (0 if none).
  std::uint8_t reported(int fd) {
    auto err = poller->wait(ready, 0);
    EXPECT_FALSE(err) << *err;
    for (const auto& ev : ready)
      if (ev.fd == fd) return ev.what;
    return 0;
  }
};

TEST_P(PollerSemantics, NothingReadyNothingReported) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  EXPECT_FALSE(reported(s.watched) & mux::kReadable);
}

TEST_P(PollerSemantics, ReadableAfterPeerWrites) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  EXPECT_TRUE(reported(s.watched) & mux::kReadable);
}

TEST_P(PollerSemantics, UnservicedReadinessIsReportedAgainOnlyWhenLevelTriggered) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  ASSERT_TRUE(reported(s.watched) & mux::kReadable);
  // The byte is still unread.
  const bool again = reported(s.watched) & mux::kReadable;
  EXPECT_EQ(again, !GetParam().edge);
  EXPECT_EQ(poller->edge_triggered(), GetParam().edge);
}

TEST_P(PollerSemantics, NewDataIsANewEdge) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  ASSERT_TRUE(reported(s.watched) & mux::kReadable);
  reported(s.watched);
  s.poke();
  EXPECT_TRUE(reported(s.watched) & mux::kReadable);
}

TEST_P(PollerSemantics, DrainedDescriptorIsNotReported) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  ASSERT_TRUE(reported(s.watched));
  s.drain();
  EXPECT_FALSE(reported(s.watched) & mux::kReadable);
}

TEST_P(PollerSemantics, WriteInterestReportsWritable) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable | mux::kWritable));
  EXPECT_TRUE(reported(s.watched) & mux::kWritable);
}

TEST_P(PollerSemantics, DroppingReadInterestStopsReportsForLevelTriggered) {
  // Edge-triggered epoll keeps both directions registered by design (see EpollPoller.cpp).
  if (GetParam().edge) GTEST_SKIP() << "epoll-et registers interest once";
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  ASSERT_FALSE(poller->modify(s.watched, 0));
  EXPECT_EQ(reported(s.watched), 0);
  ASSERT_FALSE(poller->modify(s.watched, mux::kReadable));
  EXPECT_TRUE(reported(s.watched) & mux::kReadable);
}

TEST_P(PollerSemantics, RemovedDescriptorIsNotReported) {
  SocketPair a, b;
  ASSERT_FALSE(poller->add(a.watched, mux::kReadable));
  ASSERT_FALSE(poller->add(b.watched, mux::kReadable));
  a.poke();
  b.poke();
  poller->remove(a.watched);
  ASSERT_FALSE(poller->wait(ready, 0));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].fd, b.watched);
  EXPECT_TRUE(ready[0].what & mux::kReadable);
}

TEST_P(PollerSemantics, PeerCloseIsReportedAsReadable) {
  // The core learns of EOF by reading 0 bytes: every mechanism must wake it for that.
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  close(s.peer);
  s.peer = -1;
  EXPECT_TRUE(reported(s.watched) & (mux::kReadable | mux::kHangup));
}

// An edge-triggered reader stops at a short read (one recv per wake-up) only when the event
// did not carry the peer's FIN: data alone must not report kHangup, and a FIN, with data or
// without, must, or a short read would swallow the one edge that announces the EOF.
TEST_P(PollerSemantics, HangupIsReportedForTheFinAndNotForData) {
  SocketPair s;
  ASSERT_FALSE(poller->add(s.watched, mux::kReadable));
  s.poke();
  EXPECT_FALSE(reported(s.watched) & (mux::kHangup | mux::kError));
  s.drain();
  s.poke();
  ASSERT_EQ(shutdown(s.peer, SHUT_WR), 0);
  const std::uint8_t with_fin = reported(s.watched);
  EXPECT_TRUE(with_fin & mux::kReadable);
  if (GetParam().edge) {
    EXPECT_TRUE(with_fin & mux::kHangup);
  }
}

TEST_P(PollerSemantics, ReportsManyReadyDescriptorsInOneCall) {
  std::vector<std::unique_ptr<SocketPair>> pairs;
  for (int i = 0; i < 200; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    ASSERT_FALSE(poller->add(pairs.back()->watched, mux::kReadable));
  }
  for (int i = 0; i < 200; i += 2) pairs[i]->poke();
  // epoll's event array starts small and grows; collect over a few calls without draining.
  std::set<int> seen;
  for (int call = 0; call < 4; ++call) {
    ASSERT_FALSE(poller->wait(ready, 0));
    for (const auto& ev : ready)
      if (ev.what & mux::kReadable) seen.insert(ev.fd);
  }
  EXPECT_EQ(seen.size(), 100u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(seen.count(pairs[i]->watched), i % 2 == 0 ? 1u : 0u);
}

TEST_P(PollerSemantics, CountsWaitCallsAndEvents) {
  SocketPair a, b;
  ASSERT_FALSE(poller->add(a.watched, mux::kReadable));
  ASSERT_FALSE(poller->add(b.watched, mux::kReadable));
  a.poke();
  EXPECT_TRUE(reported(a.watched) & mux::kReadable);
  const auto& c = poller->counters();
  EXPECT_EQ(c.wait_calls, 1u);
  EXPECT_EQ(c.events_returned, ready.size());
  // Edge-triggered epoll also reports each socket's initial writability once.
  EXPECT_EQ(ready.size(), GetParam().edge ? 2u : 1u);
  if (poller->name().rfind("epoll", 0) == 0 || poller->name() == "uring") {
    EXPECT_EQ(c.fds_passed, 0u);  // the interest set lives in the kernel
    EXPECT_EQ(c.ctl_calls, 2u);
  } else {
    EXPECT_EQ(c.fds_passed, 2u);  // the whole set crosses on every call
    EXPECT_EQ(c.ctl_calls, 0u);
  }
}

TEST_P(PollerSemantics, DescriptorAboveFdSetSize) {
  // select's fd_set holds FD_SETSIZE bits: the backend must refuse, never write past the set;
  // poll and epoll have no such limit.
  const auto limit = mux::raise_fd_limit();
  if (limit <= FD_SETSIZE + 10) GTEST_SKIP() << "open-file limit " << limit << " too low";
  SocketPair s;
  const int high = FD_SETSIZE + 5;
  ASSERT_EQ(dup2(s.watched, high), high);
  auto err = poller->add(high, mux::kReadable);
  if (poller->name() == "select") {
    ASSERT_TRUE(err);
    EXPECT_EQ(*err, "select() cannot watch descriptor 1029 (FD_SETSIZE is 1024)");
  } else {
    ASSERT_FALSE(err) << *err;
    s.poke();
    EXPECT_TRUE(reported(high) & mux::kReadable);
    poller->remove(high);
  }
  close(high);
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerSemantics, ::testing::ValuesIn(factories()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
