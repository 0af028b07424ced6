// A server that dies mid-window must give every mode the same verdict: the RunDriver owns the
// death probe, so pingpong (members that lose their connections) and churn (new connections
// refused) both end with server-died and a partial row, whether loadgen watches the server's
// process (--server-pid, a pidfd) or only sees its connections close (the control connection
// tells a dead server from a dropped connection).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "ChurnMode.h"
#include "MessageModes.h"
#include "ProcessHarness.h"
#include "RunDriver.h"

namespace mux::test {
namespace {

// Runs the real mode and kills the server in the first turn of the window.
class KillInWindow : public Mode {
 public:
  KillInWindow(std::unique_ptr<Mode> inner, ServerProcess& server)
      : inner_(std::move(inner)), server_(server) {}

  std::optional<std::string> on_setup() override {
    share_driver(*inner_, driver());
    return inner_->on_setup();
  }
  std::string members_noun() const override { return inner_->members_noun(); }
  void on_start(std::uint64_t now) override { inner_->on_start(now); }
  void on_phase_change(Phase to, std::uint64_t now) override {
    inner_->on_phase_change(to, now);
    if (to == Phase::kWindow)
      driver().loop().at(now, [this](std::uint64_t) { server_.kill_now(); });
  }
  void on_line(Conn& c, std::string_view line, std::uint64_t now) override {
    inner_->on_line(c, line, now);
  }
  void on_closed(Conn& c, int err, std::uint64_t now) override { inner_->on_closed(c, err, now); }
  bool drained() const override { return inner_->drained(); }
  Progress progress() const override { return inner_->progress(); }
  void finish(RunResult& r, bool server_died) override { inner_->finish(r, server_died); }
  std::string describe(const Conn& c) const override { return inner_->describe(c); }

 private:
  std::unique_ptr<Mode> inner_;
  ServerProcess& server_;
};

struct Case {
  std::string mode;
  bool with_pid;
};

class ServerDeath : public ::testing::TestWithParam<Case> {};

TEST_P(ServerDeath, MidWindowIsServerDiedWithAPartialRow) {
  const Case& c = GetParam();
  ServerProcess server("chat-epoll", {"--quiet"});
  ASSERT_TRUE(server.ok());
  Options o;
  o.mode = c.mode;
  o.port = server.port();
  o.active = 4;
  o.warmup = 0.2;
  o.duration = 3600;  // only the death can end this window
  if (c.with_pid) o.server_pid = server.pid();
  const Endpoint endpoint = std::get<Endpoint>(resolve(o.host, o.port));
  ServerControl control;
  ASSERT_FALSE(control.open(endpoint, fmt::format("lg{}-ctl", getpid()), nullptr));
  RunResult r;
  KillInWindow mode(c.mode == "churn" ? make_churn_mode(o) : make_message_mode(o), server);
  const RunOutcome out = RunDriver(o, endpoint, control, r, mode).run();
  EXPECT_FALSE(out.fatal) << *out.fatal;
  ASSERT_TRUE(out.server_died);
  EXPECT_NE(out.server_died->find("s after traffic started"), std::string::npos)
      << *out.server_died;
  EXPECT_EQ(r.status, "server-died") << *out.server_died;
  EXPECT_TRUE(r.measured);
  EXPECT_EQ(r.integrity.lost, 0u);  // what a dead server owed is not counted as lost
}

INSTANTIATE_TEST_SUITE_P(EveryMode, ServerDeath,
                         ::testing::Values(Case{"pingpong", true}, Case{"pingpong", false},
                                           Case{"churn", true}, Case{"churn", false},
                                           Case{"flood", true}, Case{"broadcast", false}),
                         [](const auto& info) {
                           return info.param.mode + (info.param.with_pid ? "_pidfd" : "_no_pid");
                         });

}  // namespace
}  // namespace mux::test
