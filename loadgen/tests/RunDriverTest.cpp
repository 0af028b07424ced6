// The RunDriver with a fake mode (and, for set-up, a scripted fake server on a thread): the
// phases run in order, set-up joins or counts refusals, and the status rules decide the row's
// status the same way whatever the mode. Order and outcomes are asserted, never durations.
#include "RunDriver.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "Net.h"

namespace mux {
namespace {

// What the fake server does with each connection it accepts, in order.
enum class Script { kJoin, kRefuseFdSetsize, kCloseAtOnce };

class FakeServer {
 public:
  explicit FakeServer(std::vector<Script> scripts) : scripts_(std::move(scripts)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    endpoint_ = std::get<Endpoint>(resolve("127.0.0.1", ntohs(a.sin_port)));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // unblocks accept() if a connection never came
    thread_.join();
    for (int fd : open_) close(fd);
    close(listen_fd_);
  }
  const Endpoint& endpoint() const { return endpoint_; }
  // Every line the server received, in order (valid after the run).
  const std::vector<std::string>& received() const { return received_; }

 private:
  void serve() {
    for (Script s : scripts_) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      if (s == Script::kCloseAtOnce) {
        close(fd);
        continue;
      }
      if (s == Script::kRefuseFdSetsize) {
        (void)write_all(fd, "! server full: select() cannot watch descriptor 1024 (FD_SETSIZE)\n");
        close(fd);
        continue;
      }
      open_.push_back(fd);
      (void)write_all(fd, "* welcome guest (room lobby; /help for commands)\n");
      std::string pending;
      for (;;) {
        auto got = read_line(fd, pending, 5000);
        if (!got.ok()) break;
        received_.push_back(got.line);
        if (got.line.rfind("/join ", 0) == 0) {
          (void)write_all(fd, "* you joined " + got.line.substr(6) + "\n");
          break;
        }
      }
    }
  }

  std::vector<Script> scripts_;
  int listen_fd_ = -1;
  Endpoint endpoint_;
  std::thread thread_;
  std::vector<int> open_;
  std::vector<std::string> received_;
};

class FakeMode : public Mode {
 public:
  std::size_t members = 0;
  std::optional<std::string> setup_error;
  bool is_drained = true;
  std::function<void(FakeMode&, Phase)> on_phase;  // the test's hook
  std::vector<std::string> log;
  std::vector<Conn*> conns;
  bool finished = false, finished_with_died_server = false;

  RunDriver& d() { return driver(); }

  std::optional<std::string> on_setup() override {
    if (setup_error) return setup_error;
    for (std::size_t i = 0; i < members; ++i) {
      auto opened = driver().open_member(i, fmt::format("n{}", i), fmt::format("r{}", i));
      if (!opened.conn) return opened.error;
      conns.push_back(opened.conn);
    }
    return std::nullopt;
  }
  std::string members_noun() const override { return "fake members"; }
  void on_start(std::uint64_t) override {
    std::size_t joined = 0;
    for (Conn* c : conns) joined += c->joined;
    log.push_back(fmt::format("start ({} joined)", joined));
  }
  void on_phase_change(Phase to, std::uint64_t) override {
    log.push_back(to == Phase::kWindow ? "window" : to == Phase::kDrain ? "drain" : "other");
    if (on_phase) on_phase(*this, to);
  }
  void on_line(Conn&, std::string_view line, std::uint64_t) override {
    log.push_back("line " + std::string(line));
  }
  bool drained() const override { return is_drained; }
  Progress progress() const override { return {}; }
  void finish(RunResult&, bool server_died) override {
    finished = true;
    finished_with_died_server = server_died;
  }
  std::string describe(const Conn& c) const override { return fmt::format("fake {}", c.tag); }
};

struct TestRun {
  Options o;
  Endpoint server;
  ServerControl control;
  RunResult r;
  RunOutcome out;

  TestRun() {
    o.warmup = 0.01;
    o.duration = 0.02;
    o.drain_timeout = 0.02;
  }
  void go(FakeMode& mode) { out = RunDriver(o, server, control, r, mode).run(); }
};

using Log = std::vector<std::string>;

TEST(RunDriver, PhasesRunWarmupWindowDrainInOrder) {
  TestRun run;
  FakeMode mode;
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"start (0 joined)", "window", "drain"}));
  EXPECT_FALSE(run.out.fatal);
  EXPECT_FALSE(run.out.server_died);
  EXPECT_TRUE(mode.finished);
  EXPECT_FALSE(mode.finished_with_died_server);
  EXPECT_TRUE(run.r.measured);
  EXPECT_EQ(run.r.status, "ok");
}

TEST(RunDriver, WithoutWarmupTheWindowIsOpenWhenTrafficStarts) {
  TestRun run;
  run.o.warmup = 0;
  FakeMode mode;
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"window", "start (0 joined)", "drain"}));
}

TEST(RunDriver, ADrainedModeEndsTheDrainWithoutWaitingForItsTimeout) {
  TestRun run;
  run.o.drain_timeout = 3600;  // the test would hang if the drain waited for it
  FakeMode mode;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to != Phase::kDrain) return;
    m.d().loop().at(now_ns() + 1'800'000'000'000ULL,
                    [&m](std::uint64_t) { m.log.push_back("late"); });
  };
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"start (0 joined)", "window", "drain"}));
  EXPECT_EQ(run.r.status, "ok");
}

TEST(RunDriver, AModeThatNeverDrainsEndsAtTheDrainTimeout) {
  TestRun run;
  FakeMode mode;
  mode.is_drained = false;
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"start (0 joined)", "window", "drain"}));
  EXPECT_TRUE(mode.finished);
  EXPECT_EQ(run.r.status, "ok");
}

TEST(RunDriver, AServerGoneMidWindowIsServerDiedWithPartialFigures) {
  TestRun run;
  run.o.duration = 3600;  // only the death can end this window
  FakeMode mode;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to == Phase::kWindow) {
      m.d().loop().at(now_ns(), [&m](std::uint64_t) { m.d().server_gone("the fake went away"); });
    }
  };
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"start (0 joined)", "window"}));
  ASSERT_TRUE(run.out.server_died);
  EXPECT_NE(run.out.server_died->find("the fake went away"), std::string::npos);
  EXPECT_NE(run.out.server_died->find("s after traffic started"), std::string::npos);
  EXPECT_FALSE(run.out.fatal);
  EXPECT_EQ(run.r.status, "server-died");
  EXPECT_TRUE(run.r.measured);  // the window's figures up to the death
  EXPECT_TRUE(mode.finished);
  EXPECT_TRUE(mode.finished_with_died_server);
}

TEST(RunDriver, AFatalErrorMidRunIsAnErrorAndNothingIsFinished) {
  TestRun run;
  FakeMode mode;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to == Phase::kWindow) m.d().fatal("out of file descriptors");
  };
  run.go(mode);
  ASSERT_TRUE(run.out.fatal);
  EXPECT_EQ(*run.out.fatal, "out of file descriptors");
  EXPECT_EQ(run.r.status, "error:out of file descriptors");
  EXPECT_FALSE(mode.finished);
}

TEST(RunDriver, ServerErrorLinesDuringTrafficMakeIntegrityErrors) {
  TestRun run;
  FakeMode mode;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to == Phase::kWindow) m.d().server_error("! unknown command: /foo");
  };
  run.go(mode);
  EXPECT_EQ(run.r.status, "integrity-errors");
}

TEST(RunDriver, ASetupErrorIsFatalAndTrafficNeverStarts) {
  TestRun run;
  FakeMode mode;
  mode.setup_error = "cannot open";
  run.go(mode);
  ASSERT_TRUE(run.out.fatal);
  EXPECT_EQ(*run.out.fatal, "cannot open");
  EXPECT_TRUE(mode.log.empty());
  EXPECT_FALSE(run.r.measured);
}

TEST(RunDriver, MembersAreInTheirRoomsBeforeTrafficStarts) {
  FakeServer server({Script::kJoin, Script::kJoin});
  TestRun run;
  run.server = server.endpoint();
  FakeMode mode;
  mode.members = 2;
  run.go(mode);
  EXPECT_EQ(mode.log, (Log{"start (2 joined)", "window", "drain"}));
  EXPECT_EQ(run.r.status, "ok");
  EXPECT_EQ(run.r.refused, 0u);
  EXPECT_EQ(server.received(), (Log{"/nick n0", "/join r0", "/nick n1", "/join r1"}));
}

TEST(RunDriver, ARefusalAtSetupIsCountedAndNoTrafficIsSent) {
  FakeServer server({Script::kJoin, Script::kRefuseFdSetsize});
  TestRun run;
  run.server = server.endpoint();
  FakeMode mode;
  mode.members = 2;
  run.go(mode);
  EXPECT_TRUE(mode.log.empty());
  EXPECT_FALSE(run.out.fatal);
  EXPECT_FALSE(run.out.server_died);
  EXPECT_EQ(run.r.status, "refused:FD_SETSIZE");
  EXPECT_EQ(run.r.refused, 1u);
  EXPECT_FALSE(run.r.measured);
}

TEST(RunDriver, ACloseWithoutAWordAtSetupIsARefusal) {
  FakeServer server({Script::kCloseAtOnce});
  TestRun run;
  run.server = server.endpoint();
  FakeMode mode;
  mode.members = 1;
  run.go(mode);
  EXPECT_TRUE(mode.log.empty());
  EXPECT_EQ(run.r.status, "refused:closed without a word");
  EXPECT_EQ(run.r.refused, 1u);
}

TEST(RunDriver, ALostConnectionIsServerDiedWhenNothingSaysTheServerRuns) {
  FakeServer server({Script::kJoin});
  TestRun run;
  run.server = server.endpoint();
  FakeMode mode;
  mode.members = 1;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to == Phase::kWindow) m.d().lost(*m.conns[0], "reset");
  };
  run.go(mode);
  ASSERT_TRUE(run.out.server_died);
  EXPECT_NE(run.out.server_died->find("the server dropped fake 0"), std::string::npos)
      << *run.out.server_died;
  EXPECT_EQ(run.r.status, "server-died");
}

TEST(RunDriver, ALostConnectionWhileTheServerProcessRunsIsDroppedByServer) {
  FakeServer server({Script::kJoin});
  TestRun run;
  run.server = server.endpoint();
  run.o.server_pid = getpid();  // "the server" is this test process: alive throughout
  FakeMode mode;
  mode.members = 1;
  mode.on_phase = [](FakeMode& m, Phase to) {
    if (to == Phase::kWindow) m.d().lost(*m.conns[0], "reset");
  };
  run.go(mode);
  ASSERT_TRUE(run.out.server_died);
  EXPECT_NE(run.out.server_died->find("still running"), std::string::npos) << *run.out.server_died;
  EXPECT_EQ(run.r.status, "error:dropped-by-server");
}

TEST(DecideStatus, DeathBeatsFatalBeatsRefusalBeatsTheJudgement) {
  auto status = [](const RunEnd& e, std::uint64_t lost = 0) {
    RunResult r;
    r.integrity.lost = lost;
    decide_status(e, r);
    return r.status;
  };
  RunEnd end;
  EXPECT_EQ(status(end), "ok");
  EXPECT_EQ(status(end, 3), "integrity-errors");
  end.server_error_lines = 1;
  EXPECT_EQ(status(end), "integrity-errors");
  end.refused = 2;
  end.refused_line = "! server full: select() cannot watch descriptor 1024 (FD_SETSIZE is 1024)";
  EXPECT_EQ(status(end, 3), "refused:FD_SETSIZE");
  end.refused_line = "! server full: out of memory, try again much later please";
  EXPECT_EQ(status(end), "refused:! server full: out of memory, try again ");  // 40 bytes
  end.fatal = "epoll_pwait2: Bad file descriptor (errno 9) and some more words";
  EXPECT_EQ(status(end), "error:epoll_pwait2: Bad file descriptor (errno");
  end.died = "the server process 12 is gone";
  EXPECT_EQ(status(end), "server-died");
  end.dropped = true;
  EXPECT_EQ(status(end), "error:dropped-by-server");
}

}  // namespace
}  // namespace mux
