// 60000 idle connections from one source address: more than one (source, destination) pair has
// ports for, so they are spread over several loopback destinations, against accept-counter
// listeners (tests/AcceptCounter.cpp) sharing one port on 0.0.0.0 with SO_REUSEPORT. Several
// listener processes, because one process may hold at most 20000 descriptors on our machines;
// no chat server here could take 60000, and none is needed to show that the holders scale.
//
// Closing order matters for a second run: the holders close first, with a reset, so neither
// side keeps 60000 sockets in TIME_WAIT (they would hold the same 4-tuples for 60 s).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ListeningLine.h"
#include "Net.h"
#include "ProcessHarness.h"

namespace mux {
namespace {

using test::children_of;
using test::HoldProcess;
using test::PipedProcess;

constexpr std::uint64_t kConnections = 60000;
// One listener process at most this share of its descriptor limit: SO_REUSEPORT picks a
// listener by hash of the 4-tuple, so the shares are near, not exactly, equal.
constexpr double kListenerFill = 0.6;
// Holder helpers forked per this many connections: what a 20000-descriptor limit allows, so the
// test takes the multi-process path on machines with a higher limit too.
constexpr std::uint64_t kPerHolderProcess = 20000;

// accept-counter is a test tool: it sits beside this test binary, not in build/bin.
std::string accept_counter_path() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "accept-counter")
      .string();
}

struct Counts {
  std::uint64_t accepted = 0, open = 0, closed = 0;
};

class Listener {
 public:
  explicit Listener(int port)
      : process_(accept_counter_path(), {"--bind", "0.0.0.0", "--port", std::to_string(port)}) {
    line_ = parse_listening_line(process_.wait_line(10));
  }
  bool ok() const { return line_.has_value(); }
  int port() const { return line_->port; }
  std::uint64_t fd_limit() const { return line_->fd_limit; }
  std::optional<Counts> counts() {
    if (!process_.write("\n")) return std::nullopt;
    return parse(process_.wait_line(10));
  }
  // Closes its stdin; the last counts line it prints then.
  std::optional<Counts> stop(int& exit_code) {
    auto r = process_.release(30);
    exit_code = r.exit_code;
    return parse(r.out);
  }

 private:
  static std::optional<Counts> parse(const std::string& line) {
    Counts c;
    unsigned long long a = 0, o = 0, cl = 0;
    if (std::sscanf(line.c_str(), "counts accepted=%llu open=%llu closed=%llu", &a, &o, &cl) != 3)
      return std::nullopt;
    c.accepted = a;
    c.open = o;
    c.closed = cl;
    return c;
  }
  PipedProcess process_;
  std::optional<ListeningLine> line_;
};

Counts total(std::vector<std::unique_ptr<Listener>>& listeners, std::vector<Counts>* each) {
  Counts sum;
  for (auto& l : listeners) {
    const auto c = l->counts();
    EXPECT_TRUE(c.has_value()) << "a listener stopped answering";
    if (!c) continue;
    if (each) each->push_back(*c);
    sum.accepted += c->accepted;
    sum.open += c->open;
    sum.closed += c->closed;
  }
  return sum;
}

TEST(IdleHolders60k, OneSourceOverSeveralDestinationsHolds60000) {
  std::vector<std::unique_ptr<Listener>> listeners;
  listeners.push_back(std::make_unique<Listener>(0));
  ASSERT_TRUE(listeners[0]->ok()) << "accept-counter did not start (" << accept_counter_path()
                                  << ")";
  const int port = listeners[0]->port();
  const std::uint64_t per_listener =
      static_cast<std::uint64_t>(static_cast<double>(listeners[0]->fd_limit()) * kListenerFill);
  const std::uint64_t wanted = std::max<std::uint64_t>(3, (kConnections - 1) / per_listener + 1);
  if (wanted > 64) {
    GTEST_SKIP() << "the descriptor limit " << listeners[0]->fd_limit() << " would need " << wanted
                 << " listener processes for 60000 connections";
  }
  while (listeners.size() < wanted) {
    listeners.push_back(std::make_unique<Listener>(port));
    ASSERT_TRUE(listeners.back()->ok());
    ASSERT_EQ(listeners.back()->port(), port);
  }

  // The loadgen's default budget per (source, destination) pair: half the ephemeral ports.
  const std::uint64_t per_pair = static_cast<std::uint64_t>(ephemeral_ports().size() / 2);
  const std::uint64_t destinations = (kConnections - 1) / per_pair + 1;
  ASSERT_GE(destinations, 2u) << "one pair alone must not be able to hold 60000";
  auto hold_args = [&](const std::string& destinations_list) {
    return std::vector<std::string>{"--port",
                                    std::to_string(port),
                                    "--idle",
                                    std::to_string(kConnections),
                                    "--idle-per-process",
                                    std::to_string(kPerHolderProcess),
                                    "--idle-sources",
                                    "127.0.0.2",
                                    "--idle-destinations",
                                    destinations_list};
  };

  // One destination cannot hold them: the loadgen says so before opening anything.
  auto one = hold_args("127.0.0.1");
  one.insert(one.begin(), "--hold");
  const auto refused = test::run_loadgen(one);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find(fmt::format(
                "60000 idle connections need {} (source, destination) address pairs of {} ports "
                "each",
                destinations, per_pair)),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("but 1 source(s) x 1 destination(s) make 1 pair(s)"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(total(listeners, nullptr).accepted, 0u);

  HoldProcess hold(hold_args(fmt::format("127.0.0.1-127.0.0.{}", destinations)));
  ASSERT_EQ(hold.wait_line(300),
            fmt::format("holding idle=60000 open=60000 refused=0 sources=1 destinations={}",
                        destinations));
  EXPECT_GE(children_of(hold.pid()).size(), 3u);

  std::vector<Counts> each;
  const Counts held = total(listeners, &each);
  EXPECT_EQ(held.accepted, kConnections);
  EXPECT_EQ(held.open, kConnections);
  for (const Counts& c : each) {
    EXPECT_GT(c.open, 0u) << "SO_REUSEPORT left a listener without connections";
    EXPECT_LT(c.open, listeners[0]->fd_limit());
  }

  const auto released = hold.release(120);
  EXPECT_EQ(released.exit_code, 0) << released.err;
  EXPECT_NE(released.out.find("released idle=60000 open=60000 refused=0"), std::string::npos)
      << released.out << released.err;
  EXPECT_NE(released.err.find(fmt::format("to {} destination(s) on port {}", destinations, port)),
            std::string::npos)
      << released.err;
  EXPECT_NE(released.err.find("from 1 source address(es)"), std::string::npos) << released.err;

  // The resets reach the listeners a moment after the holders exit.
  Counts after;
  for (int tries = 0; tries < 300; ++tries) {
    after = total(listeners, nullptr);
    if (after.open == 0) break;
    usleep(100'000);
  }
  EXPECT_EQ(after.open, 0u);
  EXPECT_EQ(after.closed, kConnections);
  for (auto& l : listeners) {
    int code = -1;
    EXPECT_TRUE(l->stop(code).has_value());
    EXPECT_EQ(code, 0);
  }
}

}  // namespace
}  // namespace mux
