// loadgen --hostile against real servers over loopback: each kind does to the server what it
// claims (the server's own counters say so), and all kinds together leave the measured clients
// of every mechanism intact. Behaviour only: no figure of latency is asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "ChatHarness.h"
#include "HostileClients.h"
#include "MechanismRegistry.h"
#include "ProcessHarness.h"

namespace mux::test {
namespace {

std::uint64_t num(const std::map<std::string, std::string>& row, const std::string& key) {
  auto it = row.find(key);
  return it == row.end() || it->second.empty() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
}

struct HostileRun {
  Result result;
  std::map<std::string, std::string> row;
};

// A pingpong run with hostile clients beside it; the pacing is quickened so that every kind
// goes through several cycles in a one-second window.
HostileRun run_hostile(const ServerProcess& server, const std::string& kinds, int count,
                       double duration_s = 1.0, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--port",
                                   std::to_string(server.port()),
                                   "--mode",
                                   "pingpong",
                                   "--active",
                                   "2",
                                   "--warmup",
                                   "0.2",
                                   "--duration",
                                   std::to_string(duration_s),
                                   "--server-pid",
                                   std::to_string(server.pid()),
                                   "--csv-header",
                                   "--hostile",
                                   std::to_string(count),
                                   "--hostile-kinds",
                                   kinds,
                                   "--hostile-pause-ms",
                                   "50",
                                   "--hostile-slowloris-ms",
                                   "100",
                                   "--hostile-storm-burst",
                                   "20"};
  args.insert(args.end(), extra.begin(), extra.end());
  HostileRun run;
  run.result = run_loadgen(args);
  run.row = parse_csv(run.result.out);
  return run;
}

// The server's /stats once every hostile connection is gone: the loadgen has exited, so the
// server must come back to holding only the connection that asks. Bounded: a server that never
// cleans up fails here.
// accepted_at_least: also wait until the server has accepted that many connections (the last
// ones may still sit in its accept queue, reset, when the loadgen exits).
std::string stats_after_cleanup(const ServerProcess& server, long long accepted_at_least = 0) {
  std::string stats;
  for (int i = 0; i < 100; ++i) {
    muxtest::Client c(server.port());
    c.welcome();
    stats = c.command("/stats");
    if (muxtest::json_int(stats, "current") == 1 &&
        muxtest::json_int(stats, "accepted") >= accepted_at_least) {
      return stats;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return stats;
}

void expect_honest_run_intact(const HostileRun& run) {
  ASSERT_EQ(run.result.exit_code, 0) << run.result.err;
  ASSERT_FALSE(run.row.empty()) << run.result.out;
  EXPECT_TRUE(run.row.at("status") == "ok" || run.row.at("status") == "loadgen-bound")
      << run.row.at("status") << "\n"
      << run.result.err;
  EXPECT_EQ(run.row.at("lost"), "0");
  EXPECT_EQ(run.row.at("corrupted"), "0");
  EXPECT_EQ(num(run.row, "refused"), 0u);
  EXPECT_GT(num(run.row, "msgs"), 0u);
  EXPECT_EQ(num(run.row, "hostile_errors"), 0u) << run.result.err;
}

class HostileKindAlone : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { muxtest::raise_own_fd_limit(); }
  std::unique_ptr<ServerProcess> start(std::vector<std::string> extra = {}) {
    extra.push_back("--quiet");
    auto s = std::make_unique<ServerProcess>("chat-epoll", extra);
    EXPECT_TRUE(s->ok()) << "no listening line from chat-epoll in " << bin_dir();
    return s;
  }
};

TEST_F(HostileKindAlone, SlowlorisHoldsOneConnectionThatTheServerKeeps) {
  auto server = start();
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "slowloris", 2);
  expect_honest_run_intact(run);
  EXPECT_EQ(run.row.at("hostile"), "2");
  EXPECT_EQ(run.row.at("hostile_kinds"), "slowloris");
  // One connection each, held through the run: a partial line is not a reason to drop anyone.
  EXPECT_EQ(num(run.row, "hostile_connects"), 2u);
  EXPECT_EQ(num(run.row, "hostile_dropped"), 0u);
  const std::string stats = stats_after_cleanup(*server);
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "overlong_dropped"), 0) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "slow_dropped"), 0) << stats;
}

TEST_F(HostileKindAlone, NeverReadFillsItsQueueInTheMeasuredRoomUntilTheServerDropsIt) {
  // A small output bound, so that one room's ping-pong overflows it within the window.
  auto server = start({"--max-outbuf", "16384"});
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "never-read", 1, 1.5);
  expect_honest_run_intact(run);
  EXPECT_GE(num(run.row, "hostile_connects"), 1u);
  const std::string stats = stats_after_cleanup(*server);
  EXPECT_GE(muxtest::json_int(stats, "slow_dropped"), 1) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
}

TEST_F(HostileKindAlone, ResetMidLineComesBackAndLeavesNothingBehind) {
  auto server = start();
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "reset-mid-line", 2);
  expect_honest_run_intact(run);
  EXPECT_GE(num(run.row, "hostile_connects"), 4u);  // two clients, several cycles each
  EXPECT_EQ(num(run.row, "hostile_dropped"), 0u);
  const std::string stats = stats_after_cleanup(*server);
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "overlong_dropped"), 0) << stats;
}

TEST_F(HostileKindAlone, VanishConnectsAgainAndAgain) {
  auto server = start();
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "vanish", 2);
  expect_honest_run_intact(run);
  const std::uint64_t connects = num(run.row, "hostile_connects");
  EXPECT_GE(connects, 4u);
  EXPECT_EQ(num(run.row, "hostile_refused"), 0u);
  const std::string stats = stats_after_cleanup(*server, static_cast<long long>(connects));
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
  // Every vanished connection had finished its handshake, so the server accepted it anyway.
  EXPECT_GE(muxtest::json_int(stats, "accepted"), static_cast<long long>(connects)) << stats;
}

TEST_F(HostileKindAlone, OverlongIsAnsweredAndClosedByTheServer) {
  auto server = start();
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "overlong", 2);
  expect_honest_run_intact(run);
  const std::uint64_t dropped = num(run.row, "hostile_dropped");
  EXPECT_GE(dropped, 2u);
  const std::string stats = stats_after_cleanup(*server);
  // A cycle cut short by the end of the window may have been dropped without the client seeing
  // the close: the server's count is at least the client's.
  EXPECT_GE(muxtest::json_int(stats, "overlong_dropped"), static_cast<long long>(dropped)) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
}

TEST_F(HostileKindAlone, StormOpensWholeBurstsAtOnce) {
  auto server = start();
  ASSERT_TRUE(server->ok());
  const auto run = run_hostile(*server, "storm", 1);
  expect_honest_run_intact(run);
  EXPECT_GE(num(run.row, "hostile_connects"), 20u);
  EXPECT_EQ(num(run.row, "hostile_connects") % 20, 0u);  // whole bursts of 20
  EXPECT_EQ(num(run.row, "hostile_refused"), 0u);
  const std::string stats = stats_after_cleanup(*server);
  // A burst is connected before any of it is closed: the server held all 20 at once, beside
  // the 2 measured connections and the control connection.
  EXPECT_GE(muxtest::json_int(stats, "peak"), 23) << stats;
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
}

TEST(HostileKinds, ParseNamesAndRefuseUnknownOnes) {
  auto all = parse_hostile_kinds("slowloris,never-read,reset-mid-line,vanish,overlong,storm");
  ASSERT_TRUE(std::holds_alternative<std::vector<HostileKind>>(all));
  EXPECT_EQ(std::get<std::vector<HostileKind>>(all), all_hostile_kinds());
  EXPECT_EQ(hostile_kinds_text(all_hostile_kinds()),
            "slowloris,never-read,reset-mid-line,vanish,overlong,storm");
  auto bad = parse_hostile_kinds("slowloris,teapot");
  ASSERT_TRUE(std::holds_alternative<std::string>(bad));
  EXPECT_NE(std::get<std::string>(bad).find("teapot"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_hostile_kinds("")));
}

TEST(HostileOptions, AFloorOrAHoldTakesNoHostileClients) {
  const Result r = run_loadgen({"--mode", "floor", "--hostile", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--hostile"), std::string::npos) << r.err;
}

// Every kind at once, against every mechanism of the registry.
class HostileBesideEveryMechanism : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { muxtest::raise_own_fd_limit(); }
};

TEST_P(HostileBesideEveryMechanism, HonestClientsLoseNothingAndTheRunEndsByItself) {
  const Mechanism& m = *find_mechanism(GetParam());
  if (m.optional) {
    if (auto why = unavailable_reason(m)) GTEST_SKIP() << *why;
  }
  auto args = m.args();
  args.push_back("--quiet");
  ServerProcess server(std::string(m.binary), args);
  ASSERT_TRUE(server.ok()) << m.binary << " did not print its listening line";
  // run_loadgen fails a loadgen that does not exit by itself within its timeout.
  const auto run = run_hostile(server, hostile_kinds_text(all_hostile_kinds()), 12);
  expect_honest_run_intact(run);
  EXPECT_EQ(run.row.at("mechanism"), m.name);
  EXPECT_EQ(run.row.at("hostile"), "12");
  EXPECT_EQ(run.row.at("hostile_kinds"),
            "slowloris+never-read+reset-mid-line+vanish+overlong+storm");
  EXPECT_GT(num(run.row, "hostile_connects"), 12u);
  const std::string stats = stats_after_cleanup(server);
  EXPECT_EQ(muxtest::json_int(stats, "current"), 1) << stats;
}

std::vector<std::string> every_mechanism() {
  std::vector<std::string> out;
  for (const auto& m : mechanisms()) out.emplace_back(m.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Registry, HostileBesideEveryMechanism,
                         ::testing::ValuesIn(every_mechanism()), [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace mux::test
