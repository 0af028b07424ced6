// loadgen against the real servers over loopback: every mode, with a few hundred idle
// connections, must deliver everything intact.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "HistogramJson.h"
#include "ProcessHarness.h"

namespace mux::test {
namespace {

struct ServerKind {
  std::string binary;
  std::vector<std::string> extra;
  std::string mechanism;
};

const std::vector<ServerKind>& servers() {
  static const std::vector<ServerKind> s = {
      {"chat-select", {}, "select"},
      {"chat-poll", {}, "poll"},
      {"chat-epoll", {}, "epoll-lt"},
      {"chat-epoll", {"--edge"}, "epoll-et"},
  };
  return s;
}

// As the row prints µs: three decimals, trailing zeros dropped.
std::string us(std::uint64_t ns) {
  std::string s = fmt::format("{:.3f}", static_cast<double>(ns) / 1000.0);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// The --histogram-out file is the row's histogram: same identity, same percentiles.
void expect_histogram_of_row(const std::string& path, std::map<std::string, std::string>& row) {
  ParsedHistogram h;
  const auto err = parse_histogram_json(read_file(path), h);
  ASSERT_FALSE(err) << path << ": " << *err;
  EXPECT_EQ(h.identity.mechanism, row["mechanism"]);
  EXPECT_EQ(h.identity.mode, row["mode"]);
  EXPECT_EQ(std::to_string(h.identity.idle), row["idle"]);
  EXPECT_EQ(h.identity.label, row["label"]);
  ASSERT_GT(h.histogram.count(), 0u);
  EXPECT_EQ(us(h.histogram.percentile(0.5)), row["p50_us"]);
  EXPECT_EQ(us(h.histogram.percentile(0.9)), row["p90_us"]);
  EXPECT_EQ(us(h.histogram.percentile(0.99)), row["p99_us"]);
  EXPECT_EQ(us(h.histogram.percentile(0.999)), row["p999_us"]);
  EXPECT_EQ(us(h.histogram.max()), row["max_us"]);
  const std::uint64_t msgs = std::strtoull(row["msgs"].c_str(), nullptr, 10);
  const std::uint64_t n = h.histogram.count();
  const std::string& mode = row["mode"];
  if (mode == "pingpong") {
    // One round trip per two deliveries: each pair's deliveries alternate, so the window holds
    // as many answers as questions, give or take one per pair.
    const std::uint64_t pairs = std::strtoull(row["active"].c_str(), nullptr, 10) / 2;
    EXPECT_LE(2 * n, msgs + pairs) << "msgs " << msgs;
    EXPECT_GE(2 * n + pairs, msgs) << "msgs " << msgs;
  } else if (mode == "floor" || mode == "relay-floor") {
    EXPECT_EQ(2 * n, msgs);
  } else {
    EXPECT_EQ(n, msgs);  // broadcast, rate, flood, churn: one latency per counted delivery
  }
}

class EveryServerEveryMode : public ::testing::TestWithParam<std::tuple<std::size_t, std::string>> {
};

TEST_P(EveryServerEveryMode, DeliversEverythingIntactWithIdleConnections) {
  const auto& kind = servers()[std::get<0>(GetParam())];
  const std::string mode = std::get<1>(GetParam());
  std::vector<std::string> server_args = kind.extra;
  server_args.push_back("--quiet");
  ServerProcess server(kind.binary, server_args);
  ASSERT_TRUE(server.ok()) << "no listening line from " << bin_dir() << "/" << kind.binary << ": '"
                           << server.listening_line() << "'";
  std::vector<std::string> args = {"--port",       std::to_string(server.port()),
                                   "--mode",       mode,
                                   "--idle",       "300",
                                   "--active",     "4",
                                   "--warmup",     "0.2",
                                   "--duration",   "1",
                                   "--rate",       "2000",
                                   "--server-pid", std::to_string(server.pid()),
                                   "--csv-header", "--label",
                                   "e2e"};
  const TempPath histogram("latency.json");
  args.insert(args.end(), {"--histogram-out", histogram.path()});
  Result r = run_loadgen(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  ASSERT_FALSE(row.empty()) << r.out;
  expect_histogram_of_row(histogram.path(), row);
  EXPECT_EQ(row["mechanism"], kind.mechanism);
  EXPECT_EQ(row["mode"], mode);
  EXPECT_TRUE(row["status"] == "ok" || row["status"] == "loadgen-bound") << row["status"];
  EXPECT_EQ(num(row, "idle"), 300u);
  EXPECT_EQ(num(row, "idle_open"), 300u);
  EXPECT_EQ(num(row, "refused"), 0u);
  EXPECT_GT(num(row, "msgs"), 0u);
  EXPECT_GT(std::strtod(row["throughput_msgs_s"].c_str(), nullptr), 0.0);
  EXPECT_GT(std::strtod(row["p50_us"].c_str(), nullptr), 0.0);
  EXPECT_LE(std::strtod(row["p50_us"].c_str(), nullptr),
            std::strtod(row["p99_us"].c_str(), nullptr));
  EXPECT_EQ(row["lost"], "0");
  EXPECT_EQ(row["duplicated"], "0");
  EXPECT_EQ(row["reordered"], "0");
  EXPECT_EQ(row["corrupted"], "0");
  EXPECT_GT(num(row, "server_wait_calls"), 0u);
  // Every wait call is a system call; flood batches many messages per call, so per message the
  // count may be below one, but never zero.
  EXPECT_GE(num(row, "server_syscalls"), num(row, "server_wait_calls"));
  EXPECT_GT(std::strtod(row["server_syscalls_per_msg"].c_str(), nullptr), 0.0);
  EXPECT_FALSE(row["server_cpu_us"].empty());
  EXPECT_EQ(row["label"], "e2e");
  if (mode == "churn") {
    // Every completed connection carried one checked message; the rate is per connection.
    EXPECT_GT(std::strtod(row["conns_per_s"].c_str(), nullptr), 0.0);
    EXPECT_EQ(row["conns_per_s"], row["throughput_msgs_s"]);
    EXPECT_FALSE(row["server_cpu_us_per_msg"].empty());
  } else {
    EXPECT_EQ(row["conns_per_s"], "");
  }
}

INSTANTIATE_TEST_SUITE_P(Loopback, EveryServerEveryMode,
                         ::testing::Combine(::testing::Range<std::size_t>(0, 4),
                                            ::testing::Values("pingpong", "broadcast", "rate",
                                                              "flood", "churn")),
                         [](const auto& info) {
                           const auto& k = servers()[std::get<0>(info.param)];
                           std::string name = k.mechanism + "_" + std::get<1>(info.param);
                           for (auto& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(EndToEnd, BroadcastCountsEveryReceiver) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  // 5 members, 500 msg/s for 1 s: each message reaches the 4 others.
  Result r =
      run_loadgen({"--port", std::to_string(server.port()), "--mode", "broadcast", "--active", "5",
                   "--rate", "500", "--warmup", "0", "--duration", "1", "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["lost"], "0");
  // Deliveries in the window: about 500 * 4; allow for messages straddling its edges.
  EXPECT_GT(num(row, "msgs"), 1500u);
  EXPECT_LT(num(row, "msgs"), 2500u);
}

TEST(EndToEnd, SelectRefusalsAreReportedNotFatal) {
  ServerProcess server("chat-select", {"--quiet"});
  ASSERT_TRUE(server.ok());
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "pingpong", "--idle",
                          "1100", "--warmup", "0", "--duration", "0.5", "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["status"], "refused:FD_SETSIZE");
  EXPECT_EQ(row["mechanism"], "select");
  // About 1100 - 1020 idle connections plus both active ones are refused.
  EXPECT_GE(num(row, "refused"), 50u);
  EXPECT_GT(num(row, "idle_open"), 900u);
  EXPECT_EQ(num(row, "idle_open") + num(row, "refused"), 1100u + 2u);
  EXPECT_EQ(row["msgs"], "");
  EXPECT_NE(r.err.find("FD_SETSIZE"), std::string::npos) << r.err;
}

TEST(EndToEnd, ChurnPastSelectsLimitIsRefusedNotFatal) {
  ServerProcess server("chat-select", {"--quiet"});
  ASSERT_TRUE(server.ok());
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "churn", "--idle",
                          "1100", "--warmup", "0", "--duration", "0.5", "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["status"], "refused:FD_SETSIZE");
  EXPECT_GT(num(row, "refused"), 0u);
}

TEST(EndToEnd, HoldOnSelectCountsRefusals) {
  ServerProcess server("chat-select", {"--quiet"});
  ASSERT_TRUE(server.ok());
  HoldProcess hold({"--port", std::to_string(server.port()), "--idle", "1100"});
  const std::string line = hold.wait_line();
  unsigned idle = 0, open = 0, refused = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "holding idle=%u open=%u refused=%u", &idle, &open, &refused),
            3)
      << line;
  EXPECT_EQ(idle, 1100u);
  EXPECT_GT(refused, 0u);
  EXPECT_EQ(open + refused, 1100u);
  Result r = hold.release();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("released idle=1100 open=" + std::to_string(open)), std::string::npos)
      << r.out;
}

TEST(EndToEnd, NothingListeningIsAOneLineError) {
  // Port 1 on loopback: nothing listens there, and no one may bind it without privileges.
  Result r = run_loadgen({"--port", "1", "--mode", "pingpong", "--duration", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nothing is listening on 127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(EndToEnd, BadFlagsAreAOneLineError) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--mode", "nosuch"},
           {"--mode", "pingpong", "--active", "3"},
           {"--mode", "pingpong", "--size", "8"},
           {"--mode", "broadcast", "--rate", "0"},
           {"--mode", "rate", "--rate", "0"},
           {"--mode", "rate", "--active", "3"},
           {"--mode", "rate", "--arrival", "uniform"},
           {"--mode", "flood", "--window", "x"},
           {"--mode", "flood", "--window", "auto", "--warmup", "0"},
           {"--hold"},
           {"--mode", "pingpong", "--bogus"}}) {
    Result r = run_loadgen(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(EndToEnd, ServerDyingMidRunGivesPartialRowAndNonZeroExit) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    server.kill_now();
  });
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "flood", "--warmup",
                          "0.5", "--duration", "5", "--csv-header"});
  killer.join();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["status"], "server-died");
  EXPECT_GT(num(row, "msgs"), 0u);
  EXPECT_NE(r.err.find("s after traffic started"), std::string::npos) << r.err;
}

TEST(EndToEnd, FloorNeedsNoServer) {
  Result r = run_loadgen({"--mode", "floor", "--warmup", "0.1", "--duration", "0.5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"mechanism\":\"floor\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"status\":\"ok\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"msgs\":0,"), std::string::npos) << r.out;
}

TEST(EndToEnd, FloodWindowAutoRecordsTheWindowItChose) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "flood", "--window",
                          "auto", "--server-pid", std::to_string(server.pid()), "--warmup", "0.5",
                          "--duration", "0.5", "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_TRUE(row["status"] == "ok" || row["status"] == "loadgen-bound") << row["status"];
  EXPECT_GE(num(row, "window_chosen"), 1u) << r.out;
  EXPECT_LE(num(row, "window_chosen"), 1024u) << r.out;
  EXPECT_GT(num(row, "msgs"), 0u);
  EXPECT_EQ(row["lost"], "0");
  EXPECT_EQ(row["corrupted"], "0");

  Result fixed =
      run_loadgen({"--port", std::to_string(server.port()), "--mode", "flood", "--window", "8",
                   "--warmup", "0", "--duration", "0.3", "--csv-header"});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(parse_csv(fixed.out)["window_chosen"], "8");
}

// The pids of this process's children (what a subreaper adopts shows up here too).
std::vector<pid_t> own_children() {
  std::vector<pid_t> pids;
  std::ifstream in("/proc/self/task/" + std::to_string(gettid()) + "/children");
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

TEST(EndToEnd, RelayFloorMeasuresAndLeavesNoPeerBehind) {
  // As a subreaper this test inherits the relay peer if loadgen exits without reaping it, so a
  // peer left running (or left a zombie) is seen as our child afterwards.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ASSERT_TRUE(own_children().empty());
  const TempPath histogram("relay-floor.json");
  Result r = run_loadgen({"--mode", "relay-floor", "--warmup", "0.1", "--duration", "0.5",
                          "--label", "rf", "--csv-header", "--histogram-out", histogram.path()});
  const std::vector<pid_t> left = own_children();
  for (pid_t p : left) {
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) outlived loadgen, first pid "
                            << left.front();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["mechanism"], "floor");
  EXPECT_EQ(row["mode"], "relay-floor");
  EXPECT_EQ(row["label"], "rf");
  EXPECT_EQ(row["status"], "ok");
  EXPECT_GT(num(row, "msgs"), 0u);
  EXPECT_EQ(num(row, "msgs") % 2, 0u) << "two deliveries per round trip";
  EXPECT_GT(std::strtod(row["p50_us"].c_str(), nullptr), 0.0);
  EXPECT_EQ(row["corrupted"], "0");
  expect_histogram_of_row(histogram.path(), row);
}

TEST(EndToEnd, HistogramOutFollowsTheFloorAndFailsClearly) {
  const TempPath histogram("floor.json");
  Result r = run_loadgen({"--mode", "floor", "--warmup", "0.1", "--duration", "0.3", "--csv-header",
                          "--histogram-out", histogram.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  expect_histogram_of_row(histogram.path(), row);

  // A path that cannot be written is refused before the run: one line, exit 2, no row.
  Result bad = run_loadgen(
      {"--mode", "floor", "--duration", "0.3", "--histogram-out", "/nonexistent-dir/h.json"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("--histogram-out /nonexistent-dir/h.json"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;

  // A write that fails at the end (a full disk): the row is printed, then one line, exit 1.
  Result full = run_loadgen({"--mode", "floor", "--warmup", "0", "--duration", "0.2",
                             "--csv-header", "--histogram-out", "/dev/full"});
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_FALSE(parse_csv(full.out).empty()) << full.out;
  EXPECT_NE(full.err.find("loadgen: --histogram-out /dev/full: No space left on device"),
            std::string::npos)
      << full.err;
}

TEST(EndToEnd, HistogramOutNeedsARunNotAHold) {
  Result r = run_loadgen({"--hold", "--idle", "3", "--histogram-out", "/tmp/never.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--histogram-out"), std::string::npos) << r.err;
}

TEST(EndToEnd, IdleHeldElsewhereLeavesIdleOpenEmpty) {
  ServerProcess server("chat-poll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  HoldProcess hold({"--port", std::to_string(server.port()), "--idle", "200"});
  ASSERT_EQ(hold.wait_line(), "holding idle=200 open=200 refused=0 sources=1 destinations=1");
  Result r =
      run_loadgen({"--port", std::to_string(server.port()), "--mode", "pingpong", "--idle-held",
                   "200", "--warmup", "0", "--duration", "0.5", "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["idle"], "200");
  EXPECT_EQ(row["idle_open"], "");
  EXPECT_EQ(row["lost"], "0");
  Result rel = hold.release();
  EXPECT_EQ(rel.exit_code, 0);
  EXPECT_NE(rel.out.find("released idle=200 open=200 refused=0"), std::string::npos) << rel.out;
}

// Splits the lines of a --series-out file into rows of column -> value (no quoted cells: the
// label is empty).
std::vector<std::map<std::string, std::string>> read_series(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> header;
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::stringstream ss(l);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!l.empty() && l.back() == ',') cells.push_back("");
    return cells;
  };
  if (std::getline(in, line)) header = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

class SeriesEveryMode : public ::testing::TestWithParam<std::tuple<std::size_t, std::string>> {};

// --interval 0.25 over a 1 s window: four intervals, edge to edge, whose messages add up to the
// row's (the last edge is the window's own end), each with the server's CPU from /stats.
TEST_P(SeriesEveryMode, IntervalsTileTheWindowAndAddUpToTheRow) {
  const auto& kind = servers()[std::get<0>(GetParam())];
  const std::string mode = std::get<1>(GetParam());
  std::vector<std::string> server_args = kind.extra;
  server_args.push_back("--quiet");
  ServerProcess server(kind.binary, server_args);
  ASSERT_TRUE(server.ok());
  const TempPath series("series.csv");
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", mode, "--idle", "100",
                          "--active", "4", "--rate", "2000", "--warmup", "0.1", "--duration", "1",
                          "--interval", "0.25", "--series-out", series.path(), "--csv-header"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  const auto rows = read_series(series.path());
  ASSERT_EQ(rows.size(), 4u) << read_file(series.path());
  std::uint64_t msgs = 0;
  std::string previous_end = "0";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto iv = rows[i];
    EXPECT_EQ(iv["mechanism"], kind.mechanism);
    EXPECT_EQ(iv["mode"], mode);
    EXPECT_EQ(iv["idle"], "100");
    EXPECT_EQ(iv["interval"], std::to_string(i + 1));
    EXPECT_EQ(iv["start_s"], previous_end) << "intervals must tile the window";
    previous_end = iv["end_s"];
    msgs += num(iv, "msgs");
    EXPECT_FALSE(iv["loadgen_cpu_pct"].empty());
    EXPECT_FALSE(iv["server_cpu_us"].empty()) << "interval " << i + 1 << ": no /stats answer";
    EXPECT_FALSE(iv["server_lag_us"].empty());
    if (num(iv, "latencies") > 0) {
      EXPECT_LE(std::strtod(iv["p50_us"].c_str(), nullptr),
                std::strtod(iv["p99_us"].c_str(), nullptr));
    }
  }
  EXPECT_EQ(msgs, num(row, "msgs"));
  // The last interval runs from the third edge to the window's end, never empty.
  EXPECT_GT(std::strtod(previous_end.c_str(), nullptr),
            std::strtod(rows.back().at("start_s").c_str(), nullptr));
}

INSTANTIATE_TEST_SUITE_P(Loopback, SeriesEveryMode,
                         ::testing::Combine(::testing::Values<std::size_t>(1, 2),
                                            ::testing::Values("pingpong", "flood", "churn")),
                         [](const auto& info) {
                           const auto& k = servers()[std::get<0>(info.param)];
                           std::string name = k.mechanism + "_" + std::get<1>(info.param);
                           for (auto& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(EndToEnd, SeriesOptionsAreCheckedBeforeTheRun) {
  Result no_file = run_loadgen({"--mode", "pingpong", "--interval", "1"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.err.find("--series-out"), std::string::npos) << no_file.err;
  Result floor = run_loadgen({"--mode", "floor", "--series-out", "/tmp/never.csv"});
  EXPECT_EQ(floor.exit_code, 2);
  EXPECT_NE(floor.err.find("--series-out needs a server mode"), std::string::npos) << floor.err;
  Result bad = run_loadgen({"--mode", "pingpong", "--series-out", "/nonexistent-dir/s.csv"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--series-out /nonexistent-dir/s.csv"), std::string::npos) << bad.err;
  Result bad_hlog = run_loadgen({"--mode", "rate", "--hlog", "/nonexistent-dir/l.hlog"});
  EXPECT_EQ(bad_hlog.exit_code, 2);
  EXPECT_NE(bad_hlog.err.find("--hlog /nonexistent-dir/l.hlog"), std::string::npos) << bad_hlog.err;
}

}  // namespace
}  // namespace mux::test
