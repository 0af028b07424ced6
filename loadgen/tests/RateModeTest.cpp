// loadgen --mode rate against a real server over loopback: the open loop keeps sending on
// schedule while the server is stopped, so the stall shows in the latency of every message
// scheduled during it (no coordinated omission).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "ProcessHarness.h"

namespace mux::test {
namespace {

constexpr int kRate = 2000;  // questions/s in total
constexpr double kWindowS = 2;
constexpr int kStallMs = 200;  // 10 % of the window

TEST(RateMode, ServerStallShowsInTheTailNotHiddenByTheLoop) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  // The stall starts 1.2 s after loadgen does: after the 0.5 s warm-up and set-up (tens of ms),
  // well before the window's end.
  std::thread staller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    kill(server.pid(), SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(kStallMs));
    kill(server.pid(), SIGCONT);
  });
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "rate", "--rate",
                          std::to_string(kRate), "--active", "4", "--warmup", "0.5", "--duration",
                          std::to_string(kWindowS), "--server-pid", std::to_string(server.pid()),
                          "--csv-header"});
  staller.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["status"], "ok") << r.err;
  EXPECT_EQ(row["mode"], "rate");
  EXPECT_EQ(row["rate"], std::to_string(kRate));
  EXPECT_EQ(row["lost"], "0");
  // The open loop sent everything scheduled, stall or not: about rate x window replies.
  EXPECT_GT(num(row, "msgs"), 0.8 * kRate * kWindowS);
  EXPECT_LT(num(row, "msgs"), 1.2 * kRate * kWindowS);
  // The question scheduled as the server stopped waited the whole stall.
  EXPECT_GE(std::stod(row["max_us"]), 0.75 * kStallMs * 1000);
  // 10 % of the window's questions were scheduled in the stall and waited from their intended
  // time to its end, 200 ms down to 0: the slowest 1 % waited 180 ms or more. A closed loop
  // (coordinated omission) would have sent one question per pair in the stall, and its p99
  // would not see it at all.
  EXPECT_GE(std::stod(row["p99_us"]), 0.5 * kStallMs * 1000);
  EXPECT_FALSE(row["max_send_lag_us"].empty());
}

// The loadgen's own child process named loadgen (run_loadgen forks it from this thread), or -1.
pid_t running_loadgen() {
  for (const auto& child : children_of(getpid())) {
    if (read_file("/proc/" + child + "/comm") == "loadgen\n") return std::stoi(child);
  }
  return -1;
}

TEST(RateMode, ALoadgenBehindScheduleSendsEverythingLateAndSaysHowLate) {
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  // Now the loadgen itself stops mid-window: it must catch up on every question that fell due,
  // count their latency from their intended times, and report the lag.
  pid_t stopped = -1;
  std::thread staller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    stopped = running_loadgen();
    if (stopped <= 0) return;
    kill(stopped, SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(kStallMs));
    kill(stopped, SIGCONT);
  });
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "rate", "--rate",
                          std::to_string(kRate), "--active", "4", "--warmup", "0.5", "--duration",
                          std::to_string(kWindowS), "--csv-header"});
  staller.join();
  ASSERT_GT(stopped, 0) << "no loadgen child to stop";
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row = parse_csv(r.out);
  EXPECT_EQ(row["lost"], "0");
  EXPECT_GT(num(row, "msgs"), 0.8 * kRate * kWindowS);
  EXPECT_GE(std::stod(row["max_send_lag_us"]), 0.75 * kStallMs * 1000);
  EXPECT_GE(std::stod(row["max_us"]), 0.75 * kStallMs * 1000);
  EXPECT_GE(std::stod(row["p99_us"]), 0.5 * kStallMs * 1000);
}

TEST(RateMode, PoissonArrivalsDeliverEverything) {
  ServerProcess server("chat-poll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  Result r = run_loadgen({"--port", std::to_string(server.port()), "--mode", "rate", "--rate",
                          "1000", "--arrival", "poisson", "--seed", "5", "--active", "2",
                          "--warmup", "0", "--duration", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(muxtest::json_int(r.out, "lost"), 0) << r.out;
  EXPECT_EQ(muxtest::json_int(r.out, "rate"), 1000) << r.out;
  EXPECT_GT(muxtest::json_int(r.out, "msgs"), 500) << r.out;
}

}  // namespace
}  // namespace mux::test
